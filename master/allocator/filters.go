package allocator

import (
	"container/heap"
	"math/bits"
	"slices"
	"time"

	"github.com/gomesos/gomesos/resources"
)

// Refuse filters are the allocator's largest state: in Mesos's
// DeclineOffers benchmark at 10,000 agents and 1,000 frameworks every agent
// ends holding a filter of every framework, 10 million in all. So a filter
// is a plain 16-byte value in its agent's array, with nothing for the
// garbage collector to follow: the client that declined, as its small
// number (client.idx), the refused resources, as an index into the agent's
// table of the distinct resource sets refused on it (almost always one or
// two: a declined agent has the same resources again), and the expiry in
// Unix nanoseconds. Each agent chains its filters by client through a
// parallel array of indexes (fnext), with the newest filter of each client
// at the head (fhead, by client number), so a client's filters on an agent
// are found without a search. A client keeps a bitset of the agents it has
// filters on (by agent.num), so REVIVE visits only those. Expiry is
// per agent: a heap orders the agents with filters by their earliest
// expiry, and an agent whose earliest filter is due has its array swept.

// filterVal is one refuse filter: its client is not offered the resources
// of shape, or any subset of them, on the agent holding it until expires.
type filterVal struct {
	expires int64 // Unix nanoseconds
	client  int32 // client.idx
	shape   int32 // index in agent.shapes
}

// shape is a resource set refused on an agent, shared by the filters that
// refused it.
type shape struct {
	res resources.Resources // unallocated
	q   qty                 // res's quantities, once needed
	fp  uint64              // fingerprint (see fingerprint)
	// refs counts the filters holding it, plus one while it is the agent's
	// lastShape; the slot is free when it is zero.
	refs int32
	// coverGen is the agent's generation plus one when covers was computed:
	// whether res contains everything the agent has available. A cycle
	// asks this of every framework's filter on the agent, and the answer
	// changes only with the agent's available resources.
	coverGen uint64
	covers   bool
}

// fingerprint is a cheap, order-independent digest of rs: resource sets
// with different fingerprints are never equal (sets normalized by
// resources.New, as the allocator's are), so comparing fingerprints spares
// most comparisons when an agent has many refused shapes.
func fingerprint(rs resources.Resources) uint64 {
	var sum uint64
	for i := range rs {
		r := &rs[i]
		h := uint64(14695981039346656037)
		for j := 0; j < len(r.Name); j++ {
			h = (h ^ uint64(r.Name[j])) * 1099511628211
		}
		h ^= uint64(r.Type)<<56 ^ uint64(r.Scalar)*0x9e3779b97f4a7c15
		for _, rg := range r.Ranges {
			h += rg.Begin*0x85ebca6b + rg.End*0xc2b2ae35
		}
		h += uint64(len(r.Set)) * 0x27d4eb2f165667c5
		h ^= h >> 29
		sum += h * 0xbf58476d1ce4e5b9
	}
	return sum
}

// canonical returns the shape of the agent's refused resources equal to
// res, adding one if there is none, and makes it the agent's lastShape:
// frameworks that decline an agent in turn usually decline the same
// resources, so the newest shape is compared first, and its slice is the
// one given back to the agent (see refused).
func (ag *agent) canonical(res resources.Resources) int32 {
	if ag.lastShape >= 0 {
		if s := &ag.shapes[ag.lastShape]; sameSlice(s.res, res) || s.res.Equal(res) {
			return ag.lastShape
		}
	}
	fp := fingerprint(res)
	id := int32(-1)
	for i := range ag.shapes {
		if s := &ag.shapes[i]; s.refs > 0 && s.fp == fp && s.res.Equal(res) {
			id = int32(i)
			break
		}
	}
	if id < 0 {
		id = int32(slices.IndexFunc(ag.shapes, func(s shape) bool { return s.refs == 0 }))
		if id < 0 {
			id = int32(len(ag.shapes))
			ag.shapes = append(ag.shapes, shape{})
		}
		ag.shapes[id] = shape{res: res, fp: fp}
	}
	ag.shapes[id].refs++
	if ag.lastShape >= 0 {
		ag.unref(ag.lastShape)
	}
	ag.lastShape = id
	// newestBits now marks the clients whose newest filter holds this
	// shape.
	clear(ag.newestBits)
	for w, word := range ag.refusedBits {
		for word != 0 {
			i := w<<6 | trailingZeros(word)
			word &= word - 1
			if ag.filters[ag.fhead[i]-1].shape == id {
				ag.newestBits.set(i, true)
			}
		}
	}
	return id
}

