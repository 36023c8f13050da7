package builtin

import (
	"bytes"
	"sync"
	"testing"
	"time"
)

// countingWriter records each write it is given.
type countingWriter struct {
	mu     sync.Mutex
	writes [][]byte
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes = append(c.writes, bytes.Clone(p))
	return len(p), nil
}

func (c *countingWriter) snapshot() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.writes...)
}

func TestDelayedWriterGathersLinesIntoOneWrite(t *testing.T) {
	var w countingWriter
	d := newDelayedWriter(&w)
	for _, line := range []string{"a\n", "b\n", "c\n"} {
		if n, err := d.Write([]byte(line)); n != len(line) || err != nil {
			t.Fatalf("Write(%q) = %d, %v", line, n, err)
		}
	}
	if got := w.snapshot(); len(got) != 0 {
		t.Fatalf("written before the delay: %q", got)
	}
	deadline := time.Now().Add(10 * time.Second)
	for len(w.snapshot()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the lines were never written")
		}
		time.Sleep(10 * time.Millisecond)
	}
	got := w.snapshot()
	if len(got) != 1 || string(got[0]) != "a\nb\nc\n" {
		t.Fatalf("writes = %q, want one write of the three lines", got)
	}
	// Lines after a flush are held and written again.
	d.Write([]byte("d\n"))
	d.Flush()
	if got := w.snapshot(); len(got) != 2 || string(got[1]) != "d\n" {
		t.Fatalf("writes after Flush = %q", got)
	}
	d.Flush() // nothing held: no empty write
	if got := w.snapshot(); len(got) != 2 {
		t.Fatalf("an empty flush wrote: %q", got)
	}
}

func TestDelayedWriterWritesAtOnceWhenFull(t *testing.T) {
	var w countingWriter
	d := newDelayedWriter(&w)
	line := bytes.Repeat([]byte("x"), 1000)
	for range 5 {
		d.Write(line)
	}
	if got := w.snapshot(); len(got) != 1 || len(got[0]) < logFlushSize {
		t.Fatalf("writes = %d, want one of at least %d bytes before the delay", len(got), logFlushSize)
	}
	d.Flush()
	total := 0
	for _, b := range w.snapshot() {
		total += len(b)
	}
	if total != 5000 {
		t.Fatalf("wrote %d bytes, want 5000", total)
	}
}
