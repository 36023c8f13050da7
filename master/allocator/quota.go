package allocator

import (
	"maps"

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
// This first version only records the configuration (it is reported by
// Stats); guarantees, headroom and limits are applied by the cycle in
// later work.
func (a *HierarchicalDRF) UpdateQuota(role string, q Quota) {
	if a.quotas == nil {
		a.quotas = map[string]Quota{}
	}
	if q.IsZero() {
		delete(a.quotas, role)
		return
	}
	a.quotas[role] = Quota{Guarantees: maps.Clone(q.Guarantees), Limits: maps.Clone(q.Limits)}
}
