package allocator

import (
	"strings"
)

// role is a node of the role tree. A role exists while frameworks are
// tracked under it (subscribed, or still holding resources in it) or while
// it has sub-roles. The root has the empty path and is not a role.
//
// At each node the children compete by the weighted dominant share of
// their whole subtree; a role that has frameworks and sub-roles also
// competes with its own sub-roles through its own allocation (Mesos's
// virtual "." leaf). Inside a role, the offerable frameworks are ordered by
// their dominant share in that role.
type role struct {
	path     string
	parent   *role
	children map[string]*role // by path
	weight   float64

	subtree  qty // allocated to this role and its sub-roles
	own      qty // allocated to this role's frameworks
	subShare float64
	ownShare float64

	clients map[string]*client // by framework id

	// offerable holds the clients that may be offered resources, in
	// (share, framework id) order.
	offerable lazySorted[*client]
	// activeSub counts the offerable clients in this subtree, so that the
	// walk skips subtrees nobody can be offered in.
	activeSub int

	// order holds the entries competing at this node: its children and,
	// below the root, the role itself.
	order lazySorted[orderEntry]

	filters int // live refuse filters of this role's clients
}

type orderEntry struct {
	r    *role
	self bool // the role's own frameworks rather than its subtree
}

func (e orderEntry) weightedShare() float64 {
	if e.self {
		return e.r.ownShare / e.r.weight
	}
	return e.r.subShare / e.r.weight
}

func orderLess(x, y orderEntry) bool {
	sx, sy := x.weightedShare(), y.weightedShare()
	if sx != sy {
		return sx < sy
	}
	if x.r.path != y.r.path {
		return x.r.path < y.r.path
	}
	return x.self && !y.self
}

func orderCmp(x, y orderEntry) int {
	switch {
	case orderLess(x, y):
		return -1
	case orderLess(y, x):
		return 1
	}
	return 0
}

func clientLess(x, y *client) bool {
	if x.share != y.share {
		return x.share < y.share
	}
	return x.fw.id < y.fw.id
}

func clientCmp(x, y *client) int {
	switch {
	case clientLess(x, y):
		return -1
	case clientLess(y, x):
		return 1
	}
	return 0
}

// appendRoleOrder appends the roles below n that have offerable frameworks,
// in the order they are to be offered resources.
func (a *HierarchicalDRF) appendRoleOrder(dst []*role, n *role) []*role {
	for _, e := range n.order.sorted(orderCmp) {
		r := e.r
		switch {
		case e.self:
			if len(r.offerable.items) > 0 {
				dst = append(dst, r)
			}
		case r.activeSub == 0:
		case len(r.children) == 0:
			dst = append(dst, r)
		default:
			dst = a.appendRoleOrder(dst, r)
		}
	}
	return dst
}

// weight returns a role's weight (1.0 unless set).
func (a *HierarchicalDRF) weight(path string) float64 {
	if w, ok := a.weights[path]; ok && w > 0 {
		return w
	}
	return 1
}

// ensureRole returns the role at path, creating it and its ancestors.
func (a *HierarchicalDRF) ensureRole(path string) *role {
	if r, ok := a.roles[path]; ok {
		return r
	}
	parent := a.root
	if i := strings.LastIndexByte(path, '/'); i > 0 {
		parent = a.ensureRole(path[:i])
	}
	r := &role{
		path:     path,
		parent:   parent,
		children: map[string]*role{},
		weight:   a.weight(path),
		clients:  map[string]*client{},
	}
	r.order.add(orderEntry{r: r, self: true})
	a.roles[path] = r
	parent.children[path] = r
	parent.order.add(orderEntry{r: r})
	a.orderVersion++
	return r
}

// maybeRemoveRole removes r and then its ancestors while they have neither
// frameworks nor sub-roles.
func (a *HierarchicalDRF) maybeRemoveRole(r *role) {
	for r != a.root && len(r.clients) == 0 && len(r.children) == 0 {
		delete(r.parent.children, r.path)
		delete(a.roles, r.path)
		r.parent.order.remove(orderEntry{r: r})
		a.orderVersion++
		r = r.parent
	}
}

// chargeRole adds (sign > 0) or removes q from r's allocation and its
// ancestors' subtree allocations, keeping shares and orders current.
func (a *HierarchicalDRF) chargeRole(r *role, q qty, sign int) {
	if sign > 0 {
		r.own.add(q)
	} else {
		r.own.sub(q)
	}
	r.ownShare = a.dominantShare(r.own)
	if len(r.children) > 0 {
		r.order.touch(orderEntry{r: r, self: true})
	}
	for p := r; p != a.root; p = p.parent {
		if sign > 0 {
			p.subtree.add(q)
		} else {
			p.subtree.sub(q)
		}
		p.subShare = a.dominantShare(p.subtree)
		p.parent.order.touch(orderEntry{r: p})
	}
	a.orderVersion++
}

// addActive adjusts the offerable-client counts of r and its ancestors.
func (a *HierarchicalDRF) addActive(r *role, delta int) {
	for p := r; p != a.root; p = p.parent {
		p.activeSub += delta
	}
	a.orderVersion++
}

// UpdateWeights sets roles' weights; the roles' orders are sorted again at
// the next allocation.
func (a *HierarchicalDRF) UpdateWeights(weights map[string]float64) {
	for path, w := range weights {
		if w == 1 {
			delete(a.weights, path)
		} else {
			a.weights[path] = w
		}
		if r, ok := a.roles[path]; ok {
			r.weight = a.weight(path)
		}
	}
	a.sharesStale = true
}

// refreshShares recomputes every share after the cluster total changed.
func (a *HierarchicalDRF) refreshShares() {
	if !a.sharesStale {
		return
	}
	a.sharesStale = false
	for _, r := range a.roles {
		r.ownShare = a.dominantShare(r.own)
		r.subShare = a.dominantShare(r.subtree)
		r.order.resortAll()
		r.offerable.resortAll()
		for _, c := range r.clients {
			c.share = a.dominantShare(c.alloc)
		}
	}
	a.root.order.resortAll()
	a.orderVersion++
}