// unref drops one reference to shape id, freeing it with the last.
func (ag *agent) unref(id int32) {
	s := &ag.shapes[id]
	if s.refs--; s.refs > 0 {
		return
	}
	*s = shape{}
	n := len(ag.shapes)
	for n > 0 && ag.shapes[n-1].refs == 0 {
		n--
	}
	ag.shapes = ag.shapes[:n]
}

// lastRefused is the resources of the agent's lastShape, nil when none.
func (ag *agent) lastRefused() resources.Resources {
	if ag.lastShape < 0 {
		return nil
	}
	return ag.shapes[ag.lastShape].res
}

// head returns the index plus one of client number i's newest filter on
// the agent, 0 when it has none.
func (ag *agent) head(i int) int32 {
	if i < len(ag.fhead) {
		return ag.fhead[i]
	}
	return 0
}

// relink makes the link of client cl's chain that leads to filter index
// plus one from lead to to instead.
func (ag *agent) relink(cl int32, from, to int32) {
	if ag.fhead[cl] == from {
		ag.fhead[cl] = to
		return
	}
	for p := ag.fhead[cl]; p != 0; p = ag.fnext[p-1] {
		if ag.fnext[p-1] == from {
			ag.fnext[p-1] = to
			return
		}
	}
}

// removeFilterAt drops the filter at index i, moving the last filter into
// its place, and returns it. The caller settles the client's bookkeeping
// (see filterGone).
func (ag *agent) removeFilterAt(i int) filterVal {
	f := ag.filters[i]
	ag.relink(f.client, int32(i+1), ag.fnext[i])
	last := len(ag.filters) - 1
	if i != last {
		ag.filters[i], ag.fnext[i] = ag.filters[last], ag.fnext[last]
		ag.relink(ag.filters[i].client, int32(last+1), int32(i+1))
	}
	ag.filters, ag.fnext = ag.filters[:last], ag.fnext[:last]
	ag.unref(f.shape)
	return f
}

// addFilter installs a refuse filter for c on ag, on the resources of
// shape id.
func (a *HierarchicalDRF) addFilter(c *client, ag *agent, id int32, refuse time.Duration, now time.Time) {
	refuse = max(min(refuse, MaxRefuse), a.interval)
	expires := now.UnixNano() + int64(refuse)
	if c.idx >= len(ag.fhead) {
		ag.fhead = append(ag.fhead, make([]int32, c.idx+1-len(ag.fhead))...)
	}
	ag.filters = append(ag.filters, filterVal{expires: expires, client: int32(c.idx), shape: id})
	ag.fnext = append(ag.fnext, ag.fhead[c.idx])
	ag.fhead[c.idx] = int32(len(ag.filters))
	ag.shapes[id].refs++
	ag.refusedBits.set(c.idx, true)
	ag.newestBits.set(c.idx, id == ag.lastShape)
	c.refusedOn.set(int(ag.num), true)
	c.role.filters++
	switch {
	case ag.heapIdx < 0:
		ag.minExpiry = expires
		heap.Push(&a.expiry, ag)
	case expires < ag.minExpiry:
		ag.minExpiry = expires
		heap.Fix(&a.expiry, ag.heapIdx)
	}
}

// filterGone settles the bookkeeping after n of c's filters on ag were
// removed.
func (a *HierarchicalDRF) filterGone(c *client, ag *agent, n int) {
	c.role.filters -= n
	h := ag.head(c.idx)
	ag.refusedBits.set(c.idx, h != 0)
	ag.newestBits.set(c.idx, h != 0 && ag.filters[h-1].shape == ag.lastShape)
	if h == 0 {
		c.refusedOn.set(int(ag.num), false)
	}
	if len(ag.filters) == 0 && ag.heapIdx >= 0 {
		heap.Remove(&a.expiry, ag.heapIdx)
	}
	// Something may be offered that was refused before. (An agent whose
	// earliest filter went keeps its old minExpiry: the expiry sweep
	// corrects it when it comes due.)
	ag.blocked = false
	ag.touch()
}

