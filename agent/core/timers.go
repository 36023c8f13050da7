package core

import "time"

// timer is one deadline in a timerHeap: a key is due at at.
type timer[K comparable] struct {
	at  time.Time
	key K
}

// timerHeap is a min-heap of deadlines, earliest first, so that finding
// the next deadline and the due ones costs work in proportion to what was
// scheduled, not to every executor and task stream the agent holds.
//
// Removal is lazy: whoever owns the keys reschedules by pushing again and
// never takes an entry out; an entry is stale when valid says the key's
// current deadline is no longer the entry's (it was rescheduled, or the
// key's timer was cancelled or its owner is gone). Stale entries are
// dropped when they reach the top. Each entry is pushed once and popped
// once, so a deadline costs O(log n) over its life.
type timerHeap[K comparable] struct {
	h []timer[K]
}

// push schedules key at at.
func (t *timerHeap[K]) push(at time.Time, key K) {
	t.h = append(t.h, timer[K]{at, key})
	i := len(t.h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !t.h[i].at.Before(t.h[p].at) {
			break
		}
		t.h[i], t.h[p] = t.h[p], t.h[i]
		i = p
	}
}

// pop removes the earliest entry.
func (t *timerHeap[K]) pop() timer[K] {
	top := t.h[0]
	n := len(t.h) - 1
	t.h[0] = t.h[n]
	t.h[n] = timer[K]{}
	t.h = t.h[:n]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && t.h[l].at.Before(t.h[m].at) {
			m = l
		}
		if r < n && t.h[r].at.Before(t.h[m].at) {
			m = r
		}
		if m == i {
			break
		}
		t.h[i], t.h[m] = t.h[m], t.h[i]
		i = m
	}
	return top
}

// next is the earliest valid deadline, or zero; stale entries on top are
// dropped on the way.
func (t *timerHeap[K]) next(valid func(timer[K]) bool) time.Time {
	for len(t.h) > 0 {
		if valid(t.h[0]) {
			return t.h[0].at
		}
		t.pop()
	}
	return time.Time{}
}

// due pops every entry due at now and returns the keys of the valid ones,
// each once, in deadline order.
func (t *timerHeap[K]) due(now time.Time, valid func(timer[K]) bool) []K {
	var out []K
	var seen map[K]bool
	for len(t.h) > 0 && !now.Before(t.h[0].at) {
		e := t.pop()
		if !valid(e) {
			continue
		}
		if seen == nil {
			seen = make(map[K]bool)
		}
		if !seen[e.key] {
			seen[e.key] = true
			out = append(out, e.key)
		}
	}
	return out
}

// clear drops every entry.
func (t *timerHeap[K]) clear() {
	clear(t.h)
	t.h = t.h[:0]
}

// len is the number of entries, stale ones included.
func (t *timerHeap[K]) len() int { return len(t.h) }
