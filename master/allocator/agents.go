package allocator

import (
	"slices"
	"strings"

	"github.com/gomesos/gomesos/resources"
)

type agent struct {
	id     string
	info   Agent
	total  resources.Resources // unallocated
	totalQ qty
	// available is total minus everything allocated or held for frameworks
	// not yet added.
	available resources.Resources
	availQ    qty
	// gen changes whenever available changes; filter shapes memoize
	// whether they cover the available resources against it.
	gen uint64
	// special is set when the agent has reserved, revocable or shared
	// resources: what may be offered then depends on the role and on the
	// framework's capabilities, which the cycle's fast path skips.
	special bool
	// hasShared is set when the total holds shared resources (see
	// shared.go): they are never in available, and whoever holds a copy
	// does not take them from anyone else.
	hasShared bool
	// sharedRun and sharedOut record the shared resources handed out in
	// allocation run sharedRun, so that a cycle offers each at most once.
	sharedRun uint64
	sharedOut resources.Resources
	hasGPU    bool
	active    bool

	// blocked records that the last cycle visiting the agent found no
	// framework that would take anything, at agent generation blockedGen
	// and eligibility epoch blockedEpoch (see Allocate).
	blocked      bool
	blockedGen   uint64
	blockedEpoch uint64
	// touched says the agent is in HierarchicalDRF.touched: it changed
	// since the last cycle began (see touch).
	touched bool
	removed bool
	drf     *HierarchicalDRF
	// Refuse filters on the agent (see filters.go): plain values, chained
	// by client through fnext (index plus one of the client's next older
	// filter, 0 at the end) from fhead (by client.idx, index plus one of its
	// newest filter, 0 when none).
	filters []filterVal
	fnext   []int32
	fhead   []int32
	// shapes are the distinct resource sets refused on the agent; lastShape
	// (-1 when none) is the newest, whose slice is given back to the agent
	// when it is declined again (see canonical).
	shapes    []shape
	lastShape int32
	// refusedBits has bit client.idx set when the client has filters on
	// the agent, and newestBits when, in addition, its newest filter holds
	// lastShape. They answer the cycle's "is this framework refused here?"
	// without further lookups in the two common cases: no filter, and a
	// filter on exactly what the agent has again.
	refusedBits, newestBits bitset
	// minExpiry is no later than the earliest expiry of its filters, and
	// heapIdx its place in HierarchicalDRF.expiry (-1 when it has none).
	minExpiry int64
	heapIdx   int

	// alloc holds what each framework role holds on the agent
	// (unallocated), in no order: a handful at most, so a short slice
	// searched by client beats a map, which the cycle would look up and
	// update for every allocation.
	alloc []holding
	// lastAlloc is the agent's last allocation, so that its recovery is
	// recognized by the slice (see RecoverResources); offered is the
	// allocated copy of the last resources offered in a role, handed out
	// again while the agent offers the same resources in the same role.
	lastAlloc lastAlloc
	offered   offered
	// revExcess is how much of the revocable resources held exceeds the
	// agent's latest estimate: given back, it leaves the total instead of
	// becoming available (see revocable.go).
	revExcess resources.Resources
	// pending holds usage of frameworks not yet added, with allocation
	// roles, by framework ID.
	pending map[string]resources.Resources
	pos     int   // index in HierarchicalDRF.agentList
	num     int32 // stable small number, for the clients' refusedOn bitsets
}

func (ag *agent) take(res resources.Resources, q qty) {
	if ag.hasShared {
		res, q = ag.drf.takeShared(ag, res, q)
	}
	ag.available = ag.available.Subtract(res)
	ag.availQ.sub(q)
	ag.gen++
	ag.touch()
}

// touch records that the agent changed in a way that may let a framework
// take something from it: the next cycle examines it even when no
// framework became newly eligible (see Allocate).
func (ag *agent) touch() {
	if !ag.touched {
		ag.touched = true
		ag.drf.touched = append(ag.drf.touched, ag)
	}
}

// takeAll empties the available resources.
func (ag *agent) takeAll() {
	ag.available = nil
	clear(ag.availQ)
	ag.gen++
	ag.touch()
}

// holding is what client c holds on an agent.
type holding struct {
	c   *client
	res resources.Resources
}

