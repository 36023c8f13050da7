package core

import (
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	execpb "github.com/gomesos/gomesos/api/v1/executor"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

func revocableScalar(name string, v float64) *mesos.Resource {
	r := scalar(name, v)
	r.Revocable = &mesos.Resource_RevocableInfo{}
	return r
}

// updatesAgent returns the UPDATE_AGENT messages among outs.
func updatesAgent(outs []Output) []*agentproto.UpdateAgent {
	var r []*agentproto.UpdateAgent
	for _, s := range only[Send](outs) {
		if s.Msg.GetType() == agentproto.AgentMessage_UPDATE_AGENT {
			r = append(r, s.Msg.GetUpdateAgent())
		}
	}
	return r
}

func cpusOf(u *agentproto.UpdateAgent) float64 {
	var sum float64
	for _, r := range u.GetOversubscribedResources() {
		if r.GetName() == "cpus" {
			if r.Revocable == nil {
				return -1
			}
			sum += r.GetScalar().GetValue()
		}
	}
	return sum
}

// The estimate plus what revocable executors hold goes to the master when
// it changes, and again on every registration.
func TestOversubscribedForwarded(t *testing.T) {
	h := newCoreHarness(t)
	// Before registration the estimate is kept, not sent.
	if u := updatesAgent(h.step(Oversubscribable{Resources: []*mesos.Resource{revocableScalar("cpus", 2)}})); len(u) != 0 {
		t.Fatalf("sent %v before registering", u)
	}
	conn := only[Connect](h.step(Start{}))
	h.step(MasterStream{Gen: conn[0].Gen, StreamID: "s1"})
	u := updatesAgent(h.step(MasterMessage{Gen: conn[0].Gen, Msg: registered("A-S1", 3600)}))
	if len(u) != 1 || cpusOf(u[0]) != 2 || !u[0].GetUpdateOversubscribedResources() {
		t.Fatalf("on registering sent %v, want 2 revocable cpus", u)
	}
	// The same estimate: nothing new.
	if u := updatesAgent(h.step(Oversubscribable{Resources: []*mesos.Resource{revocableScalar("cpus", 2)}})); len(u) != 0 {
		t.Fatalf("sent %v for an unchanged estimate", u)
	}
	// A task takes 1.5 revocable cpus: the estimator (fixed) now says 0.5,
	// the total stays 2, nothing is sent.
	task := commandTask("t", "A-S1", "sleep 100")
	task.Resources = []*mesos.Resource{revocableScalar("cpus", 1.5), scalar("mem", 32)}
	h.master(runTask(task))
	if u := updatesAgent(h.step(Oversubscribable{Resources: []*mesos.Resource{revocableScalar("cpus", 0.5)}})); len(u) != 0 {
		t.Fatalf("sent %v though the total is unchanged", u)
	}
	// The estimate shrinks to nothing: the total is what the task holds.
	u = updatesAgent(h.step(Oversubscribable{}))
	if len(u) != 1 || cpusOf(u[0]) != 1.5 {
		t.Fatalf("after the estimate went to zero sent %v, want 1.5 cpus", u)
	}
	// Non-revocable resources from an estimator are dropped.
	u = updatesAgent(h.step(Oversubscribable{Resources: []*mesos.Resource{scalar("cpus", 4)}}))
	if len(u) != 0 {
		t.Fatalf("sent %v for a non-revocable estimate", u)
	}
	if got := h.c.snapshot(h.now).Metrics["slave/cpus_revocable_total"]; got != 1.5 {
		t.Fatalf("slave/cpus_revocable_total = %v, want 1.5", got)
	}
}

// A QoS correction destroys the executor; its task ends TASK_LOST
// (TASK_GONE when partition aware) with REASON_CONTAINER_PREEMPTED, and
// slave/executors_preempted counts it. Other executors are untouched.
func TestQoSCorrectionEvicts(t *testing.T) {
	for _, aware := range []bool{false, true} {
		h := newCoreHarness(t)
		h.register()
		rev := commandTask("rev", "A-S1", "sleep 100")
		rev.Resources = []*mesos.Resource{revocableScalar("cpus", 1), scalar("mem", 32)}
		fw := proto.Clone(testFramework).(*mesos.FrameworkInfo)
		if aware {
			fw.Capabilities = []*mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_PARTITION_AWARE.Enum()}}
		}
		run := func(task *mesos.TaskInfo) *agentproto.MasterMessage {
			msg := runTask(task)
			msg.RunTask.FrameworkInfo = fw
			return msg
		}
		revLaunch := only[Launch](h.master(run(rev)))[0].Spec
		plainLaunch := only[Launch](h.master(run(commandTask("plain", "A-S1", "sleep 100"))))[0].Spec
		h.step(ContainerLaunched{ContainerID: revLaunch.ID, Pid: 10})
		h.step(ContainerLaunched{ContainerID: plainLaunch.ID, Pid: 11})
		if r := h.call(execCall("fw-1", "rev", execpb.Call_SUBSCRIBE), 1); r.Status != CallOK {
			t.Fatalf("subscribe: %v", r)
		}

		// Stale container and unknown executor: ignored.
		outs := h.step(QoSCorrection{Kills: []QoSKill{{FrameworkID: "fw-1", ExecutorID: "rev", ContainerID: "old"}, {FrameworkID: "fw-1", ExecutorID: "nope"}}})
		if d := only[Destroy](outs); len(d) != 0 {
			t.Fatalf("destroyed %v for stale corrections", d)
		}
		outs = h.step(QoSCorrection{Kills: []QoSKill{{FrameworkID: "fw-1", ExecutorID: "rev", ContainerID: revLaunch.ID}}})
		d := only[Destroy](outs)
		if len(d) != 1 || d[0].ContainerID != revLaunch.ID {
			t.Fatalf("destroyed %v, want the revocable executor's container", d)
		}
		outs = h.step(ContainerExited{Termination: Termination{ContainerID: revLaunch.ID, Status: 9, How: "killed"}})
		var got []*mesos.TaskStatus
		for _, s := range only[Send](outs) {
			if s.Msg.GetType() == agentproto.AgentMessage_STATUS_UPDATE {
				got = append(got, s.Msg.GetStatusUpdate().GetStatus())
			}
		}
		want := mesos.TaskState_TASK_LOST
		if aware {
			want = mesos.TaskState_TASK_GONE
		}
		if len(got) != 1 || got[0].GetTaskId().GetValue() != "rev" || got[0].GetState() != want ||
			got[0].GetReason() != mesos.TaskStatus_REASON_CONTAINER_PREEMPTED || got[0].GetSource() != mesos.TaskStatus_SOURCE_AGENT {
			t.Fatalf("partition aware %v: statuses %v, want rev %s REASON_CONTAINER_PREEMPTED from the agent", aware, got, want)
		}
		if got[0].GetMessage() != "Container preempted by QoS correction" {
			t.Errorf("message %q", got[0].GetMessage())
		}
		m := h.c.snapshot(h.now).Metrics
		if m["slave/executors_preempted"] != 1 {
			t.Errorf("slave/executors_preempted = %v, want 1", m["slave/executors_preempted"])
		}
		if ex := h.c.frameworks["fw-1"].executors["plain"]; ex == nil || ex.state == execTerminated || ex.destroyed {
			t.Errorf("the non-revocable executor was touched: %+v", ex)
		}
	}
}
