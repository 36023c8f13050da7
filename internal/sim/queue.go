package sim

import "time"

// event is something that happens at a virtual time: a message delivered,
// a timer fired, a fault injected. Events at the same time run in the order
// they were scheduled (seq).
type event struct {
	at  time.Duration // since the start of the run
	seq uint64
	fn  func()
}

func (e *event) before(o *event) bool {
	if e.at != o.at {
		return e.at < o.at
	}
	return e.seq < o.seq
}

// eventQueue is a binary min-heap of events on (at, seq).
type eventQueue []event

func (q *eventQueue) push(e event) {
	*q = append(*q, e)
	h := *q
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h[i].before(&h[p]) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (q *eventQueue) pop() event {
	h := *q
	top := h[0]
	n := len(h) - 1
	h[0] = h[n]
	h[n] = event{}
	h = h[:n]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && h[l].before(&h[m]) {
			m = l
		}
		if r < n && h[r].before(&h[m]) {
			m = r
		}
		if m == i {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	*q = h
	return top
}

// link is one direction of a connection. Deliveries on it keep the order
// they were sent in: a message never overtakes an earlier one, so a
// delayed message holds back those behind it, as on a TCP stream.
type link struct{ last time.Duration }

// arrival returns when a message sent now with the given latency arrives.
func (l *link) arrival(now, latency time.Duration) time.Duration {
	at := max(now+latency, l.last)
	l.last = at
	return at
}
