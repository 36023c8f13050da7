package allocator

import (
	"maps"
	"slices"
	"strings"

	"github.com/gomesos/gomesos/resources"
)

// Quota is a role's QUOTA_V2 configuration (mesos.v1.quota.QuotaConfig):
// scalar guarantees the allocator satisfies before fair sharing, and
// scalar limits that the role, with its sub-roles, never exceeds. A name
// absent from Limits is unlimited; a zero Quota is no quota.
type Quota struct {
	Guarantees map[string]resources.Scalar
	Limits     map[string]resources.Scalar
}

// IsZero reports whether q sets neither a guarantee nor a limit.
func (q Quota) IsZero() bool { return len(q.Guarantees) == 0 && len(q.Limits) == 0 }

// UpdateQuota implements Allocator. A zero q removes the role's quota.
//
// A change of quota changes what every agent may give to whom, so every
// agent blocked by an earlier cycle (see Allocate) is examined again in
// the next one: a new guarantee is met, and resources a removed limit or
// guarantee held back are offered, in the next cycle.
func (a *HierarchicalDRF) UpdateQuota(role string, q Quota) {
	if a.quotas == nil {
		a.quotas = map[string]Quota{}
	}
	if q.IsZero() {
		delete(a.quotas, role)
	} else {
		a.quotas[role] = Quota{Guarantees: maps.Clone(q.Guarantees), Limits: maps.Clone(q.Limits)}
	}
	for _, ag := range a.agentList {
		ag.blocked = false
	}
	a.fullScan = true
}

// How quota works here (Mesos 1.11's, docs/quota.md, with hierarchy).
//
// A role's consumed quota is what its subtree holds of unreserved,
// non-revocable scalar resources (offered or in use) plus every
// reservation made to a role of its subtree, allocated or not: a
// reservation is bound to its role and always counts.
//
// What roles still need of their guarantees is held as headroom: the
// required headroom is, over the quota roles, their unmet guarantees
// (guarantee minus consumed, per name, never below zero), where a quota
// role with quota sub-roles needs the larger of its own unmet guarantee
// and the sum of what its quota sub-roles need (theirs are within its
// own). The available headroom is the unallocated unreserved
// non-revocable scalar resources of the active agents. An allocation may
// not take the available headroom below the required one, except where
// it meets a guarantee: giving a role x of a name lowers both by x as long
// as x is within what the role's chain of quota roles still needs.
//
// A cycle with quota has two stages, as in Mesos. The first walks the
// agents and, on each, the roles that can make progress towards an unmet
// guarantee (of their own or of a quota ancestor), in DRF order: their
// frameworks are offered the unreserved scalars the guarantee still needs,
// with the role's reservations and non-scalar resources, and the other
// unreserved scalars only within the surplus headroom and limits. The
// second stage walks all roles again and offers the rest under the same
// rules, so fair sharing applies to what the guarantees leave.
//
// Limits bound the role and every quota ancestor: an offer's unreserved
// scalars of a limited name are cut down so that no quota role's consumed
// quantity goes over its limit; what a limited ancestor's quota sub-roles
// still need of their guarantees is kept out of reach of their siblings.
// Reservations, revocable and non-scalar resources are never cut (their
// roles count the reservations already), as in Mesos.

// quotaNode is a role with a quota during one cycle.
type quotaNode struct {
	path    string
	idx     int
	parent  *quotaNode // nearest quota ancestor, nil when none
	guar    qty        // by name id, zero where none
	hasGuar bool
	limit   qty // by name id, resources.MaxScalar where unlimited
	hasLim  bool

	consumed qty
	// req is what the node's subtree still needs of its guarantees, and
	// childReq the sum of its quota sub-roles' req.
	req, childReq qty
}

// quotaCycle is the quota bookkeeping of one cycle.
type quotaCycle struct {
	a      *HierarchicalDRF
	n      int          // name ids in use
	nodes  []*quotaNode // ancestors before descendants
	byPath map[string]*quotaNode
	chains map[*role][]*quotaNode // quota ancestors-or-self, nearest first

	avail    qty // available headroom
	required qty // required headroom

	// version changes with every consumption; the caches hold what was
	// computed at a version.
	version    uint64
	gCache     map[*role]cachedQty
	roomCache  map[*role]cachedRoom
	surplusVer uint64
	surplusQ   qty
}

type cachedRoom struct {
	version uint64
	room    qty
	by      []*quotaNode
}

