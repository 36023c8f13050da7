package allocator

import (
	"maps"

	"github.com/gomesos/gomesos/resources"
)

// Stats is a snapshot for metrics and state endpoints (Mesos's
// allocator/mesos/* metrics).
type Stats struct {
	Agents           int
	ActiveAgents     int
	Frameworks       int
	ActiveFrameworks int

	// Total is the cluster's scalar resources by name
	// (allocator/mesos/resources/<name>/total).
	Total map[string]resources.Scalar
	// Allocated is what is offered or in use, by name
	// (allocator/mesos/resources/<name>/offered_or_allocated).
	Allocated map[string]resources.Scalar
	// DominantShares is each role's dominant share of the cluster, counting
	// its sub-roles (allocator/mesos/roles/<role>/shares/dominant).
	DominantShares map[string]float64
	// AllocationRuns counts Allocate calls (allocator/mesos/allocation_runs).
	AllocationRuns uint64
	// ActiveFilters counts refuse filters by role
	// (allocator/mesos/offer_filters/roles/<role>/active). Filters that
	// expired since the last Allocate are still counted.
	ActiveFilters map[string]int
	// RejectedRecoveries counts recovered or used resources that were not
	// allocated (or available) and so were ignored; non-zero means the
	// caller's bookkeeping disagrees with the allocator's.
	RejectedRecoveries uint64
	// Quotas is each role's quota configuration, by role
	// (allocator/mesos/quota/roles/<role>/resources/<name>/guarantee and
	// /limit).
	Quotas map[string]Quota
	// QuotaConsumed is, for each role with a quota, what it consumes of
	// it as Mesos counts it (the /roles "consumed" quota): what the role
	// and its sub-roles are allocated of unreserved non-revocable scalars
	// plus their reservations, allocated or not. See quota.go.
	QuotaConsumed map[string]map[string]resources.Scalar
}

// Stats implements Allocator.
func (a *HierarchicalDRF) Stats() Stats {
	s := Stats{
		Agents:             len(a.agents),
		Frameworks:         len(a.frameworks),
		AllocationRuns:     a.runs,
		RejectedRecoveries: a.rejected,
		DominantShares:     make(map[string]float64, len(a.roles)),
		ActiveFilters:      make(map[string]int, len(a.roles)),
	}
	allocated := make(qty, len(a.totalQ))
	copy(allocated, a.totalQ)
	for _, ag := range a.agentList {
		if ag.active {
			s.ActiveAgents++
		}
		allocated.sub(ag.availQ)
		if ag.hasShared {
			allocated.sub(a.unheldSharedQ(ag))
		}
	}
	for _, fw := range a.frameworks {
		if fw.active {
			s.ActiveFrameworks++
		}
	}
	if len(a.quotas) > 0 {
		s.Quotas = make(map[string]Quota, len(a.quotas))
		for role, q := range a.quotas {
			s.Quotas[role] = Quota{Guarantees: maps.Clone(q.Guarantees), Limits: maps.Clone(q.Limits)}
		}
		qc := a.newQuotaCycle()
		s.QuotaConsumed = make(map[string]map[string]resources.Scalar, len(qc.nodes))
		for _, nd := range qc.nodes {
			s.QuotaConsumed[nd.path] = a.toMap(nd.consumed)
		}
	}
	s.Total = a.toMap(a.totalQ)
	s.Allocated = a.toMap(allocated)
	for path, r := range a.roles {
		s.DominantShares[path] = a.dominantShare(r.subtree)
		s.ActiveFilters[path] = r.filters
	}
	return s
}