// clearFilters drops every filter of c.
func (a *HierarchicalDRF) clearFilters(c *client) {
	for w, word := range c.refusedOn {
		for word != 0 {
			num := w<<6 | trailingZeros(word)
			word &= word - 1
			a.clearAgentFilters(c, a.agentByNum[num])
		}
	}
}

// clearAgentFilters drops c's filters on ag.
func (a *HierarchicalDRF) clearAgentFilters(c *client, ag *agent) {
	idxs := a.scratch[:0]
	for p := ag.head(c.idx); p != 0; p = ag.fnext[p-1] {
		idxs = append(idxs, p-1)
	}
	if len(idxs) == 0 {
		return
	}
	// From the highest index down, so that the filter moved into a freed
	// place is never one still to be removed.
	slices.Sort(idxs)
	for _, i := range slices.Backward(idxs) {
		ag.removeFilterAt(int(i))
	}
	a.scratch = idxs[:0]
	a.filterGone(c, ag, len(idxs))
}

// expireFilters drops the filters that expire at or before now.
func (a *HierarchicalDRF) expireFilters(now time.Time) {
	t := now.UnixNano()
	for len(a.expiry) > 0 && a.expiry[0].minExpiry <= t {
		ag := a.expiry[0]
		next := int64(1<<63 - 1)
		// From the end down: a filter moved into a freed place comes from
		// the end, which was already looked at.
		for i := len(ag.filters) - 1; i >= 0; i-- {
			if ag.filters[i].expires > t {
				next = min(next, ag.filters[i].expires)
				continue
			}
			f := ag.removeFilterAt(i)
			a.filterGone(a.clientByIdx[f.client], ag, 1)
		}
		if ag.heapIdx >= 0 {
			ag.minExpiry = next
			heap.Fix(&a.expiry, ag.heapIdx)
		}
	}
}

// refused reports whether a filter of c keeps offer, which would be
// offered on ag, away from c.
func (a *HierarchicalDRF) refused(c *client, ag *agent, offer resources.Resources) bool {
	if !ag.refusedBits.has(c.idx) {
		return false
	}
	if ag.newestBits.has(c.idx) && sameSlice(ag.lastRefused(), offer) {
		// Its newest filter holds exactly the offer: a declined agent
		// usually has the declined resources again, in the very slice the
		// filter's shape holds.
		return true
	}
	// An offer of everything the agent has is the same for every client,
	// so whether a shape covers it is remembered until the agent changes.
	whole := sameSlice(offer, ag.available)
	for p := ag.head(c.idx); p != 0; p = ag.fnext[p-1] {
		s := &ag.shapes[ag.filters[p-1].shape]
		switch {
		case sameSlice(s.res, offer):
			return true
		case !whole:
			if s.res.Contains(offer) {
				return true
			}
		default:
			if s.coverGen != ag.gen+1 {
				s.covers, s.coverGen = s.res.Contains(offer), ag.gen+1
			}
			if s.covers {
				return true
			}
		}
	}
	return false
}

func sameSlice(x, y resources.Resources) bool {
	return len(x) == len(y) && (len(x) == 0 || &x[0] == &y[0])
}

// agentHeap orders the agents with filters by their earliest expiry.
type agentHeap []*agent

func (h agentHeap) Len() int { return len(h) }
func (h agentHeap) Less(i, j int) bool {
	if h[i].minExpiry != h[j].minExpiry {
		return h[i].minExpiry < h[j].minExpiry
	}
	return h[i].num < h[j].num
}
func (h agentHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx = i
	h[j].heapIdx = j
}
func (h *agentHeap) Push(x any) {
	ag := x.(*agent)
	ag.heapIdx = len(*h)
	*h = append(*h, ag)
}
func (h *agentHeap) Pop() any {
	old := *h
	ag := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	ag.heapIdx = -1
	return ag
}

func trailingZeros(w uint64) int { return bits.TrailingZeros64(w) }
