package core

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/master/allocator"
	"github.com/gomesos/gomesos/resources"
)

// The explainer names the quota reasons: headroom held for another role's
// guarantee, and the framework's role at its limit.
func TestExplainNamesQuotaReasons(t *testing.T) {
	r := newRig(t)
	for _, conn := range []string{"conn-1", "conn-2"} {
		r.agent(conn, &mesos.AgentInfo{
			Hostname: proto.String(conn + ".example"), Port: proto.Int32(5051),
			Resources: resources.ToProto(resources.MustParse("cpus:2;mem:1024")),
		}, "")
	}
	r.c.alloc.UpdateQuota("a", allocator.Quota{Guarantees: map[string]resources.Scalar{"cpus": resources.ScalarFromInt(2)}})
	r.c.alloc.UpdateQuota("b", allocator.Quota{Limits: map[string]resources.Scalar{"cpus": resources.ScalarFromInt(1)}})
	fw := r.subscribe("stream-b", &mesos.FrameworkInfo{Name: proto.String("b"), User: proto.String("u"), Role: proto.String("b")})
	r.tick()

	ex, ok := r.c.Explain(fw.id)
	if !ok || len(ex.PerRole) != 1 {
		t.Fatalf("explanation %+v, %v", ex, ok)
	}
	want := []string{
		"quota headroom held for other roles: cpus:2 of the free unreserved resources are kept for the unmet guarantees of a, and role b may not be offered them",
		"role b is at its quota limit: role b consumes 1 cpus of its limit 1",
	}
	for _, w := range want {
		if !slices.ContainsFunc(ex.Reasons, func(s string) bool { return strings.Contains(s, w) }) {
			t.Errorf("no reason contains %q; reasons: %q", w, ex.Reasons)
		}
	}
	re := ex.PerRole[0]
	if len(re.Quotas) != 1 || re.Quotas[0].Role != "b" || re.Quotas[0].Consumed["cpus"] != 1 {
		t.Errorf("quotas of role b: %+v", re.Quotas)
	}
	if re.HeadroomHeld["cpus"] != 2 || !slices.Equal(re.HeadroomFor, []string{"a"}) {
		t.Errorf("headroom held %v for %v, want cpus:2 for [a]", re.HeadroomHeld, re.HeadroomFor)
	}
}