type cachedQty struct {
	version uint64
	q       qty
}

// under reports whether path is role or one of its sub-roles.
func under(path, role string) bool {
	return path == role || resources.IsStrictSubroleOf(path, role)
}

// quotaResource reports whether r counts towards quota headroom and limits:
// an unreserved, non-revocable scalar.
func quotaResource(r *resources.Resource) bool {
	return r.Type == resources.TypeScalar && len(r.Reservations) == 0 && !r.Revocable
}

// newQuotaCycle measures consumed quota and headroom from the current state.
func (a *HierarchicalDRF) newQuotaCycle() *quotaCycle {
	for _, q := range a.quotas {
		for name := range q.Guarantees {
			a.nameID(name)
		}
	}
	n := len(a.nameList)
	qc := &quotaCycle{
		a:         a,
		n:         n,
		byPath:    make(map[string]*quotaNode, len(a.quotas)),
		chains:    map[*role][]*quotaNode{},
		avail:     make(qty, n),
		gCache:    map[*role]cachedQty{},
		roomCache: map[*role]cachedRoom{},
		version:   1,
	}
	for _, path := range sortedKeys(a.quotas) {
		q := a.quotas[path]
		nd := &quotaNode{path: path, guar: make(qty, n), limit: make(qty, n), consumed: make(qty, n)}
		for i := range nd.limit {
			nd.limit[i] = resources.MaxScalar
		}
		for name, v := range q.Guarantees {
			if v > 0 {
				nd.guar[a.nameID(name)] = v
				nd.hasGuar = true
			}
		}
		for name, v := range q.Limits {
			id, ok := a.nameIDs[name]
			if !ok {
				continue // no agent has it: nothing to cut
			}
			nd.limit[id] = max(v, 0)
			nd.hasLim = true
		}
		qc.nodes = append(qc.nodes, nd)
		qc.byPath[path] = nd
	}
	slices.SortStableFunc(qc.nodes, func(x, y *quotaNode) int {
		return strings.Count(x.path, "/") - strings.Count(y.path, "/")
	})
	for i, nd := range qc.nodes {
		nd.idx = i
		nd.parent = qc.nearest(parentPath(nd.path))
	}

	// Reservations by reservation role, and what holders hold of reserved
	// or revocable scalars (which the roles' sums include and consumed
	// quota does not), by holding role.
	reserved := map[string]qty{}
	excluded := map[*role]qty{}
	for _, ag := range a.agentList {
		if ag.active {
			if ag.special {
				for i := range ag.available {
					if r := &ag.available[i]; quotaResource(r) && r.Scalar > 0 {
						qc.avail[a.nameIDs[r.Name]] += r.Scalar
					}
				}
			} else {
				qc.avail.add(ag.availQ)
			}
		}
		if !ag.special {
			continue
		}
		for i := range ag.total {
			r := &ag.total[i]
			if r.Type == resources.TypeScalar && r.IsReserved() && !r.Revocable {
				q := reserved[r.ReservationRole()]
				q.addAt(a.nameIDs[r.Name], r.Scalar)
				reserved[r.ReservationRole()] = q
			}
		}
		for _, h := range ag.alloc {
			for i := range h.res {
				r := &h.res[i]
				if r.Type == resources.TypeScalar && (r.IsReserved() || r.Revocable) {
					q := excluded[h.c.role]
					q.addAt(a.nameIDs[r.Name], r.Scalar)
					excluded[h.c.role] = q
				}
			}
		}
	}
	for _, nd := range qc.nodes {
		if r := a.roles[nd.path]; r != nil {
			nd.consumed.add(r.subtree)
		}
		for r, q := range excluded {
			if under(r.path, nd.path) {
				nd.consumed.sub(q)
			}
		}
		for path, q := range reserved {
			if under(path, nd.path) {
				nd.consumed.add(q)
			}
		}
	}
	qc.required = qc.computeRequired(nil, true)
	return qc
}

// parentPath is the parent role's path ("" for a top-level role).
func parentPath(path string) string {
	if i := strings.LastIndexByte(path, '/'); i > 0 {
		return path[:i]
	}
	return ""
}

// nearest returns the quota node of path or of its nearest ancestor.
func (qc *quotaCycle) nearest(path string) *quotaNode {
	for path != "" {
		if nd := qc.byPath[path]; nd != nil {
			return nd
		}
		path = parentPath(path)
	}
	return nil
}