// allocOf returns what c holds on ag, and its index in ag.alloc (-1 when
// nothing).
func (ag *agent) allocOf(c *client) (resources.Resources, int) {
	for i := range ag.alloc {
		if ag.alloc[i].c == c {
			return ag.alloc[i].res, i
		}
	}
	return nil, -1
}

// holdsWhole reports whether c holds exactly the slice res on ag.
func (ag *agent) holdsWhole(c *client, res resources.Resources) bool {
	cur, i := ag.allocOf(c)
	return i >= 0 && sameSlice(cur, res)
}

// dropAlloc removes the holding at index i.
func (ag *agent) dropAlloc(i int) {
	last := len(ag.alloc) - 1
	ag.alloc[i] = ag.alloc[last]
	ag.alloc[last] = holding{}
	ag.alloc = ag.alloc[:last]
}

type lastAlloc struct {
	c   *client
	out resources.Resources // as handed out, with the allocation role
	un  resources.Resources // unallocated, as charged to c
}

type offered struct {
	from resources.Resources
	role string
	out  resources.Resources
}

// allocatedTo returns res (unallocated, what the agent offers) allocated to
// role. Resources values are never modified in place, so an agent offering
// the very same slice in the same role again (after a decline, it has the
// declined resources back) hands out the same copy.
func (ag *agent) allocatedTo(res resources.Resources, role string) resources.Resources {
	if o := &ag.offered; sameSlice(o.from, res) && o.role == role && len(res) > 0 {
		return o.out
	}
	out := res.AllocatedTo(role)
	ag.offered = offered{from: res, role: role, out: out}
	return out
}

// bitset is a set of small integers.
type bitset []uint64

func (b bitset) has(i int) bool {
	w := i >> 6
	return w < len(b) && b[w]&(1<<(uint(i)&63)) != 0
}

func (b *bitset) set(i int, on bool) {
	w := i >> 6
	if w >= len(*b) {
		if !on {
			return
		}
		*b = append(*b, make(bitset, w+1-len(*b))...)
	}
	if on {
		(*b)[w] |= 1 << (uint(i) & 63)
	} else {
		(*b)[w] &^= 1 << (uint(i) & 63)
	}
}

func (ag *agent) give(res resources.Resources, q qty) {
	if len(ag.revExcess) > 0 {
		res, q = ag.dropExcess(res, q)
	}
	if ag.hasShared {
		if res, q = ag.drf.withoutShared(res, q); len(res) == 0 {
			return
		}
	}
	if len(ag.available) == 0 {
		// Resources values are never modified in place, so the agent can
		// hold res itself; a filter holding the same slice then recognizes
		// it without comparing (see refused).
		ag.available = res
	} else {
		ag.available = ag.available.Add(res)
	}
	if !sameSlice(ag.offered.from, ag.available) {
		// What the agent offered last is not what it has now (its
		// tasks' resources coming back, say): the allocated copy kept to
		// offer it again would most likely never be used.
		ag.offered = offered{}
	}
	ag.availQ.add(q)
	ag.gen++
	ag.touch()
}

// agentsOf returns the agents where c holds resources, by ID.
func (a *HierarchicalDRF) agentsOf(c *client) []*agent {
	out := make([]*agent, 0, c.nAgents)
	for w, word := range c.holdsOn {
		for word != 0 {
			num := w<<6 | trailingZeros(word)
			word &= word - 1
			out = append(out, a.agentByNum[num])
		}
	}
	slices.SortFunc(out, func(x, y *agent) int { return strings.Compare(x.id, y.id) })
	return out
}

func sortedAgents(set map[*agent]struct{}) []*agent {
	out := make([]*agent, 0, len(set))
	for ag := range set {
		out = append(out, ag)
	}
	slices.SortFunc(out, func(x, y *agent) int { return strings.Compare(x.id, y.id) })
	return out
}

