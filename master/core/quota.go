package core

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"google.golang.org/protobuf/proto"

	registrypb "github.com/gomesos/gomesos/api/registry"
	masterpb "github.com/gomesos/gomesos/api/v1/master"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/api/v1/quota"
	"github.com/gomesos/gomesos/master/allocator"
	"github.com/gomesos/gomesos/resources"
)

// Quota (Mesos 1.10+ QUOTA_V2): each role's guarantees and limits, set
// with UPDATE_QUOTA (or the legacy SET_QUOTA and REMOVE_QUOTA, and the
// /quota endpoint), validated as Mesos validates them, written to the
// registry (quota_configs) and only then given to the allocator, which
// enforces them. A newly elected master reads them back from the registry
// (Recover) and gives them to its allocator before any allocation.
//
// c.quotas holds the configurations by role, normalized: guarantees of 0
// are dropped (Mesos's ResourceQuantities keeps no zero), limits of 0 are
// kept (a limit of 0 means "none of it"), and a role whose configuration
// ends up with neither has no entry.

// Mesos's bounds on quota values (src/master/quota.cpp): 1 exabyte in
// megabytes for mem and disk, 1 trillion for everything else.
const (
	quotaMaxBytes = 1024 * 1024 * 1024 * 1024
	quotaMaxOther = 1000 * 1000 * 1000 * 1000
)

// quotaOf is a configuration as the allocator takes it.
func quotaOf(qc *quota.QuotaConfig) allocator.Quota {
	q := allocator.Quota{}
	if len(qc.GetGuarantees()) > 0 {
		q.Guarantees = map[string]resources.Scalar{}
		for name, v := range qc.GetGuarantees() {
			q.Guarantees[name] = resources.ScalarFromFloat(v.GetValue())
		}
	}
	if len(qc.GetLimits()) > 0 {
		q.Limits = map[string]resources.Scalar{}
		for name, v := range qc.GetLimits() {
			q.Limits[name] = resources.ScalarFromFloat(v.GetValue())
		}
	}
	return q
}

// normalizeQuota returns the configuration c.quotas keeps for qc: its
// values rounded as Mesos's scalars are, guarantees of 0 dropped.
func normalizeQuota(qc *quota.QuotaConfig) *quota.QuotaConfig {
	out := &quota.QuotaConfig{Role: proto.String(qc.GetRole())}
	for name, v := range qc.GetGuarantees() {
		if s := resources.ScalarFromFloat(v.GetValue()); s > 0 {
			if out.Guarantees == nil {
				out.Guarantees = map[string]*mesos.Value_Scalar{}
			}
			out.Guarantees[name] = &mesos.Value_Scalar{Value: proto.Float64(s.Float64())}
		}
	}
	for name, v := range qc.GetLimits() {
		if out.Limits == nil {
			out.Limits = map[string]*mesos.Value_Scalar{}
		}
		out.Limits[name] = &mesos.Value_Scalar{Value: proto.Float64(resources.ScalarFromFloat(v.GetValue()).Float64())}
	}
	return out
}

func quotaIsZero(qc *quota.QuotaConfig) bool {
	return len(qc.GetGuarantees()) == 0 && len(qc.GetLimits()) == 0
}

// formatScalarMap prints a guarantees or limits map as Mesos's errors show
// one: {'cpus': 2, 'mem': 1024}, by name.
func formatScalarMap(m map[string]*mesos.Value_Scalar) string {
	var b strings.Builder
	b.WriteByte('{')
	for i, name := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "'%s': %s", name, resources.ScalarFromFloat(m[name].GetValue()))
	}
	b.WriteByte('}')
	return b.String()
}

// formatQuantities prints quantities as Mesos's ResourceQuantities do:
// "cpus:2; mem:1024", by name; "{}" when there are none.
func formatQuantities(q map[string]resources.Scalar) string {
	if len(q) == 0 {
		return "{}"
	}
	parts := make([]string, 0, len(q))
	for _, name := range slices.Sorted(maps.Keys(q)) {
		parts = append(parts, name+":"+q[name].String())
	}
	return strings.Join(parts, "; ")
}

// validateQuotaValue checks a guarantee or limit as Mesos's
// validateInputScalarValue does.
func validateQuotaValue(v float64) string {
	switch {
	case math.IsInf(v, 0):
		return "Infinite values not supported"
	case math.IsNaN(v):
		return "NaN not supported"
	case v != 0 && math.Abs(v) < 0x1p-1022:
		return "Subnormal values not supported"
	case v < 0:
		return "Negative values not supported"
	}
	return ""
}