// chain returns r's quota ancestors-or-self, nearest first.
func (qc *quotaCycle) chain(r *role) []*quotaNode {
	if ch, ok := qc.chains[r]; ok {
		return ch
	}
	var ch []*quotaNode
	for nd := qc.nearest(r.path); nd != nil; nd = nd.parent {
		ch = append(ch, nd)
	}
	qc.chains[r] = ch
	return ch
}

// computeRequired returns the required headroom, counting the nodes in
// met as having met their own guarantees. With store it records each
// node's req and childReq.
func (qc *quotaCycle) computeRequired(met []*quotaNode, store bool) qty {
	total := make(qty, qc.n)
	child := make([]qty, len(qc.nodes))
	for i := len(qc.nodes) - 1; i >= 0; i-- {
		nd := qc.nodes[i]
		req := child[i]
		if req == nil {
			req = make(qty, qc.n)
		}
		if store {
			nd.childReq = slices.Clone(req)
		}
		if nd.hasGuar && !slices.Contains(met, nd) {
			for j, g := range nd.guar {
				if unmet := g - nd.consumed[j]; unmet > req[j] {
					req[j] = unmet
				}
			}
		}
		if store {
			nd.req = req
		}
		if p := nd.parent; p != nil {
			if child[p.idx] == nil {
				child[p.idx] = make(qty, qc.n)
			}
			child[p.idx].add(req)
		} else {
			total.add(req)
		}
	}
	return total
}

// guarantee returns how much of each name given to r goes towards unmet
// guarantees: by how much the required headroom falls when r is given it
// (nil when nothing).
func (qc *quotaCycle) guarantee(r *role) qty {
	ch := qc.chain(r)
	if len(ch) == 0 {
		return nil
	}
	if c, ok := qc.gCache[r]; ok && c.version == qc.version {
		return c.q
	}
	without := qc.computeRequired(ch, false)
	var g qty
	for i, v := range qc.required {
		if d := v - without[i]; d > 0 {
			g.addAt(i, d)
		}
	}
	qc.gCache[r] = cachedQty{qc.version, g}
	return g
}

// room returns, by name, how much more of the unreserved scalars r may
// be given before it or a quota ancestor reaches its limit, leaving room
// for what the ancestors' other quota sub-roles still need of their
// guarantees; and which node bounds each name (nil where unlimited).
func (qc *quotaCycle) room(r *role) (qty, []*quotaNode) {
	if c, ok := qc.roomCache[r]; ok && c.version == qc.version {
		return c.room, c.by
	}
	room := make(qty, qc.n)
	for i := range room {
		room[i] = resources.MaxScalar
	}
	var by []*quotaNode
	ch := qc.chain(r)
	for k, nd := range ch {
		if !nd.hasLim {
			continue
		}
		for i, l := range nd.limit {
			if l == resources.MaxScalar {
				continue
			}
			others := nd.childReq.at(i)
			if k > 0 {
				others -= ch[k-1].req.at(i)
			}
			left := max(l-nd.consumed[i]-others, 0)
			if left < room[i] {
				room[i] = left
				if by == nil {
					by = make([]*quotaNode, qc.n)
				}
				by[i] = nd
			}
		}
	}
	qc.roomCache[r] = cachedRoom{qc.version, room, by}
	return room, by
}

// surplus returns the available headroom beyond the required one.
func (qc *quotaCycle) surplus() qty {
	if qc.surplusVer == qc.version {
		return qc.surplusQ
	}
	s := make(qty, qc.n)
	for i := range s {
		s[i] = max(qc.avail.at(i)-qc.required.at(i), 0)
	}
	qc.surplusQ, qc.surplusVer = s, qc.version
	return s
}

// consume records that r was given inc of unreserved non-revocable
// scalars.
func (qc *quotaCycle) consume(r *role, inc qty) {
	if inc.isZero() {
		return
	}
	for _, nd := range qc.chain(r) {
		nd.consumed.add(inc)
	}
	qc.avail.sub(inc)
	qc.required = qc.computeRequired(nil, true)
	qc.version++
}

