package allocator

import (
	"fmt"
	"math/bits"
	"slices"
)

// CheckInvariants verifies the allocator's bookkeeping and returns the first
// inconsistency found: on every agent, available plus everything allocated
// or held equals the total and nothing is negative; every role's and
// framework's sums match the agents; the offer order structures and filter
// indexes agree. It is meant for tests and simulations (it walks all state).
func (a *HierarchicalDRF) CheckInvariants() error {
	var totalQ qty
	for i, ag := range a.agentList {
		if ag.pos != i || a.agents[ag.id] != ag {
			return fmt.Errorf("agent %s: misplaced in the agent list", ag.id)
		}
		sum := ag.available
		for i, h := range ag.alloc {
			c, res := h.c, h.res
			if res.IsEmpty() {
				return fmt.Errorf("agent %s: empty allocation kept for %s", ag.id, c.fw.id)
			}
			if _, j := ag.allocOf(c); j != i {
				return fmt.Errorf("agent %s: two holdings of %s in %s", ag.id, c.fw.id, c.role.path)
			}
			if !c.holdsOn.has(int(ag.num)) {
				return fmt.Errorf("agent %s: allocation of %s in %s not indexed", ag.id, c.fw.id, c.role.path)
			}
			sum = sum.Add(res)
		}
		for fwID, res := range ag.pending {
			if _, ok := a.pending[fwID][ag]; !ok {
				return fmt.Errorf("agent %s: held usage of %s not indexed", ag.id, fwID)
			}
			sum = sum.Add(res.Unallocated())
		}
		if err := a.checkAgentFilters(ag); err != nil {
			return fmt.Errorf("agent %s: %w", ag.id, err)
		}
		if ag.hasShared {
			if err := checkShared(ag, sum); err != nil {
				return fmt.Errorf("agent %s: %w", ag.id, err)
			}
		} else if !sum.Equal(ag.total) {
			return fmt.Errorf("agent %s: available %v + allocated = %v, want total %v", ag.id, ag.available, sum, ag.total)
		}
		if has := len(ag.total.Shared()) > 0; has != ag.hasShared {
			return fmt.Errorf("agent %s: marked as having shared resources %v, total %v", ag.id, ag.hasShared, ag.total)
		}
		if !slices.Equal(trim(ag.availQ), trim(a.toQty(ag.available))) {
			return fmt.Errorf("agent %s: available quantities %v, want %v", ag.id, ag.availQ, a.toQty(ag.available))
		}
		if err := nonNegative(ag.availQ); err != nil {
			return fmt.Errorf("agent %s: available %w", ag.id, err)
		}
		totalQ.add(ag.totalQ)
	}
	if len(a.agentList) != len(a.agents) {
		return fmt.Errorf("%d agents listed, %d known", len(a.agentList), len(a.agents))
	}
	if !slices.Equal(trim(totalQ), trim(a.totalQ)) {
		return fmt.Errorf("cluster total %v, want %v", a.totalQ, totalQ)
	}
	for fwID, held := range a.pending {
		if a.frameworks[fwID] != nil {
			return fmt.Errorf("usage held for framework %s, which is known", fwID)
		}
		for ag := range held {
			if _, ok := ag.pending[fwID]; !ok || a.agents[ag.id] != ag {
				return fmt.Errorf("held usage of %s on agent %s indexed but missing", fwID, ag.id)
			}
		}
	}

	filters := 0
	idxs := map[int]bool{}
	for fwID, fw := range a.frameworks {
		for path, c := range fw.clients {
			if c.fw != fw || c.role.path != path || c.role.clients[fwID] != c || a.roles[path] != c.role {
				return fmt.Errorf("framework %s role %s: badly linked", fwID, path)
			}
			if idxs[c.idx] || c.idx >= a.nextIdx || slices.Contains(a.freeIdx, c.idx) {
				return fmt.Errorf("framework %s role %s: number %d taken twice or free", fwID, path, c.idx)
			}
			idxs[c.idx] = true
			var sum qty
			n := 0
			for w, word := range c.holdsOn {
				for word != 0 {
					num := w<<6 | bits.TrailingZeros64(word)
					word &= word - 1
					n++
					ag := a.agentByNum[num]
					if ag == nil {
						return fmt.Errorf("framework %s role %s: indexed on a removed agent number %d", fwID, path, num)
					}
					res, i := ag.allocOf(c)
					if i < 0 || a.agents[ag.id] != ag {
						return fmt.Errorf("framework %s role %s: indexed on agent %s without allocation", fwID, path, ag.id)
					}
					sum.add(a.toQty(res))
				}
			}
			if n != c.nAgents {
				return fmt.Errorf("framework %s role %s: holds on %d agents, counted %d", fwID, path, n, c.nAgents)
			}
			if !slices.Equal(trim(sum), trim(c.alloc)) {
				return fmt.Errorf("framework %s role %s: allocation %v, want %v", fwID, path, c.alloc, sum)
			}
			if err := nonNegative(c.alloc); err != nil {
				return fmt.Errorf("framework %s role %s: allocation %w", fwID, path, err)
			}
			if !fw.roles[path] && c.nAgents == 0 {
				return fmt.Errorf("framework %s role %s: tracked with neither subscription nor resources", fwID, path)
			}
			want := fw.active && fw.roles[path] && !fw.suppressed[path]
			if c.offerable != want || slices.Contains(c.role.offerable.items, c) != want {
				return fmt.Errorf("framework %s role %s: offerable %v, want %v", fwID, path, c.offerable, want)
			}
			for w, word := range c.refusedOn {
				for word != 0 {
					num := w<<6 | bits.TrailingZeros64(word)
					word &= word - 1
					ag := a.agentByNum[num]
					if ag == nil || ag.head(c.idx) == 0 {
						return fmt.Errorf("framework %s role %s: filters on agent number %d indexed but missing", fwID, path, num)
					}
					filters += ag.chainLen(c.idx)
				}
			}
		}
		for r := range fw.suppressed {
			if !fw.roles[r] {
				return fmt.Errorf("framework %s: suppressed role %s not subscribed", fwID, r)
			}
		}
	}
	all := 0
	for _, ag := range a.agentList {
		all += len(ag.filters)
	}
	if filters != all {
		return fmt.Errorf("%d filters indexed by the frameworks, %d on the agents", filters, all)
	}
	for i, ag := range a.expiry {
		if ag.heapIdx != i || a.agents[ag.id] != ag || len(ag.filters) == 0 {
			return fmt.Errorf("agent %s: misplaced in the expiry heap", ag.id)
		}
	}

	for path, r := range a.roles {
		if r.path != path || r.parent.children[path] != r {
			return fmt.Errorf("role %s: badly linked", path)
		}
		if len(r.clients) == 0 && len(r.children) == 0 {
			return fmt.Errorf("role %s: kept with neither frameworks nor sub-roles", path)
		}
		var own qty
		active, filters := 0, 0
		for _, c := range r.clients {
			own.add(c.alloc)
			if c.offerable {
				active++
			}
			for _, ag := range a.agentList {
				filters += ag.chainLen(c.idx)
			}
		}
		if active != len(r.offerable.items) {
			return fmt.Errorf("role %s: %d offerable frameworks listed, want %d", path, len(r.offerable.items), active)
		}
		if filters != r.filters {
			return fmt.Errorf("role %s: %d filters counted, want %d", path, r.filters, filters)
		}
		sub := slices.Clone(own)
		for _, ch := range r.children {
			sub.add(ch.subtree)
			active += ch.activeSub
		}
		if !slices.Equal(trim(own), trim(r.own)) || !slices.Equal(trim(sub), trim(r.subtree)) {
			return fmt.Errorf("role %s: allocation %v (subtree %v), want %v (%v)", path, r.own, r.subtree, own, sub)
		}
		if active != r.activeSub {
			return fmt.Errorf("role %s: %d offerable frameworks in subtree, want %d", path, r.activeSub, active)
		}
	}
	return nil
}

