package master_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/master"
	"github.com/gomesos/gomesos/master/core"
	"github.com/gomesos/gomesos/resources"
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

// startAgentWithAttributes registers an agent with --attributes.
func startAgentWithAttributes(t *testing.T, m *testMaster, hostname, res, attrs string) *fakeAgent {
	t.Helper()
	parsed, err := resources.ParseAttributes(attrs)
	if err != nil {
		t.Fatal(err)
	}
	info := &mesos.AgentInfo{
		Hostname:   proto.String(hostname),
		Port:       proto.Int32(5051),
		Resources:  resources.ToProto(resources.MustParse(res)),
		Attributes: resources.AttributesToProto(parsed),
	}
	return connectAgent(t, m, &agentproto.AgentMessage{
		Type:     agentproto.AgentMessage_REGISTER.Enum(),
		Register: &agentproto.AgentMessage_Register{AgentInfo: info, Version: proto.String(core.Version)},
	})
}

func textEquals(name, value string) *schedpb.AttributeConstraint {
	return &schedpb.AttributeConstraint{
		Selector:  &schedpb.AttributeConstraint_Selector{Selector: &schedpb.AttributeConstraint_Selector_AttributeName{AttributeName: name}},
		Predicate: &schedpb.AttributeConstraint_Predicate{Predicate: &schedpb.AttributeConstraint_Predicate_TextEquals_{TextEquals: &schedpb.AttributeConstraint_Predicate_TextEquals{Value: proto.String(value)}}},
	}
}

func hostnameMatches(regex string) *schedpb.AttributeConstraint {
	return &schedpb.AttributeConstraint{
		Selector:  &schedpb.AttributeConstraint_Selector{Selector: &schedpb.AttributeConstraint_Selector_PseudoattributeType_{PseudoattributeType: schedpb.AttributeConstraint_Selector_HOSTNAME}},
		Predicate: &schedpb.AttributeConstraint_Predicate{Predicate: &schedpb.AttributeConstraint_Predicate_TextMatches_{TextMatches: &schedpb.AttributeConstraint_Predicate_TextMatches{Regex: proto.String(regex)}}},
	}
}

func constraintsFor(role string, groups ...[]*schedpb.AttributeConstraint) *schedpb.OfferConstraints {
	rc := &schedpb.OfferConstraints_RoleConstraints{}
	for _, g := range groups {
		rc.Groups = append(rc.Groups, &schedpb.OfferConstraints_RoleConstraints_Group{AttributeConstraints: g})
	}
	return &schedpb.OfferConstraints{RoleConstraints: map[string]*schedpb.OfferConstraints_RoleConstraints{role: rc}}
}