// validateQuotaConfig checks one configuration as Mesos's
// quota::validate does, plus what only scalar quantities can be
// configured for (ports are ranges); the error is what follows
// "Invalid QuotaConfig: ".
func validateQuotaConfig(qc *quota.QuotaConfig) string {
	if qc.Role == nil {
		return "'QuotaConfig.role' must be set"
	}
	if err := validateRole(qc.GetRole()); err != nil {
		return "Invalid 'QuotaConfig.role': " + err.Error()
	}
	if qc.GetRole() == "*" {
		return "Invalid 'QuotaConfig.role': quota cannot be set for the default role '*'"
	}
	tooLarge := func(field string, m map[string]*mesos.Value_Scalar) string {
		for _, name := range slices.Sorted(maps.Keys(m)) {
			v := m[name].GetValue()
			switch {
			case name == "mem" || name == "disk":
				if v > quotaMaxBytes {
					return fmt.Sprintf("Invalid 'QuotaConfig.%s': {'%s': %v} is invalid: values greater than 1 exabyte (%d) are not supported", field, name, v, quotaMaxBytes)
				}
			case v > quotaMaxOther:
				return fmt.Sprintf("Invalid 'QuotaConfig.%s': {'%s': %v} is invalid: values greater than 1 trillion (%d) are not supported", field, name, v, quotaMaxOther)
			}
		}
		return ""
	}
	if msg := tooLarge("guarantees", qc.GetGuarantees()); msg != "" {
		return msg
	}
	if msg := tooLarge("limits", qc.GetLimits()); msg != "" {
		return msg
	}
	check := func(kind string, m map[string]*mesos.Value_Scalar) string {
		for _, name := range slices.Sorted(maps.Keys(m)) {
			v := m[name]
			if name == "" {
				return fmt.Sprintf("Invalid %s configuration: resource names must not be empty", kind)
			}
			if name == "ports" {
				return fmt.Sprintf("Invalid %s configuration {'%s'}: quota applies to scalar resources only", kind, name)
			}
			if v == nil || v.Value == nil {
				return fmt.Sprintf("Invalid %s configuration {'%s'}: expecting a value", kind, name)
			}
			if msg := validateQuotaValue(v.GetValue()); msg != "" {
				return fmt.Sprintf("Invalid %s configuration {'%s': %v}: %s", kind, name, v.GetValue(), msg)
			}
		}
		return ""
	}
	if msg := check("guarantee", qc.GetGuarantees()); msg != "" {
		return msg
	}
	if msg := check("limit", qc.GetLimits()); msg != "" {
		return msg
	}
	for name, g := range qc.GetGuarantees() {
		if l, ok := qc.GetLimits()[name]; ok && resources.ScalarFromFloat(g.GetValue()) > resources.ScalarFromFloat(l.GetValue()) {
			return "'QuotaConfig.guarantees' " + formatScalarMap(qc.GetGuarantees()) +
				" is not contained within the 'QuotaConfig.limits' " + formatScalarMap(qc.GetLimits())
		}
	}
	return ""
}

// quotaTreeError checks the hierarchy of quotas as Mesos's QuotaTree
// does: a role's guarantees contain the sum of its children's (a role
// without quota guarantees nothing, so its children cannot have
// guarantees either). It names the first parent, deepest first, that
// does not.
func quotaTreeError(quotas map[string]*quota.QuotaConfig) string {
	guarantees := func(role string) map[string]resources.Scalar {
		if qc := quotas[role]; qc != nil {
			return quotaOf(qc).Guarantees
		}
		return nil
	}
	// The sum of the guarantees of each parent's direct children,
	// implicit parents included.
	children := map[string]map[string]resources.Scalar{}
	for role := range quotas {
		for r := role; strings.Contains(r, "/"); {
			parent := r[:strings.LastIndexByte(r, '/')]
			sum := children[parent]
			if sum == nil {
				sum = map[string]resources.Scalar{}
				children[parent] = sum
			}
			if r == role {
				for name, v := range guarantees(role) {
					sum[name] += v
				}
			}
			r = parent
		}
	}
	// An implicit parent (a role without quota, on the way to one with)
	// has an entry too: it guarantees nothing, so a child of it with a
	// guarantee is an error found there. Deepest parents first, so that
	// the error names the role nearest to the leaves.
	parents := slices.SortedFunc(maps.Keys(children), func(a, b string) int {
		if d := strings.Count(b, "/") - strings.Count(a, "/"); d != 0 {
			return d
		}
		return strings.Compare(a, b)
	})
	for _, parent := range parents {
		own := guarantees(parent)
		sum := children[parent]
		for name, v := range sum {
			if v > own[name] {
				return fmt.Sprintf("Invalid quota configuration. Parent role '%s' with guarantees (%s) does not contain the sum of its children's guarantees (%s)",
					parent, formatQuantities(own), formatQuantities(sum))
			}
		}
	}
	return ""
}

