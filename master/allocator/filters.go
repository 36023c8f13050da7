package allocator

import (
	"container/heap"
	"time"

	"github.com/gomesos/gomesos/resources"
)

// filter is a refuse filter: its client is not offered res, or any subset
// of it, on its agent until expires.
type filter struct {
	c       *client
	ag      *agent
	res     resources.Resources // unallocated
	expires int64               // Unix nanoseconds
	seq     uint64              // creation order, to break ties in the heap
	index   int                 // in HierarchicalDRF.filters
	next    *filter             // the client's next older filter on the agent
}

// refusal is what an agent keeps about one client's filters on it. The
// cycle asks "is this client refused here?" once per agent and client, so
// the answer lives with the agent: one small map per agent stays in cache
// while the agent is examined. It remembers its last answer: while the
// agent's available resources and the framework's capabilities are
// unchanged, what would be offered is the same, and so is the answer.
type refusal struct {
	newest *filter             // the filters, newest first, linked by next
	res    resources.Resources // newest.res, kept here to spare a lookup
	gen    uint64              // agent generation of the memo
	fwGen  uint64              // framework generation of the memo
	valid  bool
	covers bool
}

func refusalOf(newest *filter) refusal {
	if newest == nil {
		return refusal{}
	}
	return refusal{newest: newest, res: newest.res}
}

// filterHeap orders filters by expiry.
type filterHeap []*filter

func (h filterHeap) Len() int { return len(h) }
func (h filterHeap) Less(i, j int) bool {
	if h[i].expires != h[j].expires {
		return h[i].expires < h[j].expires
	}
	return h[i].seq < h[j].seq
}
func (h filterHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *filterHeap) Push(x any) {
	f := x.(*filter)
	f.index = len(*h)
	*h = append(*h, f)
}
func (h *filterHeap) Pop() any {
	old := *h
	f := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	f.index = -1
	return f
}

// addFilter installs a refuse filter for c on ag.
func (a *HierarchicalDRF) addFilter(c *client, ag *agent, res resources.Resources, refuse time.Duration, now time.Time) {
	refuse = max(min(refuse, MaxRefuse), a.interval)
	a.seq++
	rf := ag.refusals[c]
	f := &filter{
		c: c, ag: ag, res: ag.canonical(res),
		expires: now.UnixNano() + int64(refuse), seq: a.seq,
		next: rf.newest,
	}
	heap.Push(&a.filters, f)
	ag.refusals[c] = refusalOf(f)
	ag.noteRefusal(c)
	c.refusedOn[ag] = struct{}{}
	c.role.filters++
}

// removeFilter drops one filter.
func (a *HierarchicalDRF) removeFilter(f *filter) {
	heap.Remove(&a.filters, f.index)
	c, ag := f.c, f.ag
	rf := ag.refusals[c]
	if rf.newest == f {
		rf.newest = f.next
	} else {
		for p := rf.newest; p != nil; p = p.next {
			if p.next == f {
				p.next = f.next
				break
			}
		}
	}
	f.next = nil
	if rf.newest == nil {
		delete(ag.refusals, c)
		delete(c.refusedOn, ag)
	} else {
		ag.refusals[c] = refusalOf(rf.newest)
	}
	ag.noteRefusal(c)
	c.role.filters--
	ag.blocked = false
}

// clearFilters drops every filter of c.
func (a *HierarchicalDRF) clearFilters(c *client) {
	for ag := range c.refusedOn {
		a.clearAgentFilters(c, ag)
	}
}

// clearAgentFilters drops c's filters on ag.
func (a *HierarchicalDRF) clearAgentFilters(c *client, ag *agent) {
	rf, ok := ag.refusals[c]
	if !ok {
		return
	}
	for f := rf.newest; f != nil; {
		next := f.next
		heap.Remove(&a.filters, f.index)
		c.role.filters--
		f.next = nil
		f = next
	}
	delete(ag.refusals, c)
	delete(c.refusedOn, ag)
	ag.noteRefusal(c)
	ag.blocked = false
}

// expireFilters drops the filters that expire at or before now.
func (a *HierarchicalDRF) expireFilters(now time.Time) {
	t := now.UnixNano()
	for len(a.filters) > 0 && a.filters[0].expires <= t {
		a.removeFilter(a.filters[0])
	}
}

// refused reports whether a filter of c keeps offer, which would be
// offered on ag, away from c.
func (a *HierarchicalDRF) refused(c *client, ag *agent, offer resources.Resources) bool {
	if !ag.refusedBits.has(c.idx) {
		return false
	}
	if ag.newestBits.has(c.idx) && sameSlice(ag.lastRefused, offer) {
		return true // its newest filter holds exactly the offer
	}
	rf, ok := ag.refusals[c]
	switch {
	case !ok:
		return false
	case sameSlice(rf.res, offer):
		// A declined agent usually has exactly the declined resources
		// again, in the very slice the filter holds (see canonical).
		return true
	case rf.valid && rf.gen == ag.gen && rf.fwGen == c.fw.gen:
		return rf.covers
	}
	covers := false
	for f := rf.newest; f != nil && !covers; f = f.next {
		covers = f.res.Contains(offer)
	}
	rf.gen, rf.fwGen, rf.valid, rf.covers = ag.gen, c.fw.gen, true, covers
	ag.refusals[c] = rf
	return covers
}

func sameSlice(x, y resources.Resources) bool {
	return len(x) == len(y) && (len(x) == 0 || &x[0] == &y[0])
}
