package master

import (
	"context"
	"sync"
	"time"

	"github.com/gomesos/gomesos/codec"
)

// The one policy for a consumer that falls behind. Every framework event
// stream and every agent connection has a sink: a queue of encoded records
// between the loop, which pushes without ever waiting, and the HTTP handler
// that writes them to the response. The queue is bounded by records and by
// bytes (what the handler has taken but not yet written counts too). A push
// that would go past either bound means the consumer is not keeping up: the
// master logs why, drops the queue, makes a write blocked on the consumer
// fail, and tells the core that the stream or connection went away, exactly
// as if the client had closed it. The framework resubscribes (its offers are
// rescinded and their resources recovered meanwhile); the agent re-registers
// and resends what was not acknowledged.

// Default bounds of a sink.
const (
	DefaultStreamQueueRecords = 10000
	DefaultStreamQueueBytes   = 64 << 20
)

// closeGrace is how long the writer of a stream the master closed has to
// write what was queued before it: a client that does not read it in that
// time is cut off.
const closeGrace = 5 * time.Second

// sink is the bounded queue of encoded records of one streaming response.
type sink struct {
	enc        codec.Encoding
	maxRecords int
	maxBytes   int

	// Owned by the loop: who the consumer is, for the log.
	kind, id string

	mu     sync.Mutex
	queue  [][]byte
	queued int // bytes in queue
	// taken by the writer and not yet written
	inflightRecords, inflightBytes int
	peakRecords, peakBytes         int
	closed                         bool // no more records: the master closed it
	dropped                        bool // closed because the consumer fell behind
	abort                          func(deadline time.Time)
	notify                         chan struct{}
}

func newSink(enc codec.Encoding, maxRecords, maxBytes int) *sink {
	return &sink{enc: enc, maxRecords: maxRecords, maxBytes: maxBytes, notify: make(chan struct{}, 1)}
}

// push queues a record. It reports false, queuing nothing, when the record
// would take the queue past one of its bounds. A record bigger than the byte
// bound on its own is taken when nothing else waits, so that one large event
// (offers from a big cluster) does not cost a consumer that keeps up.
func (s *sink) push(b []byte) bool {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return true
	}
	records := len(s.queue) + s.inflightRecords
	bytes := s.queued + s.inflightBytes
	if records+1 > s.maxRecords || (records > 0 && bytes+len(b) > s.maxBytes) {
		s.mu.Unlock()
		return false
	}
	s.queue = append(s.queue, b)
	s.queued += len(b)
	s.peakRecords = max(s.peakRecords, records+1)
	s.peakBytes = max(s.peakBytes, bytes+len(b))
	s.mu.Unlock()
	s.wake()
	return true
}

// close ends the stream after the records already queued, which the
// client has closeGrace to read.
func (s *sink) close() {
	s.mu.Lock()
	s.closed = true
	if s.abort != nil {
		s.abort(time.Now().Add(closeGrace))
	}
	s.mu.Unlock()
	s.wake()
}

// drop ends the stream now: the queue is discarded and a write blocked on
// the consumer fails.
func (s *sink) drop() {
	s.mu.Lock()
	s.closed, s.dropped = true, true
	s.queue, s.queued = nil, 0
	if s.abort != nil {
		s.abort(time.Now())
	}
	s.mu.Unlock()
	s.wake()
}

// setAbort installs what close and drop call (under the sink's lock, so
// quickly) to bound the writer's writes by a deadline; if the sink is
// closed already, it applies at once. setAbort(nil) uninstalls it: once it
// returns, no deadline is set any more.
func (s *sink) setAbort(abort func(deadline time.Time)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.abort = abort
	switch {
	case abort == nil:
	case s.dropped:
		abort(time.Now())
	case s.closed:
		abort(time.Now().Add(closeGrace))
	}
}

func (s *sink) wake() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// next hands the writer the queued records, waiting for some; they count
// against the bounds until written is called. ok is false once the sink is
// closed and drained (at once when dropped), or ctx is done.
func (s *sink) next(ctx context.Context) (records [][]byte, ok bool) {
	for {
		s.mu.Lock()
		records, s.queue = s.queue, nil
		s.inflightRecords, s.inflightBytes = len(records), s.queued
		s.queued = 0
		closed, dropped := s.closed, s.dropped
		s.mu.Unlock()
		if dropped {
			return nil, false
		}
		if len(records) > 0 {
			return records, true
		}
		if closed {
			return nil, false
		}
		select {
		case <-s.notify:
		case <-ctx.Done():
			return nil, false
		}
	}
}

// pending reports whether records wait to be handed out.
func (s *sink) pending() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue) > 0
}

// written reports that the records next handed out are written.
func (s *sink) written() {
	s.mu.Lock()
	s.inflightRecords, s.inflightBytes = 0, 0
	s.mu.Unlock()
}

// closedByMaster reports whether the master ended the stream (rather than
// the consumer).
func (s *sink) closedByMaster() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// queueStats is what waits in a sink, and the most that ever did.
type queueStats struct {
	Records, Bytes         int
	PeakRecords, PeakBytes int
}

func (s *sink) stats() queueStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return queueStats{
		Records: len(s.queue) + s.inflightRecords, Bytes: s.queued + s.inflightBytes,
		PeakRecords: s.peakRecords, PeakBytes: s.peakBytes,
	}
}