// totalGuarantees sums the guarantees of the top-level roles (their
// children's are contained in them).
func totalGuarantees(quotas map[string]*quota.QuotaConfig) map[string]resources.Scalar {
	out := map[string]resources.Scalar{}
	for role, qc := range quotas {
		if strings.Contains(role, "/") {
			continue
		}
		for name, v := range quotaOf(qc).Guarantees {
			out[name] += v
		}
	}
	return out
}

// roleAllowed says whether role is on the --roles whitelist, when there
// is one (Mesos's isWhitelistedRole).
func (c *Core) roleAllowed(role string) bool {
	return c.opts.Roles == nil || slices.Contains(c.opts.Roles, role)
}

// clusterCapacity is the non-revocable scalar resources of the admitted
// agents, connected or not (as Mesos counts them for its overcommit
// check).
func (c *Core) clusterCapacity() map[string]resources.Scalar {
	out := map[string]resources.Scalar{}
	for _, a := range c.agents {
		for name, v := range a.total.NonRevocable().ToScalarQuantities() {
			out[name] += v
		}
	}
	return out
}

// overcommitError says whether the guarantees of quotas exceed the
// cluster's capacity.
func (c *Core) overcommitError(quotas map[string]*quota.QuotaConfig) string {
	total, capacity := totalGuarantees(quotas), c.clusterCapacity()
	for name, v := range total {
		if v > capacity[name] {
			return "total quota guarantees '" + formatQuantities(total) + "' exceed cluster capacity '" + formatQuantities(capacity) + "'"
		}
	}
	return ""
}

// operatorUpdateQuota serves UPDATE_QUOTA: all of the configurations are
// applied, or none.
func (c *Core) operatorUpdateQuota(u *masterpb.Call_UpdateQuota) Result {
	if u == nil {
		return fail(Invalid, "Expecting 'update_quota' to be present")
	}
	seen := map[string]bool{}
	for _, qc := range u.GetQuotaConfigs() {
		if msg := validateQuotaConfig(qc); msg != "" {
			return fail(Invalid, "Invalid QuotaConfig: %s", msg)
		}
		if seen[qc.GetRole()] {
			return fail(Invalid, "Invalid QuotaConfig: role '%s' appears more than once", qc.GetRole())
		}
		seen[qc.GetRole()] = true
		if !c.roleAllowed(qc.GetRole()) {
			return fail(Invalid, "Invalid QuotaConfig: '%s' is not on the roles whitelist", qc.GetRole())
		}
	}
	next := maps.Clone(c.quotas)
	var configs []*quota.QuotaConfig
	for _, qc := range u.GetQuotaConfigs() {
		n := normalizeQuota(qc)
		configs = append(configs, n)
		if quotaIsZero(n) {
			delete(next, n.GetRole())
		} else {
			next[n.GetRole()] = n
		}
	}
	if msg := quotaTreeError(next); msg != "" {
		return fail(Invalid, "Invalid QuotaConfig: %s", msg)
	}
	if msg := c.overcommitError(next); msg != "" {
		if !u.GetForce() {
			return fail(Invalid, "Invalid QuotaConfig: %s (use 'force' flag to bypass this check)", msg)
		}
		c.log.Info("using the force flag to override the quota overcommit check", "error", msg)
	}
	if len(configs) == 0 {
		return Result{Code: OK}
	}
	c.applyQuotas(configs)
	return Result{Code: OK}
}

// applyQuotas records configs, normalized and validated, in the registry
// and then in the allocator; for each role whose guarantees grow, it
// rescinds outstanding offers so that the allocator can meet them at its
// next run (rescindForQuota).
func (c *Core) applyQuotas(configs []*quota.QuotaConfig) {
	var grown []*quota.QuotaConfig
	for _, qc := range configs {
		old := quotaOf(c.quotas[qc.GetRole()]).Guarantees
		for name, v := range quotaOf(qc).Guarantees {
			if v > old[name] {
				grown = append(grown, qc)
				break
			}
		}
	}
	op := &registrypb.Operation{Type: registrypb.Operation_UPDATE_QUOTA.Enum()}
	for _, qc := range configs {
		op.QuotaConfigs = append(op.QuotaConfigs, clone(qc))
	}
	c.persist(op)
	for _, qc := range configs {
		role := qc.GetRole()
		if quotaIsZero(qc) {
			delete(c.quotas, role)
		} else {
			c.quotas[role] = qc
		}
		c.alloc.UpdateQuota(role, quotaOf(qc))
		c.log.Info("updated the quota of a role", "role", role,
			"guarantees", formatScalarMap(qc.GetGuarantees()), "limits", formatScalarMap(qc.GetLimits()))
	}
	// As Mesos: the quota first, then the rescinds, so that what they
	// return is allocated under the new quota.
	for _, qc := range grown {
		c.rescindForQuota(qc)
	}
	c.quotasChanged = true
	c.allocateSoon = true
}

