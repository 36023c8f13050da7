package builtin

import (
	"io"
	"sync"
	"time"
)

// logFlushDelay is how long a hosted executor's log lines may wait before
// they are written to its sandbox's stderr.
const logFlushDelay = 250 * time.Millisecond

// logFlushSize is how many bytes of log lines are written at once, whatever
// the delay.
const logFlushSize = 4 << 10

// delayedWriter gathers the log lines of a hosted executor and writes them
// to its sandbox's stderr together, at most logFlushDelay after the first
// of them, rather than one write each: a task's launch logs half a dozen
// lines (its events, its start, its updates) within a few milliseconds,
// and on a loaded host each write to a file of the sandbox cost more than
// the line's formatting. Flush writes what is held: the executor calls it
// before its task starts, so that what it logged until then comes before
// the task's output, and at its end, before its files close. A line logged
// while the task runs may reach the file after output the task wrote to the
// same file later, by at most the delay.
type delayedWriter struct {
	mu    sync.Mutex
	w     io.Writer
	buf   []byte
	timer *time.Timer
	armed bool
}

func newDelayedWriter(w io.Writer) *delayedWriter { return &delayedWriter{w: w} }

// Write holds p (a whole log line from slog) for the next flush. Errors of
// the file are not the logger's to report; they are dropped, as slog would
// drop them.
func (d *delayedWriter) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.buf = append(d.buf, p...)
	if len(d.buf) >= logFlushSize {
		d.flushLocked()
		return len(p), nil
	}
	if !d.armed {
		d.armed = true
		if d.timer == nil {
			d.timer = time.AfterFunc(logFlushDelay, d.Flush)
		} else {
			d.timer.Reset(logFlushDelay)
		}
	}
	return len(p), nil
}

// Flush writes what is held now.
func (d *delayedWriter) Flush() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.flushLocked()
}

func (d *delayedWriter) flushLocked() {
	if d.armed {
		d.timer.Stop()
		d.armed = false
	}
	if len(d.buf) == 0 {
		return
	}
	_, _ = d.w.Write(d.buf)
	d.buf = d.buf[:0]
	if cap(d.buf) > logFlushSize {
		d.buf = nil
	}
}