// Mesos 1.11 offer_constraints: the master offers a role only the agents
// that satisfy one group of its constraints; UPDATE_FRAMEWORK replaces
// them (and refuses invalid ones with 400, changing nothing).
func TestOfferConstraintsOverHTTP(t *testing.T) {
	for _, enc := range []codec.Encoding{codec.JSON, codec.Protobuf} {
		t.Run(enc.String(), func(t *testing.T) {
			m := startMaster(t)
			a1 := startAgentWithAttributes(t, m, "node-1", agentResources, "rack:r1")
			a2 := startAgentWithAttributes(t, m, "node-2", agentResources, "rack:r2")
			fi := frameworkInfo("constrained", mesos.FrameworkInfo_Capability_MULTI_ROLE)
			fi.Roles = []string{"eng"}
			call := subscribeCall(fi)
			call.Subscribe.OfferConstraints = constraintsFor("eng", []*schedpb.AttributeConstraint{textEquals("rack", "r1"), hostnameMatches(`node-\d`)})
			s := openStreamCall(t, m, call, enc)
			s.FrameworkID = s.next(schedpb.Event_SUBSCRIBED).GetSubscribed().GetFrameworkId().GetValue()
			offers := s.nextOffers()
			for _, o := range offers {
				if o.GetAgentId().GetValue() != a1.ID {
					t.Fatalf("offer of agent %s, which the constraints rule out", o.GetAgentId().GetValue())
				}
			}
			s.decline(offerIDs(offers...), 0)
			for range 3 {
				for _, o := range s.nextOffers() {
					if o.GetAgentId().GetValue() != a1.ID {
						t.Fatalf("offer of agent %s, which the constraints rule out", o.GetAgentId().GetValue())
					}
					s.decline(offerIDs(o), 0)
				}
			}

			upd := proto.Clone(fi).(*mesos.FrameworkInfo)
			upd.Id = &mesos.FrameworkID{Value: proto.String(s.FrameworkID)}
			update := func(oc *schedpb.OfferConstraints) (int, string) {
				return s.post(&schedpb.Call{Type: schedpb.Call_UPDATE_FRAMEWORK.Enum(), UpdateFramework: &schedpb.Call_UpdateFramework{FrameworkInfo: upd, OfferConstraints: oc}})
			}
			if status, body := update(constraintsFor("ops", []*schedpb.AttributeConstraint{textEquals("rack", "r2")})); status != http.StatusBadRequest || !strings.Contains(body, "role 'ops', to which the framework is not subscribed") {
				t.Errorf("constraints for an unsubscribed role: %d %q, want 400", status, body)
			}
			if status, body := update(constraintsFor("eng", []*schedpb.AttributeConstraint{hostnameMatches("node-(")})); status != http.StatusBadRequest || !strings.Contains(body, "invalid regex 'node-('") {
				t.Errorf("constraints with a bad regex: %d %q, want 400", status, body)
			}
			if status, body := update(constraintsFor("eng", []*schedpb.AttributeConstraint{textEquals("rack", "r2")})); status != http.StatusOK {
				t.Fatalf("UPDATE_FRAMEWORK: %d %q", status, body)
			}
			for {
				offers := s.nextOffers()
				done := false
				for _, o := range offers {
					if o.GetAgentId().GetValue() == a1.ID {
						// An offer made before the update may still be on its way.
						continue
					}
					if o.GetAgentId().GetValue() == a2.ID {
						done = true
					}
				}
				if done {
					// a2 refused for long: a1, ruled out now, is not offered.
					s.decline(offerIDs(offers...), 1000)
					break
				}
				s.decline(offerIDs(offers...), 0)
			}
			s.none(schedpb.Event_OFFERS, 5*testOptions().AllocationInterval)
		})
	}
}