// rescindForQuota rescinds outstanding offers so that a role's new
// guarantee can be met from them, by Mesos's rule for SET_QUOTA
// (Master::QuotaHandler::rescindOffers): every offer of an agent at a
// time (all of them, for larger offers), agent by agent (connected and
// active ones, in id order here), until the resources rescinded contain
// the guarantee and offers were rescinded on at least as many agents as
// the role has active frameworks.
func (c *Core) rescindForQuota(qc *quota.QuotaConfig) {
	want := quotaOf(qc).Guarantees
	frameworks := 0
	for _, fw := range c.frameworks {
		if fw.active && slices.Contains(fw.roles(), qc.GetRole()) {
			frameworks++
		}
	}
	rescinded := map[string]resources.Scalar{}
	enough := func() bool {
		for name, v := range want {
			if rescinded[name] < v {
				return false
			}
		}
		return true
	}
	visited := 0
	for _, id := range sortedKeys(c.agents) {
		if enough() && visited >= frameworks {
			return
		}
		a := c.agents[id]
		if a.conn == "" || !a.active || len(a.offers) == 0 {
			continue
		}
		for _, oid := range sortedKeys(a.offers) {
			o := a.offers[oid]
			for name, v := range o.res.ToScalarQuantities() {
				rescinded[name] += v
			}
			c.rescindOffer(o, true)
		}
		visited++
	}
}

// operatorSetQuota serves the legacy SET_QUOTA (and POST /quota): the
// guarantee, which is the limit too, of a role that has no quota yet.
func (c *Core) operatorSetQuota(s *masterpb.Call_SetQuota) Result {
	if s == nil || s.QuotaRequest == nil {
		return fail(Invalid, "Expecting 'set_quota' to be present")
	}
	req := s.GetQuotaRequest()
	const prefix = "Failed to validate set quota request: "
	for _, r := range req.GetGuarantee() {
		if r.GetName() == "" {
			return fail(Invalid, prefix+"QuotaInfo with invalid resource: Empty resource name")
		}
		if r.GetType() == mesos.Value_SCALAR {
			if r.Scalar == nil {
				return fail(Invalid, prefix+"QuotaInfo with invalid resource: Invalid scalar resource: no scalar value for '%s'", r.GetName())
			}
			if msg := validateQuotaValue(r.GetScalar().GetValue()); msg != "" {
				return fail(Invalid, prefix+"QuotaInfo with invalid resource: Invalid scalar resource '%s': %s", r.GetName(), msg)
			}
		}
	}
	role := req.GetRole()
	switch {
	case req.Role == nil:
		return fail(Invalid, prefix+"QuotaInfo must specify a role")
	case validateRole(role) != nil:
		return fail(Invalid, prefix+"QuotaInfo with invalid role: %s", validateRole(role))
	case role == "*":
		return fail(Invalid, prefix+"QuotaInfo with invalid role: quota cannot be set for the default role '*'")
	case len(req.GetGuarantee()) == 0:
		return fail(Invalid, prefix+"QuotaInfo with empty 'guarantee'")
	}
	config := &quota.QuotaConfig{Role: proto.String(role), Guarantees: map[string]*mesos.Value_Scalar{}, Limits: map[string]*mesos.Value_Scalar{}}
	for _, r := range req.GetGuarantee() {
		switch {
		case len(r.GetReservations()) > 0 || r.Role != nil && r.GetRole() != "*" || r.Reservation != nil:
			return fail(Invalid, prefix+"QuotaInfo must not contain any ReservationInfo")
		case r.Disk != nil:
			return fail(Invalid, prefix+"QuotaInfo must not contain DiskInfo")
		case r.Revocable != nil:
			return fail(Invalid, prefix+"QuotaInfo must not contain RevocableInfo")
		case r.GetType() != mesos.Value_SCALAR:
			return fail(Invalid, prefix+"QuotaInfo must not include non-scalar resources")
		case config.Guarantees[r.GetName()] != nil:
			return fail(Invalid, prefix+"QuotaInfo contains duplicate resource name '%s'", r.GetName())
		}
		config.Guarantees[r.GetName()] = &mesos.Value_Scalar{Value: proto.Float64(r.GetScalar().GetValue())}
		config.Limits[r.GetName()] = &mesos.Value_Scalar{Value: proto.Float64(r.GetScalar().GetValue())}
	}
	if msg := validateQuotaConfig(config); msg != "" {
		return fail(Invalid, prefix+"%s", msg)
	}
	if !c.roleAllowed(role) {
		return fail(Invalid, prefix+"Unknown role '%s'", role)
	}
	if _, has := c.quotas[role]; has {
		return fail(Invalid, prefix+"Cannot set quota for role '%s' which already has quota", role)
	}
	n := normalizeQuota(config)
	next := maps.Clone(c.quotas)
	next[role] = n
	if msg := quotaTreeError(next); msg != "" {
		return fail(Invalid, prefix+"%s", msg)
	}
	if !req.GetForce() {
		if msg := c.overcommitError(next); msg != "" {
			return fail(Conflict, "Quota guarantees overcommit the cluster (use 'force' to bypass this check): Total quota guarantees '%s' exceed cluster capacity '%s'",
				formatQuantities(totalGuarantees(next)), formatQuantities(c.clusterCapacity()))
		}
	}
	if quotaIsZero(n) {
		// Guarantees of 0 only: a config that sets nothing.
		return Result{Code: OK}
	}
	c.applyQuotas([]*quota.QuotaConfig{n})
	return Result{Code: OK}
}

