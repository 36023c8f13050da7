package core

import (
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	registrypb "github.com/gomesos/gomesos/api/registry"
	masterpb "github.com/gomesos/gomesos/api/v1/master"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/api/v1/quota"
	"github.com/gomesos/gomesos/registry"
	"github.com/gomesos/gomesos/resources"
)

func scalars(kv ...any) map[string]*mesos.Value_Scalar {
	out := map[string]*mesos.Value_Scalar{}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = &mesos.Value_Scalar{Value: proto.Float64(kv[i+1].(float64))}
	}
	return out
}

func guarantee(role string, kv ...any) *quota.QuotaConfig {
	return &quota.QuotaConfig{Role: proto.String(role), Guarantees: scalars(kv...)}
}

// A role's guarantees contain the sum of its children's, at every level;
// the deepest parent that does not is named; a role without quota
// guarantees nothing, so its children cannot have guarantees.
func TestQuotaTreeValidation(t *testing.T) {
	limitOnly := func(role string) *quota.QuotaConfig {
		return &quota.QuotaConfig{Role: proto.String(role), Limits: scalars("cpus", 1.0)}
	}
	cases := []struct {
		configs []*quota.QuotaConfig
		want    string
	}{
		{[]*quota.QuotaConfig{guarantee("a", "cpus", 4.0), guarantee("a/b", "cpus", 2.0), guarantee("a/c", "cpus", 2.0)}, ""},
		{[]*quota.QuotaConfig{guarantee("a", "cpus", 4.0, "mem", 10.0), guarantee("a/b", "cpus", 3.0), guarantee("a/c", "cpus", 2.0, "mem", 1.0)},
			"Parent role 'a' with guarantees (cpus:4; mem:10) does not contain the sum of its children's guarantees (cpus:5; mem:1)"},
		{[]*quota.QuotaConfig{guarantee("a", "cpus", 4.0), guarantee("a/b", "cpus", 2.0), guarantee("a/b/c", "cpus", 3.0)}, "Parent role 'a/b' with guarantees (cpus:2)"},
		{[]*quota.QuotaConfig{guarantee("a/b/c", "cpus", 1.0)}, "Parent role 'a/b' with guarantees ({}) does not contain"},
		{[]*quota.QuotaConfig{guarantee("a", "cpus", 1.0), guarantee("a/b", "gpus", 1.0)}, "Parent role 'a' with guarantees (cpus:1)"},
		{[]*quota.QuotaConfig{limitOnly("a"), limitOnly("a/b"), limitOnly("a/b/c")}, ""},
		{[]*quota.QuotaConfig{guarantee("x", "cpus", 1.0), guarantee("y/z", "cpus", 0.0)}, ""}, // a zero guarantee is none
	}
	for _, c := range cases {
		quotas := map[string]*quota.QuotaConfig{}
		var roles []string
		for _, qc := range c.configs {
			quotas[qc.GetRole()] = normalizeQuota(qc)
			roles = append(roles, qc.GetRole())
		}
		got := quotaTreeError(quotas)
		if c.want == "" && got != "" || c.want != "" && !strings.Contains(got, c.want) {
			t.Errorf("%v: %q, want %q", roles, got, c.want)
		}
	}
}

// Values Mesos's validateInputScalarValue refuses, which JSON cannot
// carry but protobuf can.
func TestQuotaConfigRefusesNonFiniteValues(t *testing.T) {
	for v, want := range map[float64]string{
		// +Inf is too large first, as in Mesos, which checks the bounds
		// before the values.
		math.NaN(): "NaN not supported", math.Inf(1): "values greater than 1 trillion",
		math.Inf(-1): "Infinite values not supported", 1e-310: "Subnormal values not supported",
	} {
		qc := &quota.QuotaConfig{Role: proto.String("r"), Limits: scalars("cpus", v)}
		if got := validateQuotaConfig(qc); !strings.Contains(got, want) {
			t.Errorf("limit %v: %q, want %q", v, got, want)
		}
	}
	if got := validateQuotaConfig(&quota.QuotaConfig{Limits: scalars("cpus", 1.0)}); got != "'QuotaConfig.role' must be set" {
		t.Errorf("no role: %q", got)
	}
}

func updateQuotaCall(force bool, configs ...*quota.QuotaConfig) *masterpb.Call {
	return &masterpb.Call{Type: masterpb.Call_UPDATE_QUOTA.Enum(), UpdateQuota: &masterpb.Call_UpdateQuota{Force: proto.Bool(force), QuotaConfigs: configs}}
}

