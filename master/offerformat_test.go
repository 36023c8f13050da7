package master_test

// Offers in the format each framework asked for (facts §1.5; Mesos's
// Master::offer, MESOS-8237, and its reservation-refinement conversions).

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/resources"
)

// formatAgentResources has unreserved and statically reserved resources,
// all of them offered to a framework of role eng.
const formatAgentResources = "cpus:2;cpus(eng):1;mem:512;ports:[31000-31009]"

// engFramework subscribes with role eng, through `roles` when MULTI_ROLE and
// the deprecated `role` otherwise.
func engFramework(name string, multiRole, refinement bool) *mesos.FrameworkInfo {
	var caps []mesos.FrameworkInfo_Capability_Type
	if multiRole {
		caps = append(caps, mesos.FrameworkInfo_Capability_MULTI_ROLE)
	}
	if refinement {
		caps = append(caps, mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT)
	}
	fi := frameworkInfo(name, caps...)
	if multiRole {
		fi.Roles = []string{"eng"}
	} else {
		fi.Role = proto.String("eng")
	}
	return fi
}

// Mesos: only a MULTI_ROLE framework is told the role an offer is
// allocated to, on the offer and on each resource; for the others the
// master strips allocation_info (MESOS-8237). A framework with
// RESERVATION_REFINEMENT gets the reservations stack and no role; one
// without it gets role ("*" when unreserved) and no stack. Client
// libraries compare resources field by field, so the fields must be exactly
// these, in JSON as in protobuf. Each framework then launches a task with
// the offered resources sent back exactly as received, and the master
// accepts them: it upgrades the old format and gives them the offer's
// allocation role before matching them against the offer.
func TestOfferFormatFollowsCapabilities(t *testing.T) {
	const (
		cpus   = `"name":"cpus","type":"SCALAR","scalar":{"value":2.0}`
		cpusR  = `"name":"cpus","type":"SCALAR","scalar":{"value":1.0}`
		mem    = `"name":"mem","type":"SCALAR","scalar":{"value":512.0}`
		ports  = `"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":31009}]}`
		alloc  = `"allocation_info":{"role":"eng"}`
		static = `"reservations":[{"type":"STATIC","role":"eng"}]`
	)
	cases := []struct {
		multiRole, refinement bool
		want                  []string // the offered resources, in any order
	}{
		{false, false, []string{
			`{` + cpus + `,"role":"*"}`,
			`{` + cpusR + `,"role":"eng"}`,
			`{` + mem + `,"role":"*"}`,
			`{` + ports + `,"role":"*"}`,
		}},
		{false, true, []string{
			`{` + cpus + `}`,
			`{` + cpusR + `,` + static + `}`,
			`{` + mem + `}`,
			`{` + ports + `}`,
		}},
		{true, false, []string{
			`{` + cpus + `,"role":"*",` + alloc + `}`,
			`{` + cpusR + `,"role":"eng",` + alloc + `}`,
			`{` + mem + `,"role":"*",` + alloc + `}`,
			`{` + ports + `,"role":"*",` + alloc + `}`,
		}},
		{true, true, []string{
			`{` + cpus + `,` + alloc + `}`,
			`{` + cpusR + `,` + alloc + `,` + static + `}`,
			`{` + mem + `,` + alloc + `}`,
			`{` + ports + `,` + alloc + `}`,
		}},
	}
	for _, tc := range cases {
		for _, enc := range []codec.Encoding{codec.JSON, codec.Protobuf} {
			encName := map[codec.Encoding]string{codec.JSON: "json", codec.Protobuf: "protobuf"}[enc]
			name := fmt.Sprintf("multi_role=%v,refinement=%v,%s", tc.multiRole, tc.refinement, encName)
			t.Run(name, func(t *testing.T) {
				m := startMaster(t)
				a := startAgent(t, m, "agent1", formatAgentResources)
				s := subscribe(t, m, engFramework("formats", tc.multiRole, tc.refinement), enc)

				rec := s.nextRaw(schedpb.Event_OFFERS)
				offers := s.nextOffers()
				if len(offers) != 1 {
					t.Fatalf("got %d offers, want 1", len(offers))
				}
				o := offers[0]

				// The resources as they are on the wire: the JSON text
				// itself, or the protobuf message rendered in Mesos's JSON.
				var got []string
				var rawResources json.RawMessage
				if enc == codec.JSON {
					var ev struct {
						Offers struct {
							Offers []map[string]json.RawMessage `json:"offers"`
						} `json:"offers"`
					}
					if err := json.Unmarshal(rec, &ev); err != nil || len(ev.Offers.Offers) != 1 {
						t.Fatalf("OFFERS record %s: %v", rec, err)
					}
					raw := ev.Offers.Offers[0]
					if _, has := raw["allocation_info"]; has != tc.multiRole {
						t.Errorf("offer has allocation_info: %v, want %v: %s", has, tc.multiRole, rec)
					}
					rawResources = raw["resources"]
					var rs []json.RawMessage
					if err := json.Unmarshal(rawResources, &rs); err != nil {
						t.Fatalf("offer resources %s: %v", rawResources, err)
					}
					for _, r := range rs {
						got = append(got, string(r))
					}
				} else {
					for _, r := range o.GetResources() {
						b, err := codec.Marshal(codec.JSON, r)
						if err != nil {
							t.Fatal(err)
						}
						got = append(got, string(b))
					}
				}
				if (o.AllocationInfo != nil) != tc.multiRole {
					t.Errorf("offer allocation_info = %v, want it only for MULTI_ROLE", o.AllocationInfo)
				} else if tc.multiRole && o.GetAllocationInfo().GetRole() != "eng" {
					t.Errorf("offer allocation_info = %v, want role eng", o.AllocationInfo)
				}
				slices.Sort(got)
				want := slices.Sorted(slices.Values(tc.want))
				if !slices.Equal(got, want) {
					t.Errorf("offered resources\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
				}

				// Launch with the resources exactly as offered: in JSON the
				// very text received, in protobuf the messages received.
				if enc == codec.JSON {
					body := fmt.Sprintf(`{"framework_id":{"value":%q},"type":"ACCEPT","accept":{"offer_ids":[{"value":%q}],`+
						`"operations":[{"type":"LAUNCH","launch":{"task_infos":[{"name":"t1","task_id":{"value":"t1"},`+
						`"agent_id":{"value":%q},"resources":%s,"command":{"value":"sleep 1000"}}]}}]}}`,
						s.FrameworkID, o.GetId().GetValue(), a.ID, rawResources)
					s.callRaw("ACCEPT", []byte(body))
				} else {
					task := &mesos.TaskInfo{
						Name: proto.String("t1"), TaskId: &mesos.TaskID{Value: proto.String("t1")}, AgentId: o.GetAgentId(),
						Resources: o.GetResources(), Command: &mesos.CommandInfo{Value: proto.String("sleep 1000")},
					}
					s.accept(offerIDs(o), 0, launchOp(task))
				}

				run := a.next(agentproto.MasterMessage_RUN_TASK).GetRunTask().GetTask()
				checkAllocated(t, "RUN_TASK task", run.GetResources(), formatAgentResources, "eng")
				a.update(s.FrameworkID, "t1", mesos.TaskState_TASK_RUNNING)
				if st := s.nextUpdate(); st.GetTaskId().GetValue() != "t1" || st.GetState() != mesos.TaskState_TASK_RUNNING {
					t.Fatalf("UPDATE = %v, want t1 TASK_RUNNING", st)
				}
				if got := m.metrics()["master/tasks_error"] + m.metrics()["master/invalid_operations"]; got != 0 {
					t.Errorf("tasks_error + invalid_operations = %v, want 0", got)
				}
			})
		}
	}
}

// Mesos injects the offer's allocation_info into every resource of an
// operation that lacks one: a task's, its executor's, and a task group's
// executor's. A framework without MULTI_ROLE and RESERVATION_REFINEMENT
// writes its resources the old way (role, no allocation_info); the agent
// still gets them allocated to the offer's role, reservations kept.
func TestLaunchWithResourcesInTheOldFormat(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1", "cpus:2;cpus(eng):1;mem:512")
	s := subscribe(t, m, engFramework("old-style", false, false), codec.JSON)
	o := s.nextOffers()[0]

	// Pieces of the offered resources, written as such a framework would.
	piece := func(name, role string, v float64) *mesos.Resource {
		for _, r := range o.GetResources() {
			if r.GetName() == name && r.GetRole() == role {
				r = proto.Clone(r).(*mesos.Resource)
				r.Scalar.Value = proto.Float64(v)
				if r.AllocationInfo != nil || len(r.Reservations) > 0 {
					t.Fatalf("offered resource in the new format: %v", r)
				}
				return r
			}
		}
		t.Fatalf("no %s(%s) in the offer %v", name, role, o.GetResources())
		return nil
	}
	task := &mesos.TaskInfo{
		Name: proto.String("t1"), TaskId: &mesos.TaskID{Value: proto.String("t1")}, AgentId: o.GetAgentId(),
		Resources: []*mesos.Resource{piece("cpus", "*", 0.5), piece("mem", "*", 64)},
		Executor: &mesos.ExecutorInfo{
			ExecutorId: &mesos.ExecutorID{Value: proto.String("custom")},
			Command:    &mesos.CommandInfo{Value: proto.String("run-executor")},
			Resources:  []*mesos.Resource{piece("cpus", "eng", 0.5), piece("mem", "*", 64)},
		},
	}
	groupExecutor := &mesos.ExecutorInfo{
		Type:       mesos.ExecutorInfo_DEFAULT.Enum(),
		ExecutorId: &mesos.ExecutorID{Value: proto.String("default")},
		Resources:  []*mesos.Resource{piece("cpus", "eng", 0.5), piece("mem", "*", 64)},
	}
	member := &mesos.TaskInfo{
		Name: proto.String("g1"), TaskId: &mesos.TaskID{Value: proto.String("g1")}, AgentId: o.GetAgentId(),
		Resources: []*mesos.Resource{piece("cpus", "*", 0.5), piece("mem", "*", 64)},
		Command:   &mesos.CommandInfo{Value: proto.String("sleep 1000")},
	}
	s.accept(offerIDs(o), 0, launchOp(task), launchGroupOp(groupExecutor, member))

	run := a.next(agentproto.MasterMessage_RUN_TASK).GetRunTask().GetTask()
	checkAllocated(t, "task t1", run.GetResources(), "cpus:0.5;mem:64", "eng")
	checkAllocated(t, "executor custom", run.GetExecutor().GetResources(), "cpus(eng):0.5;mem:64", "eng")
	group := a.next(agentproto.MasterMessage_RUN_TASK_GROUP).GetRunTaskGroup()
	checkAllocated(t, "executor default", group.GetExecutor().GetResources(), "cpus(eng):0.5;mem:64", "eng")
	checkAllocated(t, "task g1", group.GetTaskGroup().GetTasks()[0].GetResources(), "cpus:0.5;mem:64", "eng")

	// The rest comes back in the same format.
	rest := s.nextOffers()
	if cpus, mem := offeredScalar("cpus", rest...), offeredScalar("mem", rest...); cpus != 1 || mem != 256 {
		t.Errorf("re-offered cpus:%v mem:%v, want the unused cpus:1 mem:256", cpus, mem)
	}
	for _, o := range rest {
		if o.AllocationInfo != nil {
			t.Errorf("re-offer has allocation_info %v", o.AllocationInfo)
		}
		for _, r := range o.GetResources() {
			if r.AllocationInfo != nil || r.Role == nil || len(r.Reservations) > 0 {
				t.Errorf("re-offered resource not in the old format: %v", r)
			}
		}
	}
}

// Mesos: a resource that names an allocation role makes the task invalid
// unless it is the offer's role.
func TestLaunchWithAnotherAllocationRole(t *testing.T) {
	m := startMaster(t)
	startAgent(t, m, "agent1", "cpus:2;mem:512")
	s := subscribe(t, m, engFramework("multi", true, true), codec.Protobuf)
	o := s.nextOffers()[0]
	task := commandTask("t1", "cpus:1;mem:64", o)
	for _, r := range task.Resources {
		r.AllocationInfo = &mesos.Resource_AllocationInfo{Role: proto.String("other")}
	}
	s.accept(offerIDs(o), 0, launchOp(task))
	st := s.nextUpdate()
	if st.GetState() != mesos.TaskState_TASK_ERROR || st.GetReason() != mesos.TaskStatus_REASON_TASK_INVALID || !strings.Contains(st.GetMessage(), "other") {
		t.Errorf("UPDATE = %v, want TASK_ERROR REASON_TASK_INVALID naming role other", st)
	}
}

// checkAllocated checks that rs are exactly want (resources text), every
// one allocated to role.
func checkAllocated(t *testing.T, what string, rs []*mesos.Resource, want, role string) {
	t.Helper()
	for _, r := range rs {
		if r.GetAllocationInfo().GetRole() != role {
			t.Errorf("%s: resource %s has allocation_info %v, want role %s", what, r.GetName(), r.GetAllocationInfo(), role)
		}
	}
	got, err := resources.FromProto(rs)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if w := resources.MustParse(want).AllocatedTo(role); !got.Equal(w) {
		t.Errorf("%s: resources %s, want %s", what, got, w)
	}
}

// callRaw posts a call body as it is, in the scheduler's encoding, and
// wants 202.
func (s *scheduler) callRaw(what string, body []byte) {
	s.t.Helper()
	h := http.Header{}
	h.Set("Content-Type", s.enc.ContentType())
	h.Set("Mesos-Stream-Id", s.StreamID)
	if status, _, resp := s.m.do(http.MethodPost, "/api/v1/scheduler", h, body); status != http.StatusAccepted {
		s.t.Fatalf("%s: status %d, body %q", what, status, resp)
	}
}