// AddAgent implements Allocator.
func (a *HierarchicalDRF) AddAgent(id string, info Agent, total resources.Resources, used map[string]resources.Resources) {
	if _, ok := a.agents[id]; ok {
		return
	}
	total = resources.New(total...)
	for i := range total {
		if total[i].AllocationRole != "" {
			// Else total is unallocated already, and its own copy.
			total = total.Unallocated()
			break
		}
	}
	ag := &agent{
		id:        id,
		info:      info,
		total:     total,
		totalQ:    a.toQty(total),
		available: total,
		active:    true,
		pending:   map[string]resources.Resources{},
		pos:       len(a.agentList),
		num:       a.newAgentNum(),
		lastShape: -1,
		heapIdx:   -1,
		drf:       a,
	}
	ag.touch()
	a.agentByNum[ag.num] = ag
	ag.availQ = slices.Clone(ag.totalQ)
	for i := range total {
		r := &total[i]
		if r.IsReserved() || r.Revocable || r.Shared {
			ag.special = true
		}
		ag.hasShared = ag.hasShared || r.Shared
	}
	if ag.hasShared {
		// Shared resources are never available (see shared.go).
		ag.available = total.NonShared()
		ag.availQ = a.toQty(ag.available)
	}
	ag.hasGPU = total.GPUs() > 0
	a.agents[id] = ag
	a.agentList = append(a.agentList, ag)
	a.totalQ.add(ag.totalQ)
	a.sharesStale = true

	for _, fwID := range sortedKeys(used) {
		res := resources.New(used[fwID]...)
		if res.IsEmpty() {
			continue
		}
		if fw := a.frameworks[fwID]; fw != nil {
			a.chargeUsed(fw, ag, res)
			continue
		}
		un := res.Unallocated()
		if !ag.canHold(un) {
			a.rejected++
			continue
		}
		ag.take(un, a.toQty(un))
		ag.pending[fwID] = ag.pending[fwID].Add(res)
		if a.pending[fwID] == nil {
			a.pending[fwID] = map[*agent]struct{}{}
		}
		a.pending[fwID][ag] = struct{}{}
	}
}

// RemoveAgent implements Allocator.
func (a *HierarchicalDRF) RemoveAgent(id string) {
	ag := a.agents[id]
	if ag == nil {
		return
	}
	holders := make([]*client, 0, len(ag.alloc))
	for _, h := range ag.alloc {
		holders = append(holders, h.c)
	}
	slices.SortFunc(holders, func(x, y *client) int {
		if c := strings.Compare(x.fw.id, y.fw.id); c != 0 {
			return c
		}
		return strings.Compare(x.role.path, y.role.path)
	})
	for _, c := range holders {
		res, _ := ag.allocOf(c)
		a.uncharge(c, ag, res, a.toQty(res), false)
	}
	for _, fwID := range sortedKeys(ag.pending) {
		delete(a.pending[fwID], ag)
		if len(a.pending[fwID]) == 0 {
			delete(a.pending, fwID)
		}
	}
	for w, word := range ag.refusedBits {
		for word != 0 {
			i := w<<6 | trailingZeros(word)
			word &= word - 1
			a.clearAgentFilters(a.clientByIdx[i], ag)
		}
	}
	a.agentByNum[ag.num] = nil
	a.freeAgentNums = append(a.freeAgentNums, ag.num)
	ag.removed = true
	for _, c := range holders {
		a.maybeDropClient(c)
	}

	a.totalQ.sub(ag.totalQ)
	a.sharesStale = true
	last := a.agentList[len(a.agentList)-1]
	a.agentList[ag.pos] = last
	last.pos = ag.pos
	a.agentList[len(a.agentList)-1] = nil
	a.agentList = a.agentList[:len(a.agentList)-1]
	delete(a.agents, id)
}

// newAgentNum returns a free agent number, growing agentByNum if needed.
func (a *HierarchicalDRF) newAgentNum() int32 {
	if n := len(a.freeAgentNums); n > 0 {
		num := a.freeAgentNums[n-1]
		a.freeAgentNums = a.freeAgentNums[:n-1]
		return num
	}
	a.agentByNum = append(a.agentByNum, nil)
	return int32(len(a.agentByNum) - 1)
}

// ActivateAgent implements Allocator.
func (a *HierarchicalDRF) ActivateAgent(id string) {
	if ag := a.agents[id]; ag != nil {
		ag.active = true
		ag.touch()
	}
}

// DeactivateAgent implements Allocator.
func (a *HierarchicalDRF) DeactivateAgent(id string) {
	if ag := a.agents[id]; ag != nil {
		ag.active = false
	}
}

// stripIncapable removes the resources a framework may not be offered.
func stripIncapable(res resources.Resources, caps Capabilities) resources.Resources {
	return res.Filter(func(r *resources.Resource) bool {
		switch {
		case r.Revocable && !caps.RevocableResources:
			return false
		case r.Shared && !caps.SharedResources:
			return false
		case len(r.Reservations) > 1 && !caps.ReservationRefinement:
			return false
		}
		return true
	})
}
