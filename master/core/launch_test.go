package core

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/resources"
)

// runTasks is every task the core sent to an agent in RUN_TASK, by id.
func (r *rig) runTasks() map[string]*mesos.TaskInfo {
	out := map[string]*mesos.TaskInfo{}
	for _, o := range r.outs {
		if sa, ok := o.(SendAgent); ok && sa.Msg.GetType() == agentproto.MasterMessage_RUN_TASK {
			ti := sa.Msg.GetRunTask().GetTask()
			out[ti.GetTaskId().GetValue()] = ti
		}
	}
	return out
}

func parsed(t *testing.T, rs []*mesos.Resource) resources.Resources {
	t.Helper()
	res, err := resources.FromProto(rs)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// Tasks launched with the same resources share one copy of them (in both
// forms), and what each task is sent, shown and given back stays its own:
// a task ending changes nothing of the others.
func TestTasksLaunchedAlikeShareTheirResources(t *testing.T) {
	r := newRig(t)
	r.check = true
	a := r.agent("c1", &mesos.AgentInfo{Hostname: proto.String("a1"), Resources: resources.ToProto(resources.MustParse("cpus:4;mem:1024"))}, "")
	f := r.subscribe("s1", &mesos.FrameworkInfo{Name: proto.String("fw"), User: proto.String("u")})
	r.tick()
	o := r.offer(f, a, "")
	r.accept(f, o, launch(cmdTask("t1", a, "cpus:1;mem:128"), cmdTask("t2", a, "cpus:1;mem:128"), cmdTask("t3", a, "cpus:2;mem:128")))

	sent := r.runTasks()
	if len(sent) != 3 {
		t.Fatalf("%d tasks sent to the agent, want 3", len(sent))
	}
	want := map[string]resources.Resources{
		"t1": resources.MustParse("cpus:1;mem:128").AllocatedTo("*"),
		"t2": resources.MustParse("cpus:1;mem:128").AllocatedTo("*"),
		"t3": resources.MustParse("cpus:2;mem:128").AllocatedTo("*"),
	}
	for id, w := range want {
		if got := parsed(t, sent[id].GetResources()); !got.Equal(w) {
			t.Errorf("task %s sent with %s, want %s", id, got, w)
		}
		if sent[id].GetAgentId().GetValue() != a.id {
			t.Errorf("task %s sent with agent id %q, want %q", id, sent[id].GetAgentId().GetValue(), a.id)
		}
	}
	fw := r.c.frameworks[f.id]
	t1, t2, t3 := fw.tasks["t1"], fw.tasks["t2"], fw.tasks["t3"]
	if &t1.res[0] != &t2.res[0] {
		t.Errorf("t1 and t2, launched alike, hold their resources apart")
	}
	if &t3.res[0] == &t1.res[0] {
		t.Errorf("t3 shares t1's resources though it asked for others")
	}

	// t1 ends: its resources go back, t2's and t3's stay as they were.
	r.ack(a, f, "t1", r.update(a, f, "t1", mesos.TaskState_TASK_FINISHED, nil))
	if fw.tasks["t1"] != nil {
		t.Fatal("t1 is still live after its end was acknowledged")
	}
	for id, w := range map[string]resources.Resources{"t2": want["t2"], "t3": want["t3"]} {
		if !fw.tasks[id].res.Equal(w) {
			t.Errorf("after t1 ended, task %s counts %s, want %s", id, fw.tasks[id].res, w)
		}
	}
	if used, w := r.c.agents[a.id].used(), want["t2"].Add(want["t3"]); !used.Equal(w) {
		t.Errorf("the agent uses %s, want %s", used, w)
	}
}

// A task naming the offer's role on some of its resources and not on
// others gets one resource per name, all in that role; one naming another
// role is refused.
func TestLaunchAllocationInfoMixedAndWrong(t *testing.T) {
	r := newRig(t)
	a := r.agent("c1", &mesos.AgentInfo{Hostname: proto.String("a1"), Resources: resources.ToProto(resources.MustParse("cpus:4;mem:1024"))}, "")
	f := r.subscribe("s1", &mesos.FrameworkInfo{Name: proto.String("fw"), User: proto.String("u")})
	r.tick()
	o := r.offer(f, a, "")

	mixed := cmdTask("mixed", a, "cpus:1;mem:64")
	named := resources.ToProto(resources.MustParse("cpus:0.5").AllocatedTo("*"))
	mixed.Resources = append(mixed.Resources, named...)
	wrong := cmdTask("wrong", a, "cpus:1")
	wrong.Resources[0].AllocationInfo = &mesos.Resource_AllocationInfo{Role: proto.String("other")}
	r.accept(f, o, launch(mixed, wrong))

	sent := r.runTasks()
	if sent["wrong"] != nil {
		t.Error("the task naming another role was launched")
	}
	got := sent["mixed"].GetResources()
	if w := resources.MustParse("cpus:1.5;mem:64").AllocatedTo("*"); !parsed(t, got).Equal(w) || len(got) != 2 {
		t.Errorf("the mixed task was sent %d resources, %s; want %s in 2", len(got), parsed(t, got), w)
	}
	var refused bool
	for _, ev := range r.events[f.stream] {
		if st := ev.GetUpdate().GetStatus(); st.GetTaskId().GetValue() == "wrong" && st.GetState() == mesos.TaskState_TASK_ERROR {
			refused = true
		}
	}
	if !refused {
		t.Error("no TASK_ERROR for the task naming another role")
	}
}
