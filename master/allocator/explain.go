package allocator

import (
	"slices"
	"sort"
	"time"

	"github.com/gomesos/gomesos/resources"
)

// Explainer is implemented by allocators that can say why a framework is
// or is not being offered resources (the master's /master/explain).
type Explainer interface {
	// Explain returns a copy of what the allocator holds that bears on
	// frameworkID's offers at time now, and false for an unknown
	// framework. The copy shares nothing with the allocator's state.
	Explain(frameworkID string, now time.Time) (Explanation, bool)
}

// Explanation is the allocator's view of one framework.
type Explanation struct {
	FrameworkID string
	Active      bool
	Roles       []RoleExplanation
}

// RoleExplanation is the framework in one of its roles.
type RoleExplanation struct {
	Role       string
	Subscribed bool // false for a role it left but still holds resources in
	Suppressed bool
	// Offerable: active, subscribed and not suppressed in the role.
	Offerable bool
	// Share is the framework's dominant share in the role; Frameworks are
	// the role's frameworks (itself included) with theirs, lowest first:
	// the lowest is offered first.
	Share      float64
	Frameworks []ShareOf
	// Weight is the role's weight, RoleShare the dominant share of the
	// role's subtree, and SiblingRoles the roles under the same parent
	// (itself included), by weighted share, lowest first.
	Weight       float64
	RoleShare    float64
	SiblingRoles []RoleShareOf
	// Filters are its live refuse filters in the role, by agent.
	Filters []FilterInfo
	// ConstrainedOut are the agents its offer constraints rule out.
	ConstrainedOut []string
	// TooSmall are the agents whose free resources for the role do not
	// reach its minimum allocatable resources (MinAllocatable, nil for
	// the default); NothingFree those with nothing free for the role.
	TooSmall       []AgentFree
	NothingFree    []string
	MinAllocatable []map[string]float64
	// Quotas are the quotas bearing on the role: its own and its
	// ancestors', nearest first, with what each role consumes.
	Quotas []QuotaOf
	// AtLimit are the resources the role may be offered no more of
	// because it or an ancestor is at its quota limit (less what the
	// ancestor's other quota sub-roles still need of their guarantees).
	AtLimit []LimitReached
	// HeadroomHeld is, by name, how much of the free unreserved resources
	// the role may not be offered because it is held back for unmet
	// guarantees of the roles in HeadroomFor.
	HeadroomHeld map[string]float64
	HeadroomFor  []string
}

// QuotaOf is a role's quota and what the role (with its sub-roles)
// consumes of it: what it is allocated of unreserved resources plus its
// reservations.
type QuotaOf struct {
	Role       string
	Guarantees map[string]float64
	Limits     map[string]float64
	Consumed   map[string]float64
}

// LimitReached is a resource that a quota role's limit keeps from a role.
type LimitReached struct {
	Role     string // the role whose limit it is
	Resource string
	Limit    float64
	Consumed float64
}

// ShareOf is a framework's dominant share in a role.
type ShareOf struct {
	FrameworkID string
	Share       float64
}

// RoleShareOf is a role's weight and dominant share.
type RoleShareOf struct {
	Role   string
	Weight float64
	Share  float64
}

// FilterInfo is one refuse filter: the resources refused on the agent
// and when the filter ends.
type FilterInfo struct {
	AgentID   string
	Resources string
	Expires   time.Time
}

// AgentFree is an agent and what it has free for a role.
type AgentFree struct {
	AgentID string
	Free    map[string]float64
}

