package sim

import (
	"fmt"
	"maps"
	"slices"
	"time"

	masterpb "github.com/gomesos/gomesos/api/v1/master"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/api/v1/quota"
	"github.com/gomesos/gomesos/master/core"
	"github.com/gomesos/gomesos/resources"
	"google.golang.org/protobuf/proto"
)

// The operator's quota: now and then (Config.QuotaUpdates) it sends
// UPDATE_QUOTA for one of a few roles no framework uses, setting a small
// guarantee and limit, limits only, or nothing (which removes the quota).
// The invariant quota-durable: the leading master's quotas (GET_QUOTA,
// from its snapshot) and those its allocator holds (Stats) are the
// registry's, so that a quota the master acted on was committed, and a
// master elected later gives its allocator what the registry holds.

// quotaRoles are the roles the operator sets quotas on: no framework's,
// so that a limit starves nobody and the guarantees, small, hold back
// little.
var quotaRoles = []string{"ops-quota", "batch-quota"}

// quotaOperator sends one UPDATE_QUOTA by the seed, and comes back in a
// second while the workload runs.
func (w *world) quotaOperator() {
	if w.phase != phaseRun || w.ended {
		return
	}
	if w.leading && w.chance(w.cfg.QuotaUpdates) {
		role := quotaRoles[w.rng.IntN(len(quotaRoles))]
		qc := &quota.QuotaConfig{Role: proto.String(role)}
		scalar := func(v float64) *mesos.Value_Scalar { return &mesos.Value_Scalar{Value: proto.Float64(v)} }
		switch w.rng.IntN(3) {
		case 0:
			g := float64(1 + w.rng.IntN(4))
			qc.Guarantees = map[string]*mesos.Value_Scalar{"cpus": scalar(g / 2), "mem": scalar(64 * g)}
			qc.Limits = map[string]*mesos.Value_Scalar{"cpus": scalar(g), "mem": scalar(128 * g)}
		case 1:
			qc.Limits = map[string]*mesos.Value_Scalar{"cpus": scalar(float64(w.rng.IntN(3)))}
		}
		call := &masterpb.Call{Type: masterpb.Call_UPDATE_QUOTA.Enum(), UpdateQuota: &masterpb.Call_UpdateQuota{
			Force: proto.Bool(true), QuotaConfigs: []*quota.QuotaConfig{qc},
		}}
		desc := fmt.Sprintf("operator UPDATE_QUOTA %s guarantees %d limits %d", role, len(qc.Guarantees), len(qc.Limits))
		if r := w.step(core.OperatorCall{Call: call}, desc); r.Code == core.OK {
			w.report.QuotaUpdates++
		} else if w.leading {
			w.fail("quota-durable", "%s answered %s %s", desc, r.Code, r.Message)
			return
		}
		w.checkQuotas()
	}
	w.after(time.Second, w.quotaOperator)
}

// checkQuotas is the invariant quota-durable (see above).
func (w *world) checkQuotas() {
	if w.failure != nil || !w.leading {
		return
	}
	want := map[string]string{}
	for _, qc := range w.registry.GetQuotaConfigs() {
		want[qc.GetRole()] = quotaText(qc.GetGuarantees(), qc.GetLimits())
	}
	published := map[string]string{}
	for _, qc := range w.core.Snapshot().QuotaStatus().GetConfigs() {
		published[qc.GetRole()] = quotaText(qc.GetGuarantees(), qc.GetLimits())
	}
	held := map[string]string{}
	for role, q := range w.alloc.Stats().Quotas {
		g, l := map[string]*mesos.Value_Scalar{}, map[string]*mesos.Value_Scalar{}
		for name, v := range q.Guarantees {
			g[name] = &mesos.Value_Scalar{Value: proto.Float64(v.Float64())}
		}
		for name, v := range q.Limits {
			l[name] = &mesos.Value_Scalar{Value: proto.Float64(v.Float64())}
		}
		held[role] = quotaText(g, l)
	}
	if !maps.Equal(want, published) || !maps.Equal(want, held) {
		w.fail("quota-durable", "master %s: the registry holds quotas %v, GET_QUOTA answers %v, the allocator holds %v",
			w.core.Info().GetId(), want, published, held)
	}
}

// quotaText prints guarantees and limits by name, values as Mesos's
// scalars round them.
func quotaText(g, l map[string]*mesos.Value_Scalar) string {
	text := func(m map[string]*mesos.Value_Scalar) string {
		s := ""
		for _, name := range slices.Sorted(maps.Keys(m)) {
			s += name + ":" + resources.ScalarFromFloat(m[name].GetValue()).String() + ";"
		}
		return s
	}
	return "g{" + text(g) + "} l{" + text(l) + "}"
}
