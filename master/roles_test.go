package master_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/master"
	"google.golang.org/protobuf/proto"
)

// Mesos (src/common/roles.cpp): a SUBSCRIBE naming an invalid role is
// answered ERROR with roles::validate's message; UPDATE_FRAMEWORK to one is
// 400 with it, and the framework keeps its roles.
func TestRoleNamesValidatedAsMesos(t *testing.T) {
	m := startMaster(t)
	cases := []struct{ role, msg string }{
		{"/eng", "Role '/eng' cannot start with a slash"},
		{"eng/", "Role 'eng/' cannot end with a slash"},
		{"eng//ml", "Role 'eng//ml' cannot contain two adjacent slashes"},
		{"eng/./ml", "Role 'eng/./ml' cannot include '.' as a component"},
		{"..", "Role '..' cannot include '..' as a component"},
		{"eng/*", "Role 'eng/*' cannot include '*' as a component"},
		{"eng/-ml", "Role component '-ml' is invalid because it starts with a dash"},
		{"eng/m l", "Role component 'm l' is invalid because it contains backspace or whitespace"},
		{"eng\x7f", "Role component 'eng\x7f' is invalid because it contains backspace or whitespace"},
	}
	for _, tc := range cases {
		fi := frameworkInfo("bad-role", mesos.FrameworkInfo_Capability_MULTI_ROLE)
		fi.Roles = []string{tc.role}
		s := openStream(t, m, fi, codec.JSON)
		if got := s.next(schedpb.Event_ERROR).GetError().GetMessage(); got != tc.msg {
			t.Errorf("role %q: ERROR %q, want %q", tc.role, got, tc.msg)
		}
	}

	fi := frameworkInfo("good-role", mesos.FrameworkInfo_Capability_MULTI_ROLE)
	fi.Roles = []string{"eng/ml", "ops"}
	s := subscribe(t, m, fi, codec.JSON)
	upd := proto.Clone(fi).(*mesos.FrameworkInfo)
	upd.Id = &mesos.FrameworkID{Value: proto.String(s.FrameworkID)}
	upd.Roles = []string{"eng/ml", "-ops"}
	status, body := s.post(&schedpb.Call{Type: schedpb.Call_UPDATE_FRAMEWORK.Enum(), UpdateFramework: &schedpb.Call_UpdateFramework{FrameworkInfo: upd}})
	if status != http.StatusBadRequest || !strings.Contains(body, "Role component '-ops' is invalid because it starts with a dash") {
		t.Errorf("UPDATE_FRAMEWORK to an invalid role: %d %q, want 400 with Mesos's message", status, body)
	}
	fw := findByID(objects(m.getJSON("/master/frameworks")["frameworks"]), s.FrameworkID)
	if got := fw["roles"]; !slices.Equal(toStrings(got), []string{"eng/ml", "ops"}) {
		t.Errorf("roles after a refused update = %v, want [eng/ml ops]", got)
	}
}

func toStrings(v any) []string {
	var out []string
	list, _ := v.([]any)
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// Mesos's deprecated --roles: a framework may subscribe only to roles on
// the list (and "*"); another role is refused at SUBSCRIBE and at
// UPDATE_FRAMEWORK.
func TestRolesWhitelist(t *testing.T) {
	m := startMaster(t, func(c *master.Config) { c.Roles = []string{"eng", "ops"} })
	fi := frameworkInfo("outsider", mesos.FrameworkInfo_Capability_MULTI_ROLE)
	fi.Roles = []string{"eng", "data"}
	bad := openStream(t, m, fi, codec.JSON)
	if got, want := bad.next(schedpb.Event_ERROR).GetError().GetMessage(), "Role 'data' is not present in the master's --roles"; got != want {
		t.Errorf("ERROR %q, want %q", got, want)
	}

	star := frameworkInfo("default-role")
	subscribe(t, m, star, codec.JSON) // "*" is always allowed

	fi = frameworkInfo("insider", mesos.FrameworkInfo_Capability_MULTI_ROLE)
	fi.Roles = []string{"eng", "ops"}
	s := subscribe(t, m, fi, codec.JSON)
	upd := proto.Clone(fi).(*mesos.FrameworkInfo)
	upd.Id = &mesos.FrameworkID{Value: proto.String(s.FrameworkID)}
	upd.Roles = []string{"eng", "eng/ml"}
	status, body := s.post(&schedpb.Call{Type: schedpb.Call_UPDATE_FRAMEWORK.Enum(), UpdateFramework: &schedpb.Call_UpdateFramework{FrameworkInfo: upd}})
	if status != http.StatusBadRequest || !strings.Contains(body, "Role 'eng/ml' is not present in the master's --roles") {
		t.Errorf("UPDATE_FRAMEWORK outside --roles: %d %q, want 400", status, body)
	}
}

// Mesos: a MULTI_ROLE framework is offered in each of its roles, each
// offer in one role (allocation_info.role, and every resource allocated
// to it); suppressing one role stops its offers only, and REVIVE of that
// role brings them back.
func TestMultiRoleOffersAndPerRoleSuppress(t *testing.T) {
	m := startMaster(t)
	startAgent(t, m, "agent1", agentResources)
	startAgent(t, m, "agent2", agentResources)
	fi := frameworkInfo("multi", mesos.FrameworkInfo_Capability_MULTI_ROLE)
	fi.Roles = []string{"eng/ml", "ops"}
	s := subscribe(t, m, fi, codec.JSON)

	seen := map[string]bool{}
	var held []*mesos.Offer
	for len(seen) < 2 {
		for _, o := range s.nextOffers() {
			role := o.GetAllocationInfo().GetRole()
			if !slices.Contains(fi.Roles, role) {
				t.Fatalf("offer in role %q, not one of the framework's", role)
			}
			for _, r := range o.GetResources() {
				if r.GetAllocationInfo().GetRole() != role {
					t.Errorf("resource %s allocated to %q in an offer for %q", r.GetName(), r.GetAllocationInfo().GetRole(), role)
				}
			}
			seen[role] = true
			held = append(held, o)
		}
	}
	// Hand everything back, with ops suppressed: only eng/ml is offered.
	s.call(&schedpb.Call{Type: schedpb.Call_SUPPRESS.Enum(), Suppress: &schedpb.Call_Suppress{Roles: []string{"ops"}}})
	s.decline(offerIDs(held...), 0)
	deadline := 10
	for i := 0; i < deadline; i++ {
		offers := s.nextOffers()
		for _, o := range offers {
			if role := o.GetAllocationInfo().GetRole(); role != "eng/ml" {
				t.Fatalf("offer in suppressed role %q", role)
			}
		}
		s.decline(offerIDs(offers...), 0)
		if offeredScalar("cpus", offers...) == 4 {
			break // both agents offered to eng/ml, none to ops
		}
	}
	// Revive ops alone: it is offered again.
	s.call(&schedpb.Call{Type: schedpb.Call_SUPPRESS.Enum(), Suppress: &schedpb.Call_Suppress{Roles: []string{"eng/ml"}}})
	s.call(&schedpb.Call{Type: schedpb.Call_REVIVE.Enum(), Revive: &schedpb.Call_Revive{Roles: []string{"ops"}}})
	for {
		offers := s.nextOffers()
		got := ""
		for _, o := range offers {
			got = o.GetAllocationInfo().GetRole()
		}
		s.decline(offerIDs(offers...), 0)
		if got == "ops" {
			break
		}
	}
}