// Explain implements Explainer.
func (a *HierarchicalDRF) Explain(frameworkID string, now time.Time) (Explanation, bool) {
	fw := a.frameworks[frameworkID]
	if fw == nil {
		return Explanation{}, false
	}
	ex := Explanation{FrameworkID: fw.id, Active: fw.active}
	agents := slices.Clone(a.agentList)
	sort.Slice(agents, func(i, j int) bool { return agents[i].id < agents[j].id })
	nowNanos := now.UnixNano()
	var qc *quotaCycle
	for _, roleName := range sortedKeys(fw.clients) {
		c := fw.clients[roleName]
		r := c.role
		re := RoleExplanation{
			Role:       roleName,
			Subscribed: fw.roles[roleName],
			Suppressed: fw.suppressed[roleName],
			Offerable:  c.offerable,
			Share:      c.share,
			Weight:     r.weight,
			RoleShare:  a.dominantShare(r.subtree),
		}
		for _, id := range sortedKeys(r.clients) {
			re.Frameworks = append(re.Frameworks, ShareOf{FrameworkID: id, Share: r.clients[id].share})
		}
		sort.SliceStable(re.Frameworks, func(i, j int) bool { return re.Frameworks[i].Share < re.Frameworks[j].Share })
		for _, sib := range a.siblings(r) {
			re.SiblingRoles = append(re.SiblingRoles, RoleShareOf{Role: sib.path, Weight: sib.weight, Share: a.dominantShare(sib.subtree)})
		}
		sort.SliceStable(re.SiblingRoles, func(i, j int) bool {
			x, y := re.SiblingRoles[i], re.SiblingRoles[j]
			return x.Share/x.Weight < y.Share/y.Weight
		})
		if mins, ok := fw.minAlloc[roleName]; ok {
			re.MinAllocatable = a.qtyMaps(mins)
		} else if a.minAlloc != nil {
			re.MinAllocatable = a.qtyMaps(a.minAlloc)
		}
		for _, ag := range agents {
			for i := ag.head(c.idx); i != 0; i = ag.fnext[i-1] {
				f := ag.filters[i-1]
				if f.expires <= nowNanos {
					continue
				}
				re.Filters = append(re.Filters, FilterInfo{
					AgentID:   ag.id,
					Resources: ag.shapes[f.shape].res.String(),
					Expires:   time.Unix(0, f.expires),
				})
			}
			if !fw.constraints.Allows(roleName, &ag.info) {
				re.ConstrainedOut = append(re.ConstrainedOut, ag.id)
			}
			avail, availQ := a.availableTo(ag, r)
			switch {
			case len(avail) == 0:
				re.NothingFree = append(re.NothingFree, ag.id)
			case !a.allocatable(availQ, roleName, fw):
				re.TooSmall = append(re.TooSmall, AgentFree{AgentID: ag.id, Free: scalarMap(avail)})
			}
		}
		if len(a.quotas) > 0 {
			if qc == nil {
				qc = a.newQuotaCycle()
			}
			a.explainQuota(qc, r, &re)
		}
		ex.Roles = append(ex.Roles, re)
	}
	return ex, true
}

// explainQuota fills in the quota part of re, for role r.
func (a *HierarchicalDRF) explainQuota(qc *quotaCycle, r *role, re *RoleExplanation) {
	chain := qc.chain(r)
	for _, nd := range chain {
		q := a.quotas[nd.path]
		re.Quotas = append(re.Quotas, QuotaOf{
			Role:       nd.path,
			Guarantees: floatMap(q.Guarantees),
			Limits:     floatMap(q.Limits),
			Consumed:   a.qtyFloats(nd.consumed),
		})
	}
	room, by := qc.room(r)
	for i, left := range room {
		if left == 0 && by != nil && by[i] != nil {
			nd := by[i]
			re.AtLimit = append(re.AtLimit, LimitReached{
				Role: nd.path, Resource: a.nameList[i],
				Limit: nd.limit[i].Float64(), Consumed: nd.consumed[i].Float64(),
			})
		}
	}
	// What r may not take of the free unreserved resources: beyond the
	// surplus headroom and what goes towards its own chain's guarantees.
	g, surplus := qc.guarantee(r), qc.surplus()
	held := qty(nil)
	for i, free := range qc.avail {
		if h := free - surplus[i] - g.at(i); free > 0 && h > 0 {
			held.addAt(i, min(h, free))
		}
	}
	if held.isZero() {
		return
	}
	re.HeadroomHeld = a.qtyFloats(held)
	for _, nd := range qc.nodes {
		if !nd.req.isZero() && !slices.Contains(chain, nd) {
			re.HeadroomFor = append(re.HeadroomFor, nd.path)
		}
	}
}

func floatMap(m map[string]resources.Scalar) map[string]float64 {
	out := make(map[string]float64, len(m))
	for k, v := range m {
		out[k] = v.Float64()
	}
	return out
}

func (a *HierarchicalDRF) qtyFloats(q qty) map[string]float64 {
	out := map[string]float64{}
	for name, v := range a.toMap(q) {
		out[name] = v.Float64()
	}
	return out
}

// siblings are the roles under r's parent, r included.
func (a *HierarchicalDRF) siblings(r *role) []*role {
	if r.parent == nil {
		return []*role{r}
	}
	var out []*role
	for _, path := range sortedKeys(r.parent.children) {
		out = append(out, r.parent.children[path])
	}
	return out
}

func (a *HierarchicalDRF) qtyMaps(qs []qty) []map[string]float64 {
	out := make([]map[string]float64, 0, len(qs))
	for _, q := range qs {
		m := map[string]float64{}
		for name, v := range a.toMap(q) {
			m[name] = v.Float64()
		}
		out = append(out, m)
	}
	return out
}

func scalarMap(rs resources.Resources) map[string]float64 {
	out := map[string]float64{}
	for _, r := range rs {
		if r.Type == resources.TypeScalar {
			out[r.Name] += r.Scalar.Float64()
		}
	}
	return out
}