// GET /master/explain names each reason a framework is not offered an
// agent: a decline filter (and when it ends), a suppressed role, an agent
// its offer constraints rule out, and the offers it holds.
func TestExplainOverHTTP(t *testing.T) {
	m := startMaster(t)
	a1 := startAgentWithAttributes(t, m, "node-1", agentResources, "rack:r1")
	a2 := startAgentWithAttributes(t, m, "node-2", agentResources, "rack:r2")
	fi := frameworkInfo("explained", mesos.FrameworkInfo_Capability_MULTI_ROLE)
	fi.Roles = []string{"eng", "ops"}
	call := subscribeCall(fi)
	call.Subscribe.SuppressedRoles = []string{"ops"}
	call.Subscribe.OfferConstraints = constraintsFor("eng", []*schedpb.AttributeConstraint{textEquals("rack", "r1")})
	s := openStreamCall(t, m, call, codec.JSON)
	s.FrameworkID = s.next(schedpb.Event_SUBSCRIBED).GetSubscribed().GetFrameworkId().GetValue()
	offers := s.nextOffers()
	if len(offers) != 1 || offers[0].GetAgentId().GetValue() != a1.ID || offers[0].GetAllocationInfo().GetRole() != "eng" {
		t.Fatalf("offers %v, want one of node-1 in eng", offers)
	}

	// While it holds the offer, the explainer says so.
	ex := m.getJSON("/master/explain?framework_id=" + s.FrameworkID)
	if held := objects(ex["outstanding_offers"]); len(held) != 1 || held[0]["offer_id"] != offers[0].GetId().GetValue() {
		t.Errorf("outstanding_offers = %v, want the offer it holds", ex["outstanding_offers"])
	}

	s.decline(offerIDs(offers...), 1000)
	var reasons []string
	var eng map[string]any
	waitFor(t, "the explainer to show the decline filter", func() bool {
		ex = m.getJSON("/master/explain?framework_id=" + s.FrameworkID)
		reasons = toStrings(ex["reasons"])
		for _, r := range objects(ex["per_role"]) {
			if r["role"] == "eng" {
				eng = r
			}
		}
		return eng != nil && len(objects(eng["decline_filters"])) == 1
	})
	f := objects(eng["decline_filters"])[0]
	if f["agent_id"] != a1.ID || f["hostname"] != "node-1" {
		t.Errorf("filter %v, want one on node-1", f)
	}
	if rem, _ := f["remaining_seconds"].(float64); rem < 990 || rem > 1000 {
		t.Errorf("filter ends in %v s, want about 1000", f["remaining_seconds"])
	}
	if got := toStrings(eng["agents_ruled_out_by_constraints"]); !slices.Equal(got, []string{a2.ID}) {
		t.Errorf("agents ruled out in eng = %v, want [%s]", got, a2.ID)
	}
	var ops map[string]any
	for _, r := range objects(ex["per_role"]) {
		if r["role"] == "ops" {
			ops = r
		}
	}
	if ops == nil || ops["suppressed"] != true || ops["offerable"] != false {
		t.Errorf("ops = %v, want suppressed and not offerable", ops)
	}
	want := []string{
		"role ops is suppressed",
		"a decline filter in role eng blocks agent " + a1.ID + " (node-1) until ",
		"its offer constraints for role eng rule out agent " + a2.ID + " (node-2)",
	}
	for _, w := range want {
		if !slices.ContainsFunc(reasons, func(r string) bool { return strings.Contains(r, w) }) {
			t.Errorf("no reason contains %q; reasons: %q", w, reasons)
		}
	}
	if len(objects(ex["outstanding_offers"])) != 0 {
		t.Errorf("outstanding_offers = %v after the decline", ex["outstanding_offers"])
	}

	// GET_FRAMEWORKS shows the constraints (Framework.offer_constraints).
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("Accept", "application/json")
	status, _, body := m.do(http.MethodPost, "/api/v1", h, []byte(`{"type":"GET_FRAMEWORKS"}`))
	if status != http.StatusOK || !strings.Contains(body, `"offer_constraints":{"role_constraints":{"eng":{"groups":[{"attribute_constraints":[{"selector":{"attribute_name":"rack"},"predicate":{"text_equals":{"value":"r1"}}}]}]}}}`) {
		t.Errorf("GET_FRAMEWORKS: %d, no offer_constraints in %s", status, body)
	}
	// So does /master/frameworks.
	fwJSON := findByID(objects(m.getJSON("/master/frameworks")["frameworks"]), s.FrameworkID)
	oc, _ := fwJSON["offer_constraints"].(map[string]any)
	if rc, _ := oc["role_constraints"].(map[string]any); rc["eng"] == nil {
		t.Errorf("/master/frameworks offer_constraints = %v, want eng's", fwJSON["offer_constraints"])
	}

	if status, _, body := m.do(http.MethodGet, "/master/explain", nil, nil); status != http.StatusBadRequest || !strings.Contains(body, "framework_id") {
		t.Errorf("without framework_id: %d %q, want 400", status, body)
	}
	if status, _, body := m.do(http.MethodGet, "/master/explain?framework_id=nope", nil, nil); status != http.StatusNotFound || !strings.Contains(body, "'nope'") {
		t.Errorf("unknown framework: %d %q, want 404", status, body)
	}
}
