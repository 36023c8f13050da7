package master_test

import (
	"net/http"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
)

func revocableUpdate(res ...*mesos.Resource) *agentproto.AgentMessage {
	return &agentproto.AgentMessage{Type: agentproto.AgentMessage_UPDATE_AGENT.Enum(), UpdateAgent: &agentproto.UpdateAgent{
		UpdateOversubscribedResources: proto.Bool(true), OversubscribedResources: res,
	}}
}

func cpusResource(v float64, revocable bool) *mesos.Resource {
	r := &mesos.Resource{Name: proto.String("cpus"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(v)}}
	if revocable {
		r.Revocable = &mesos.Resource_RevocableInfo{}
	}
	return r
}

// UPDATE_AGENT sets the agent's revocable resources: offered to a
// REVOCABLE_RESOURCES framework, marked revocable, shown in /master/state
// and the metrics. One holding a non-revocable resource is refused (400)
// and changes nothing. A task may take revocable cpus with non-revocable
// mem, not both kinds of cpus.
func TestUpdateAgentOversubscribed(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "host1", "cpus:1;mem:512")
	a.send(revocableUpdate(cpusResource(2, true)))
	if status, err := a.trySend(revocableUpdate(cpusResource(3, false))); err != nil || status != http.StatusBadRequest {
		t.Fatalf("UPDATE_AGENT with non-revocable cpus: status %d, error %v; want 400", status, err)
	}
	m.waitMetric("master/cpus_revocable_total", 2)
	if got := m.metrics()["master/cpus_total"]; got != 1 {
		t.Fatalf("master/cpus_total %v, want 1", got)
	}
	st := m.getJSON("/master/state")
	slave := objects(st["slaves"])[0]
	if res, _ := slave["resources"].(map[string]any); res["cpus_revocable"] != 2.0 {
		t.Fatalf("/master/state slave resources %v, want cpus_revocable 2", slave["resources"])
	}

	s := subscribe(t, m, frameworkInfo("rev", mesos.FrameworkInfo_Capability_REVOCABLE_RESOURCES), codec.JSON)
	var rev, nonRev float64
	var offers []*mesos.Offer
	for rev == 0 || nonRev == 0 {
		for _, o := range s.nextOffers() {
			offers = append(offers, o)
			for _, r := range o.GetResources() {
				if r.GetName() == "cpus" && r.Revocable != nil {
					rev += r.GetScalar().GetValue()
				} else if r.GetName() == "cpus" {
					nonRev += r.GetScalar().GetValue()
				}
			}
		}
	}
	if rev != 2 || nonRev != 1 {
		t.Fatalf("offered %v revocable and %v other cpus, want 2 and 1", rev, nonRev)
	}
	var revCPU, cpu, mem *mesos.Resource
	for _, o := range offers {
		for _, r := range o.GetResources() {
			switch {
			case r.GetName() == "cpus" && r.Revocable != nil:
				revCPU = r
			case r.GetName() == "cpus":
				cpu = r
			case r.GetName() == "mem":
				mem = r
			}
		}
	}
	part := func(r *mesos.Resource, v float64) *mesos.Resource {
		p := proto.Clone(r).(*mesos.Resource)
		p.Scalar = &mesos.Value_Scalar{Value: proto.Float64(v)}
		return p
	}
	mixed := commandTask("mixed", "cpus:1", offers[0])
	mixed.Resources = []*mesos.Resource{part(revCPU, 0.5), part(cpu, 0.5), part(mem, 32)}
	ok := commandTask("ok", "cpus:1", offers[0])
	ok.Resources = []*mesos.Resource{part(revCPU, 1), part(mem, 32)}
	s.accept(offerIDs(offers...), 0, launchOp(mixed, ok))
	st = nil
	if u := s.nextUpdate(); u.GetTaskId().GetValue() != "mixed" || u.GetState() != mesos.TaskState_TASK_ERROR ||
		!strings.Contains(u.GetMessage(), "Cannot use both revocable and non-revocable 'cpus'") {
		t.Fatalf("update %s %s %q, want mixed TASK_ERROR for mixing cpus", u.GetTaskId().GetValue(), u.GetState(), u.GetMessage())
	}
	if run := a.next(agentproto.MasterMessage_RUN_TASK); run.GetRunTask().GetTask().GetTaskId().GetValue() != "ok" {
		t.Fatalf("RUN_TASK of %v, want ok", run.GetRunTask().GetTask().GetTaskId())
	}
	m.waitMetric("master/cpus_revocable_used", 1)
}

// An agent that comes back to a master that does not know it (a new
// master, here) with a task on revocable cpus: the task's resources are
// charged, its non-revocable mem included, and only the rest is offered.
func TestReregisterWithRevocableTask(t *testing.T) {
	m := startMaster(t)
	agentID := "0a0a0a0a-S3"
	mem := &mesos.Resource{Name: proto.String("mem"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(256)}}
	task := &mesos.Task{
		Name: proto.String("rt"), TaskId: &mesos.TaskID{Value: proto.String("rt")},
		FrameworkId: &mesos.FrameworkID{Value: proto.String("0a0a0a0a-0007")}, AgentId: &mesos.AgentID{Value: proto.String(agentID)},
		State: mesos.TaskState_TASK_RUNNING.Enum(), Resources: []*mesos.Resource{cpusResource(1, true), mem},
	}
	info := &mesos.AgentInfo{Id: &mesos.AgentID{Value: proto.String(agentID)}, Hostname: proto.String("host1"), Port: proto.Int32(5051),
		Resources: []*mesos.Resource{cpusResource(1, false), proto.Clone(mem).(*mesos.Resource)}}
	info.Resources[1].Scalar.Value = proto.Float64(512)
	a := connectAgent(t, m, &agentproto.AgentMessage{Type: agentproto.AgentMessage_REREGISTER.Enum(), Register: &agentproto.AgentMessage_Register{
		AgentInfo: info, Version: proto.String("1.11.0"), Tasks: []*mesos.Task{task},
		Frameworks: []*mesos.FrameworkInfo{{Id: task.FrameworkId, Name: proto.String("gone"), User: proto.String("u")}},
	}})
	a.send(revocableUpdate(cpusResource(2, true)))
	m.waitMetric("master/cpus_revocable_total", 2)
	s := subscribe(t, m, frameworkInfo("rev", mesos.FrameworkInfo_Capability_REVOCABLE_RESOURCES), codec.JSON)
	var offers []*mesos.Offer
	for offeredScalar("cpus", offers...) < 2 {
		offers = append(offers, s.nextOffers()...)
	}
	if got := offeredScalar("mem", offers...); got != 256 {
		t.Fatalf("offered %v mem, want 256 (the task holds the other 256)", got)
	}
	var rev float64
	for _, o := range offers {
		for _, r := range o.GetResources() {
			if r.GetName() == "cpus" && r.Revocable != nil {
				rev += r.GetScalar().GetValue()
			}
		}
	}
	if rev != 1 {
		t.Fatalf("offered %v revocable cpus, want 1 (2 less the task's 1)", rev)
	}
}
