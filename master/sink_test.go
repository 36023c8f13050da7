package master

import (
	"context"
	"testing"
	"time"

	"github.com/gomesos/gomesos/codec"
)

// A sink takes records up to its bounds, counting what the writer has
// taken but not yet written, and refuses the record that would go past
// either bound.
func TestSinkBounds(t *testing.T) {
	rec := make([]byte, 100)
	s := newSink(codec.JSON, 3, 250)
	for i := range 2 {
		if !s.push(rec) {
			t.Fatalf("push %d refused below the bounds", i+1)
		}
	}
	if s.push(rec) {
		t.Fatalf("a third record of 100 bytes was taken beyond the 250-byte bound")
	}
	// The writer takes them; until written they still count.
	records, ok := s.next(context.Background())
	if !ok || len(records) != 2 {
		t.Fatalf("next = %d records, %v; want 2", len(records), ok)
	}
	if st := s.stats(); st.Records != 2 || st.Bytes != 200 {
		t.Fatalf("stats while writing = %+v, want 2 records, 200 bytes", st)
	}
	if s.push(rec) {
		t.Fatalf("a record was taken while the unwritten ones fill the bound")
	}
	s.written()
	for i := range 2 {
		if !s.push(make([]byte, 10)) {
			t.Fatalf("small push %d refused after the writer caught up", i+1)
		}
	}
	if !s.push(make([]byte, 10)) || s.push(make([]byte, 10)) {
		t.Fatalf("the record bound of 3 does not hold")
	}
	if st := s.stats(); st.PeakRecords != 3 || st.PeakBytes != 200 {
		t.Fatalf("peaks = %+v, want 3 records and 200 bytes", st)
	}
}

// A record bigger than the byte bound is taken when nothing else waits,
// and refused when something does.
func TestSinkTakesOneOversizedRecord(t *testing.T) {
	s := newSink(codec.JSON, 10, 100)
	if !s.push(make([]byte, 1000)) {
		t.Fatalf("an oversized record was refused by an empty queue")
	}
	if s.push(make([]byte, 1)) {
		t.Fatalf("a record was taken behind an oversized one")
	}
	s2 := newSink(codec.JSON, 10, 100)
	s2.push(make([]byte, 1))
	if s2.push(make([]byte, 1000)) {
		t.Fatalf("an oversized record was taken by a queue that is not empty")
	}
}

// Dropping a sink discards its queue, ends the writer's next at once and
// makes its blocked write fail now; closing it lets the writer drain what
// was queued, within closeGrace.
func TestSinkDropAndClose(t *testing.T) {
	var deadline time.Time
	s := newSink(codec.JSON, 10, 1000)
	s.setAbort(func(d time.Time) { deadline = d })
	s.push([]byte("a"))
	s.drop()
	if deadline.IsZero() || time.Until(deadline) > 0 {
		t.Fatalf("drop set the write deadline %v, want now", deadline)
	}
	if records, ok := s.next(context.Background()); ok || len(records) != 0 {
		t.Fatalf("next after drop = %q, %v; want nothing", records, ok)
	}
	if !s.closedByMaster() {
		t.Fatalf("a dropped sink is not closed by the master")
	}

	deadline = time.Time{}
	s = newSink(codec.JSON, 10, 1000)
	s.setAbort(func(d time.Time) { deadline = d })
	s.push([]byte("a"))
	s.close()
	if d := time.Until(deadline); d <= 0 || d > closeGrace {
		t.Fatalf("close set the write deadline %v from now, want within %v", d, closeGrace)
	}
	if records, ok := s.next(context.Background()); !ok || len(records) != 1 {
		t.Fatalf("next after close = %q, %v; want the queued record", records, ok)
	}
	s.written()
	if _, ok := s.next(context.Background()); ok {
		t.Fatalf("next after the drain of a closed sink is ok")
	}
	s.setAbort(nil)
	s.close() // no abort installed: nothing to call

	// A sink dropped before its writer starts cuts the writer off at once.
	s = newSink(codec.JSON, 10, 1000)
	s.drop()
	deadline = time.Time{}
	s.setAbort(func(d time.Time) { deadline = d })
	if deadline.IsZero() {
		t.Fatalf("setAbort on a dropped sink set no deadline")
	}
}
