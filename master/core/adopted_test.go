package core

import (
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/resources"
)

func scalarPB(name string, v float64, role string) *mesos.Resource {
	r := &mesos.Resource{Name: proto.String(name), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(v)}}
	if role != "" {
		r.AllocationInfo = &mesos.Resource_AllocationInfo{Role: proto.String(role)}
	}
	return r
}

func withRole(r *mesos.Resource, role string) *mesos.Resource {
	r.Role = proto.String(role)
	return r
}

// Tasks adopted one after the other share the conversion of their
// resources when these are alike (as separate messages), and only then:
// every task still gets exactly its own resources and role.
func TestAdoptedResourcesShareAlikeConversions(t *testing.T) {
	var memo adoptedResources
	first, role := memo.convert([]*mesos.Resource{scalarPB("cpus", 1, "web"), scalarPB("mem", 128, "web")})
	if want := resources.MustParse("cpus:1;mem:128"); !first.Unallocated().Equal(want) || role != "web" {
		t.Fatalf("first task: %v allocated to %q, want %v allocated to web", first, role, want)
	}
	again, role := memo.convert([]*mesos.Resource{scalarPB("cpus", 1, "web"), scalarPB("mem", 128, "web")})
	if &again[0] != &first[0] || role != "web" {
		t.Errorf("alike resources were converted again (%v, %q)", again, role)
	}

	// Each difference gets a conversion of its own, with its own values.
	for _, c := range []struct {
		name string
		pbs  []*mesos.Resource
		want string
		role string
	}{
		{"another value", []*mesos.Resource{scalarPB("cpus", 2, "web"), scalarPB("mem", 128, "web")}, "cpus:2;mem:128", "web"},
		{"another role", []*mesos.Resource{scalarPB("cpus", 2, "db"), scalarPB("mem", 128, "db")}, "cpus:2;mem:128", "db"},
		{"unallocated", []*mesos.Resource{scalarPB("cpus", 2, ""), scalarPB("mem", 128, "")}, "cpus:2;mem:128", ""},
		{"another name", []*mesos.Resource{scalarPB("cpus", 2, ""), scalarPB("disk", 128, "")}, "cpus:2;disk:128", ""},
		{"one fewer", []*mesos.Resource{scalarPB("cpus", 2, "")}, "cpus:2", ""},
		{"the pre-refinement role *", []*mesos.Resource{withRole(scalarPB("cpus", 2, ""), "*")}, "cpus:2", ""},
		{"again, reserved to a role", []*mesos.Resource{withRole(scalarPB("cpus", 2, ""), "db")}, "cpus(db):2", ""},
	} {
		prev := memo.res
		got, role := memo.convert(c.pbs)
		if want := resources.MustParse(c.want); !got.Unallocated().Equal(want) || role != c.role {
			t.Errorf("%s: %v allocated to %q, want %v allocated to %q", c.name, got, role, want, c.role)
		}
		if len(prev) > 0 && len(got) > 0 && &got[0] == &prev[0] {
			t.Errorf("%s: shares the conversion of the task before", c.name)
		}
	}

	// As the master sends them to an agent: unreserved in the
	// pre-refinement format (role "*"), allocated to a role.
	star := func() []*mesos.Resource {
		return []*mesos.Resource{withRole(scalarPB("cpus", 1, "web"), "*"), withRole(scalarPB("mem", 64, "web"), "*")}
	}
	a, _ := memo.convert(star())
	b, role := memo.convert(star())
	if &a[0] != &b[0] || role != "web" || !b.Unallocated().Equal(resources.MustParse("cpus:1;mem:64")) {
		t.Errorf("alike resources with the role * converted as %v and %v (allocated to %q), not shared", a, b, role)
	}

	// A resource with more than a name, a value and a role is converted
	// for its task alone, even when alike.
	reserved := func() []*mesos.Resource {
		r := scalarPB("cpus", 2, "")
		r.Reservations = []*mesos.Resource_ReservationInfo{{Type: mesos.Resource_ReservationInfo_STATIC.Enum(), Role: proto.String("db")}}
		return []*mesos.Resource{r}
	}
	a, _ = memo.convert(reserved())
	b, _ = memo.convert(reserved())
	if &a[0] == &b[0] {
		t.Error("reserved resources shared a conversion")
	}
	if !a.Equal(b) || !a[0].IsReserved() {
		t.Errorf("reserved resources converted as %v and %v", a, b)
	}
}
