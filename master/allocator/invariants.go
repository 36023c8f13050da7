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
		for c, res := range ag.alloc {
			if res.IsEmpty() {
				return fmt.Errorf("agent %s: empty allocation kept for %s", ag.id, c.fw.id)
			}
			if _, ok := c.agents[ag]; !ok {
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
		set := 0
		for c, rf := range ag.refusals {
			if _, ok := c.refusedOn[ag]; !ok || c.fw.clients[c.role.path] != c || a.frameworks[c.fw.id] != c.fw {
				return fmt.Errorf("agent %s: filters of %s in %s not indexed", ag.id, c.fw.id, c.role.path)
			}
			if !ag.refusedBits.has(c.idx) {
				return fmt.Errorf("agent %s: filters of %s in %s missing from its bitset", ag.id, c.fw.id, c.role.path)
			}
			if ag.newestBits.has(c.idx) && !sameSlice(rf.res, ag.lastRefused) {
				return fmt.Errorf("agent %s: newest filter of %s in %s marked as holding the last refused resources, which it does not", ag.id, c.fw.id, c.role.path)
			}
		}
		for _, w := range ag.refusedBits {
			set += bits.OnesCount64(w)
		}
		if set != len(ag.refusals) {
			return fmt.Errorf("agent %s: %d clients in its refusal bitset, %d with filters", ag.id, set, len(ag.refusals))
		}
		if !sum.Equal(ag.total) {
			return fmt.Errorf("agent %s: available %v + allocated = %v, want total %v", ag.id, ag.available, sum, ag.total)
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
			for ag := range c.agents {
				res, ok := ag.alloc[c]
				if !ok || a.agents[ag.id] != ag {
					return fmt.Errorf("framework %s role %s: indexed on agent %s without allocation", fwID, path, ag.id)
				}
				sum.add(a.toQty(res))
			}
			if !slices.Equal(trim(sum), trim(c.alloc)) {
				return fmt.Errorf("framework %s role %s: allocation %v, want %v", fwID, path, c.alloc, sum)
			}
			if err := nonNegative(c.alloc); err != nil {
				return fmt.Errorf("framework %s role %s: allocation %w", fwID, path, err)
			}
			if !fw.roles[path] && len(c.agents) == 0 {
				return fmt.Errorf("framework %s role %s: tracked with neither subscription nor resources", fwID, path)
			}
			want := fw.active && fw.roles[path] && !fw.suppressed[path]
			if c.offerable != want || slices.Contains(c.role.offerable.items, c) != want {
				return fmt.Errorf("framework %s role %s: offerable %v, want %v", fwID, path, c.offerable, want)
			}
			for ag := range c.refusedOn {
				rf, ok := ag.refusals[c]
				if !ok || rf.newest == nil || a.agents[ag.id] != ag {
					return fmt.Errorf("framework %s role %s: filters on agent %s indexed but missing", fwID, path, ag.id)
				}
				for f := rf.newest; f != nil; f = f.next {
					if f.c != c || f.ag != ag || f.index < 0 || f.index >= len(a.filters) || a.filters[f.index] != f {
						return fmt.Errorf("framework %s role %s: filter on agent %s badly linked", fwID, path, ag.id)
					}
					filters++
				}
			}
		}
		for r := range fw.suppressed {
			if !fw.roles[r] {
				return fmt.Errorf("framework %s: suppressed role %s not subscribed", fwID, r)
			}
		}
	}
	if filters != len(a.filters) {
		return fmt.Errorf("%d filters indexed, %d in the expiry heap", filters, len(a.filters))
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
			for ag := range c.refusedOn {
				for f := ag.refusals[c].newest; f != nil; f = f.next {
					filters++
				}
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