// checkAgentFilters verifies an agent's filters: every filter is on its
// client's chain exactly once, the bitsets and the clients' indexes agree
// with the chains, shapes are counted right, and the agent is in the expiry
// heap, no later than its earliest filter, exactly when it has filters.
func (a *HierarchicalDRF) checkAgentFilters(ag *agent) error {
	if len(ag.fnext) != len(ag.filters) {
		return fmt.Errorf("%d filters, %d links", len(ag.filters), len(ag.fnext))
	}
	if a.agentByNum[ag.num] != ag {
		return fmt.Errorf("misnumbered (%d)", ag.num)
	}
	seen := make([]bool, len(ag.filters))
	refs := make([]int32, len(ag.shapes))
	clients := 0
	for i, h := range ag.fhead {
		if h == 0 {
			if ag.refusedBits.has(i) || ag.newestBits.has(i) {
				return fmt.Errorf("client number %d in the refusal bitsets without filters", i)
			}
			continue
		}
		clients++
		c := a.clientByIdx[i]
		if c == nil || c.idx != i || a.frameworks[c.fw.id] != c.fw || c.fw.clients[c.role.path] != c {
			return fmt.Errorf("filters of client number %d, which is gone", i)
		}
		if !c.refusedOn.has(int(ag.num)) {
			return fmt.Errorf("filters of %s in %s not indexed", c.fw.id, c.role.path)
		}
		if !ag.refusedBits.has(i) {
			return fmt.Errorf("filters of %s in %s missing from its bitset", c.fw.id, c.role.path)
		}
		if ag.newestBits.has(i) && ag.filters[h-1].shape != ag.lastShape {
			return fmt.Errorf("newest filter of %s in %s marked as holding the last refused resources, which it does not", c.fw.id, c.role.path)
		}
		for p := h; p != 0; p = ag.fnext[p-1] {
			if p < 0 || int(p) > len(ag.filters) || seen[p-1] {
				return fmt.Errorf("chain of %s in %s broken at %d", c.fw.id, c.role.path, p)
			}
			seen[p-1] = true
			f := ag.filters[p-1]
			if int(f.client) != i {
				return fmt.Errorf("filter of client number %d on the chain of %s in %s", f.client, c.fw.id, c.role.path)
			}
			if f.shape < 0 || int(f.shape) >= len(ag.shapes) || ag.shapes[f.shape].refs == 0 {
				return fmt.Errorf("filter of %s in %s on a free shape %d", c.fw.id, c.role.path, f.shape)
			}
			refs[f.shape]++
			if ag.heapIdx < 0 || f.expires < ag.minExpiry {
				return fmt.Errorf("filter of %s in %s expires at %d, before the agent's earliest %d (heap place %d)", c.fw.id, c.role.path, f.expires, ag.minExpiry, ag.heapIdx)
			}
		}
	}
	set := 0
	for _, w := range ag.refusedBits {
		set += bits.OnesCount64(w)
	}
	if set != clients {
		return fmt.Errorf("%d clients in its refusal bitset, %d with filters", set, clients)
	}
	for i, ok := range seen {
		if !ok {
			return fmt.Errorf("filter %d on no chain", i)
		}
	}
	if ag.lastShape >= 0 {
		refs[ag.lastShape]++
	}
	for i, s := range ag.shapes {
		if s.refs != refs[i] {
			return fmt.Errorf("shape %d counted %d times, held %d times", i, s.refs, refs[i])
		}
	}
	if (ag.heapIdx >= 0) != (len(ag.filters) > 0) {
		return fmt.Errorf("%d filters, expiry heap place %d", len(ag.filters), ag.heapIdx)
	}
	return nil
}

// chainLen counts client number i's filters on the agent.
func (ag *agent) chainLen(i int) int {
	n := 0
	for p := ag.head(i); p != 0; p = ag.fnext[p-1] {
		n++
	}
	return n
}

func trim(q qty) qty {
	for len(q) > 0 && q[len(q)-1] == 0 {
		q = q[:len(q)-1]
	}
	return q
}

func nonNegative(q qty) error {
	for i, v := range q {
		if v < 0 {
			return fmt.Errorf("negative quantity %v at index %d", v, i)
		}
	}
	return nil
}