// operatorRemoveQuota serves the legacy REMOVE_QUOTA (and DELETE
// /quota/ROLE).
func (c *Core) operatorRemoveQuota(r *masterpb.Call_RemoveQuota) Result {
	if r == nil {
		return fail(Invalid, "Expecting 'remove_quota' to be present")
	}
	role := r.GetRole()
	if !c.roleAllowed(role) {
		return fail(Invalid, "Failed to validate remove quota request: Unknown role '%s'", role)
	}
	if _, has := c.quotas[role]; !has {
		return fail(Invalid, "Failed to remove quota: Role '%s' has no quota set", role)
	}
	next := maps.Clone(c.quotas)
	delete(next, role)
	if msg := quotaTreeError(next); msg != "" {
		return fail(Invalid, "Failed to remove quota: %s", msg)
	}
	c.applyQuotas([]*quota.QuotaConfig{{Role: proto.String(role)}})
	return Result{Code: OK}
}

// recoverQuotas gives the registry's quotas to the allocator of a newly
// elected master.
func (c *Core) recoverQuotas(reg *registrypb.Registry) {
	for _, qc := range reg.GetQuotaConfigs() {
		n := normalizeQuota(qc)
		if quotaIsZero(n) || validateQuotaConfig(n) != "" {
			c.log.Warn("ignoring an invalid quota in the registry", "role", qc.GetRole())
			continue
		}
		c.quotas[n.GetRole()] = n
		c.alloc.UpdateQuota(n.GetRole(), quotaOf(n))
	}
	if len(c.quotas) > 0 {
		c.log.Info("recovered quotas from the registry", "roles", len(c.quotas))
	}
	c.quotasChanged = true
}

// publishQuotas is the quotas as the snapshots show them: the
// configurations, and what the allocator holds (its Stats, which the
// quota metrics report).
func (c *Core) publishQuotas() (map[string]*quota.QuotaConfig, map[string]allocator.Quota) {
	return maps.Clone(c.quotas), c.alloc.Stats().Quotas
}

// QuotaStatus answers GET_QUOTA and GET /quota: the configurations, and
// the legacy QuotaInfo of each (its guarantees), in role order.
func (s *Snapshot) QuotaStatus() *quota.QuotaStatus {
	out := &quota.QuotaStatus{}
	for _, role := range sortedKeys(s.quotas) {
		qc := s.quotas[role]
		info := &quota.QuotaInfo{Role: proto.String(role)}
		for _, name := range slices.Sorted(maps.Keys(qc.GetGuarantees())) {
			info.Guarantee = append(info.Guarantee, &mesos.Resource{
				Name: proto.String(name), Type: mesos.Value_SCALAR.Enum(),
				Scalar: &mesos.Value_Scalar{Value: proto.Float64(qc.GetGuarantees()[name].GetValue())},
			})
		}
		out.Infos = append(out.Infos, info)
		out.Configs = append(out.Configs, clone(qc))
	}
	return out
}

// Quotas is each role's quota configuration. Callers must not change it.
func (s *Snapshot) Quotas() map[string]*quota.QuotaConfig { return s.quotas }