// shrink returns the resources of rs cut down to caps (by name id; a
// missing entry is zero). A resource that does not fit whole is cut, or
// left out when it cannot be divided (a MOUNT or BLOCK disk, a volume).
func (a *HierarchicalDRF) shrink(rs resources.Resources, caps qty) resources.Resources {
	left := slices.Clone(caps)
	out := make(resources.Resources, 0, len(rs))
	for _, r := range rs {
		id := a.nameID(r.Name)
		c := left.at(id)
		if c <= 0 || r.Scalar <= 0 {
			continue
		}
		if r.Scalar > c {
			if !divisible(&r) {
				continue
			}
			r.Scalar = c
		}
		left[id] -= r.Scalar
		out = append(out, r)
	}
	return out
}

// divisible reports whether part of r may be offered.
func divisible(r *resources.Resource) bool {
	d := r.Disk
	if d == nil {
		return true
	}
	if d.PersistenceID != "" {
		return false
	}
	if d.Source == nil {
		return true
	}
	switch d.Source.Type {
	case resources.DiskSourceMount, resources.DiskSourceBlock:
		return false
	case resources.DiskSourceRaw:
		return d.Source.ID == ""
	}
	return true
}

func minQty(x, y qty, n int) qty {
	out := make(qty, n)
	for i := range out {
		out[i] = min(x.at(i), y.at(i))
	}
	return out
}

// quotaOffer returns what c would be offered out of avail (what ag has
// for c's role) under quota, with the unreserved non-revocable scalars
// it holds, and whether c may be offered it. With guaranteed, the offer
// must make progress towards an unmet guarantee (the first stage). cut
// memoizes the cut for frameworks that see avail alike (see quotaCut).
func (a *HierarchicalDRF) quotaOffer(qc *quotaCycle, c *client, ag *agent, avail resources.Resources, guaranteed bool, cut *quotaCutMemo) (resources.Resources, qty, bool) {
	fw, r := c.fw, c.role
	if a.filterGPU && ag.hasGPU && !fw.caps.GPUResources {
		return nil, nil, false
	}
	if !fw.constraints.Allows(r.path, &ag.info) {
		return nil, nil, false
	}
	var offer resources.Resources
	var inc, offerQ qty
	if ag.special {
		offer, inc = a.quotaCut(qc, r, ag, stripIncapable(avail, fw.caps), avail, guaranteed)
		offerQ = a.toQty(offer)
	} else {
		if !cut.done {
			cut.offer, cut.inc = a.quotaCut(qc, r, ag, avail, avail, guaranteed)
			if sameSlice(cut.offer, ag.available) {
				cut.offerQ = ag.availQ
			} else {
				cut.offerQ = a.toQty(cut.offer)
			}
			cut.done = true
		}
		offer, inc, offerQ = cut.offer, cut.inc, cut.offerQ
	}
	if offer.IsEmpty() || !a.allocatable(offerQ, r.path, fw) || a.refused(c, ag, offer) {
		return nil, nil, false
	}
	return offer, inc, true
}

// quotaCutMemo is the cut of an agent's resources for a role, the same
// for every framework of the role while the agent is unchanged.
type quotaCutMemo struct {
	done        bool
	offer       resources.Resources
	inc, offerQ qty
}

// quotaCut cuts usable (what a framework may use of avail) down to what
// role r may be given under quota: reservations, revocable and
// non-scalar resources whole; of the unreserved non-revocable scalars,
// what goes towards unmet guarantees, and the rest only within the
// surplus headroom; all within the limits. It returns nil when
// guaranteed and nothing goes towards a guarantee.
func (a *HierarchicalDRF) quotaCut(qc *quotaCycle, r *role, ag *agent, usable, avail resources.Resources, guaranteed bool) (resources.Resources, qty) {
	g := qc.guarantee(r)
	if guaranteed && len(g) == 0 {
		return nil, nil
	}
	room, _ := qc.room(r)
	surplus := qc.surplus()

	// Nothing to cut when every name fits in the room and in what goes
	// towards guarantees plus the surplus: the usual case.
	var quotaQ qty
	if ag.special {
		quotaQ = make(qty, qc.n)
		for i := range usable {
			if u := &usable[i]; quotaResource(u) {
				quotaQ.addAt(a.nameIDs[u.Name], u.Scalar)
			}
		}
	} else {
		quotaQ = ag.availQ // only unreserved, non-revocable scalars
	}
	fits, progress := true, false
	for i, v := range quotaQ {
		if v <= 0 {
			continue
		}
		if v > room.at(i) || v > g.at(i)+surplus.at(i) {
			fits = false
			break
		}
		progress = progress || g.at(i) > 0
	}
	if fits && (progress || !guaranteed) {
		if len(usable) == len(avail) {
			return avail, quotaQ // keep the agent's slice (see refused)
		}
		return usable, quotaQ
	}

	fixed := make(resources.Resources, 0, len(usable))
	quotaRes := make(resources.Resources, 0, len(usable))
	for i := range usable {
		if quotaResource(&usable[i]) {
			quotaRes = append(quotaRes, usable[i])
		} else {
			fixed = append(fixed, usable[i])
		}
	}
	part := a.shrink(quotaRes, minQty(g, room, qc.n))
	if guaranteed && len(part) == 0 {
		return nil, nil
	}
	partQ := a.toQty(part)
	restCap := make(qty, qc.n)
	for i := range restCap {
		restCap[i] = min(surplus[i], max(room[i]-partQ.at(i), 0))
	}
	rest := a.shrink(quotaRes.Subtract(part), restCap)
	inc := partQ
	inc.add(a.toQty(rest))
	return resources.New(fixed...).Add(part).Add(rest), inc
}