// UPDATE_QUOTA says the registry operation before the allocator's quota
// changes (a Persist: the driver commits it before it answers), refuses
// bad input with no output at all, and a newly elected master gives the
// registry's quotas to its allocator.
func TestQuotaIsPersistedThenRecoveredIntoTheAllocator(t *testing.T) {
	r := newRig(t)
	r.agent("c1", plainAgent("h1"), "10.0.0.2:5051")
	n := len(r.outs)
	eng := &quota.QuotaConfig{Role: proto.String("eng"), Guarantees: scalars("cpus", 2.0, "mem", 0.0), Limits: scalars("cpus", 3.0, "gpus", 0.0)}
	r.operator(updateQuotaCall(false, eng))
	var persisted *registrypb.Operation
	for _, o := range r.since(n) {
		if p, ok := o.(Persist); ok {
			for _, op := range p.Ops {
				if op.GetType() == registrypb.Operation_UPDATE_QUOTA {
					persisted = op
				}
			}
		}
	}
	if persisted == nil || len(persisted.GetQuotaConfigs()) != 1 {
		t.Fatalf("UPDATE_QUOTA said no registry operation: %v", r.since(n))
	}
	// Normalized: the zero guarantee dropped, the zero limit kept.
	if got := persisted.GetQuotaConfigs()[0]; len(got.GetGuarantees()) != 1 || len(got.GetLimits()) != 2 || got.GetLimits()["gpus"].GetValue() != 0 {
		t.Errorf("persisted config %v", got)
	}
	q := r.c.alloc.Stats().Quotas["eng"]
	if q.Guarantees["cpus"] != 2*resources.ScalarUnit || q.Limits["cpus"] != 3*resources.ScalarUnit || q.Limits["gpus"] != 0 || len(q.Limits) != 2 {
		t.Errorf("the allocator holds %+v", q)
	}

	// Refused: nothing is output, nothing changes.
	n = len(r.outs)
	res := r.c.Step(r.now, OperatorCall{Call: updateQuotaCall(false, guarantee("ops", "cpus", 1.0), guarantee("big", "cpus", 100.0))})
	if res.Code != Invalid || !strings.Contains(res.Message, "exceed cluster capacity") {
		t.Errorf("overcommitting UPDATE_QUOTA: %v %q", res.Code, res.Message)
	}
	if outs := r.c.Outputs(); len(outs) != 0 {
		t.Errorf("a refused UPDATE_QUOTA output %v", outs)
	}
	if len(r.c.alloc.Stats().Quotas) != 1 || len(r.c.Snapshot().QuotaStatus().GetConfigs()) != 1 {
		t.Errorf("a refused UPDATE_QUOTA changed the quotas: %v", r.c.Snapshot().QuotaStatus())
	}

	f := r.failover(Options{})
	if got := f.c.alloc.Stats().Quotas["eng"]; got.Guarantees["cpus"] != 2*resources.ScalarUnit || got.Limits["cpus"] != 3*resources.ScalarUnit {
		t.Errorf("the new master's allocator holds %+v", got)
	}
	st := f.c.Snapshot().QuotaStatus()
	if len(st.GetConfigs()) != 1 || st.GetConfigs()[0].GetRole() != "eng" || len(st.GetInfos()) != 1 || len(st.GetInfos()[0].GetGuarantee()) != 1 {
		t.Errorf("the new master's GET_QUOTA: %v", st)
	}
}

// Any UPDATE_QUOTA, decoded from any bytes, is taken or refused whole: a
// refusal leaves the quotas and the registry as they were; once taken,
// every quota is valid, the hierarchy holds, and the registry, the
// master and the allocator agree.
func FuzzUpdateQuota(f *testing.F) {
	seed := func(force bool, configs ...*quota.QuotaConfig) {
		b, err := proto.Marshal(&masterpb.Call_UpdateQuota{Force: proto.Bool(force), QuotaConfigs: configs})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	seed(false, guarantee("a", "cpus", 1.0))
	seed(true, guarantee("a", "cpus", 100.0), guarantee("a/b", "cpus", 50.0))
	seed(false, &quota.QuotaConfig{Role: proto.String("a"), Limits: scalars("cpus", 1.0, "ports", 2.0)})
	seed(false, &quota.QuotaConfig{Role: proto.String("a b"), Guarantees: scalars("mem", -1.0)})
	seed(true, guarantee("x/y/z", "gpus", 1.0), &quota.QuotaConfig{Role: proto.String("x")})
	seed(false)
	f.Fuzz(func(t *testing.T, b []byte) {
		u := &masterpb.Call_UpdateQuota{}
		if proto.Unmarshal(b, u) != nil {
			return
		}
		r := newRig(t)
		r.agent("c1", plainAgent("h1"), "10.0.0.2:5051")
		r.operator(updateQuotaCall(true, guarantee("base", "cpus", 1.0)))
		before := r.c.Snapshot().QuotaStatus()
		regBefore := proto.Clone(r.reg)
		res := r.c.Step(r.now, OperatorCall{Call: &masterpb.Call{Type: masterpb.Call_UPDATE_QUOTA.Enum(), UpdateQuota: u}})
		for _, o := range r.c.Outputs() {
			if p, ok := o.(Persist); ok {
				for _, op := range p.Ops {
					registry.Apply(r.reg, op)
				}
			}
		}
		after := r.c.Snapshot().QuotaStatus()
		if res.Code.Failed() {
			if !proto.Equal(before, after) || !proto.Equal(regBefore, r.reg) {
				t.Fatalf("refused (%s) yet changed: %v -> %v", res.Message, before, after)
			}
			return
		}
		quotas := map[string]*quota.QuotaConfig{}
		for _, qc := range after.GetConfigs() {
			if msg := validateQuotaConfig(qc); msg != "" || quotaIsZero(qc) {
				t.Fatalf("an invalid or empty quota was taken: %v: %s", qc, msg)
			}
			quotas[qc.GetRole()] = qc
		}
		if msg := quotaTreeError(quotas); msg != "" {
			t.Fatalf("the hierarchy broke: %s", msg)
		}
		if len(r.reg.GetQuotaConfigs()) != len(quotas) || len(r.c.alloc.Stats().Quotas) != len(quotas) {
			t.Fatalf("registry %d, master %d, allocator %d quotas", len(r.reg.GetQuotaConfigs()), len(quotas), len(r.c.alloc.Stats().Quotas))
		}
		for _, qc := range r.reg.GetQuotaConfigs() {
			if !proto.Equal(qc, quotas[qc.GetRole()]) {
				t.Fatalf("registry %v, master %v", qc, quotas[qc.GetRole()])
			}
		}
	})
}