// holdKey is a framework role on an agent, to merge the two stages'
// allocations into one.
type holdKey struct {
	ag *agent
	c  *client
}

// allocateWithQuota is Allocate when some role has a quota: the two
// stages described above, over every active agent with something free.
// Whether an agent gives anything now depends on other agents too (a
// limit reached elsewhere, headroom), so agents are not blocked.
func (a *HierarchicalDRF) allocateWithQuota() []Allocation {
	cands := a.candidates[:0]
	for _, ag := range a.agentList {
		ag.blocked = false
		if ag.active && len(ag.available) > 0 {
			cands = append(cands, ag)
		}
	}
	for _, ag := range a.touched {
		ag.touched = false
	}
	clear(a.touched)
	a.touched = a.touched[:0]
	a.fullScan, a.scanEpoch = false, a.eligibility

	qc := a.newQuotaCycle()
	out := a.outBuf[:0]
	given := map[holdKey]int{}
	order := a.roleOrder[:0]
	for stage := 1; stage <= 2; stage++ {
		a.rng.Shuffle(len(cands), func(i, j int) { cands[i], cands[j] = cands[j], cands[i] })
		computed, version := false, uint64(0)
		for _, ag := range cands {
			if len(ag.available) == 0 {
				continue
			}
			if !computed || version != a.orderVersion {
				order = a.appendRoleOrder(order[:0], a.root)
				computed, version = true, a.orderVersion
			}
			for _, r := range order {
				if len(ag.available) == 0 {
					break
				}
				if stage == 1 && qc.guarantee(r).isZero() {
					continue
				}
				out = a.allocateRoleQuota(qc, ag, r, stage == 1, out, given)
			}
		}
	}

	clear(cands)
	a.candidates = cands[:0]
	clear(order)
	a.roleOrder = order[:0]
	if len(out) == 0 {
		a.outBuf = out
		return nil
	}
	res := slices.Clone(out)
	clear(out)
	a.outBuf = out[:0]
	return res
}

// allocateRoleQuota offers what ag has for role r to r's frameworks in
// DRF order, under quota.
func (a *HierarchicalDRF) allocateRoleQuota(qc *quotaCycle, ag *agent, r *role, guaranteed bool, out []Allocation, given map[holdKey]int) []Allocation {
	avail, _ := a.availableTo(ag, r)
	if len(avail) == 0 {
		return out
	}
	var cut quotaCutMemo
	for _, c := range r.offerable.sorted(clientCmp) {
		offer, inc, ok := a.quotaOffer(qc, c, ag, avail, guaranteed, &cut)
		if !ok {
			continue
		}
		alloc := ag.allocatedTo(offer, r.path)
		if i, ok := given[holdKey{ag, c}]; ok {
			out[i].Resources = out[i].Resources.Add(alloc)
			ag.lastAlloc = lastAlloc{}
		} else {
			given[holdKey{ag, c}] = len(out)
			out = append(out, Allocation{FrameworkID: c.fw.id, AgentID: ag.id, Role: r.path, Resources: alloc})
			ag.lastAlloc = lastAlloc{c: c, out: alloc, un: offer}
		}
		// inc may be the agent's own quantities, which charge changes.
		qc.consume(r, inc)
		a.charge(c, ag, offer, a.toQty(offer), true)
		cut = quotaCutMemo{}
		if avail, _ = a.availableTo(ag, r); len(avail) == 0 {
			return out
		}
	}
	return out
}
