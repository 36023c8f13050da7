package e2e

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/internal/testutil"
	"github.com/gomesos/gomesos/master/core"
)

// When the connection between an agent and the master breaks, the agent
// re-registers with what it runs. A checkpointing framework's task carries
// on and its later updates still arrive; a task of a framework that does
// not checkpoint is reported lost when its agent disconnects, as in Mesos.
func TestAgentReregistersAfterConnectionLoss(t *testing.T) {
	c := startCluster(t, clusterOptions{agents: 1, viaProxy: true})
	keeper := startFramework(t, c, frameworkOptions{checkpoint: true})
	o := keeper.nextOffer()
	task := commandTask("survivor", o, "cpus:0.1;mem:32", `while [ ! -e done ]; do sleep 0.05; done; echo finished`)
	if err := keeper.client.Launch(ctxT(t), ids(o), []*mesos.TaskInfo{task}, nil); err != nil {
		t.Fatal(err)
	}
	for s := keeper.nextUpdate(); s.GetState() != mesos.TaskState_TASK_RUNNING; s = keeper.nextUpdate() {
	}
	registrations := func() float64 {
		var m map[string]float64
		c.getJSON("/metrics/snapshot", &m)
		return m["master/slave_reregistrations"]
	}
	before := registrations()
	c.proxy.cut()
	waitFor(t, "the agent to re-register", func() bool { return registrations() > before })
	var slaves struct {
		Slaves []struct {
			ID     string `json:"id"`
			Active bool   `json:"active"`
		} `json:"slaves"`
	}
	c.getJSON("/master/slaves", &slaves)
	if len(slaves.Slaves) != 1 || slaves.Slaves[0].ID != o.GetAgentId().GetValue() || !slaves.Slaves[0].Active {
		t.Fatalf("after re-registration /master/slaves = %+v, want the same agent, active", slaves.Slaves)
	}
	var st struct {
		Frameworks []struct {
			Tasks []struct {
				ID    string `json:"id"`
				State string `json:"state"`
			} `json:"tasks"`
		} `json:"frameworks"`
	}
	c.getJSON("/master/state", &st)
	if len(st.Frameworks) != 1 || len(st.Frameworks[0].Tasks) != 1 || st.Frameworks[0].Tasks[0].State != "TASK_RUNNING" {
		t.Fatalf("after re-registration the master lists %+v, want survivor TASK_RUNNING", st.Frameworks)
	}
	// The task is still the same process: let it finish.
	dir := sandboxOf(t, c.agents[0].Addr(), "survivor")
	touch(t, dir+"/done")
	states, last := keeper.waitTerminal("survivor")
	if last.GetState() != mesos.TaskState_TASK_FINISHED {
		t.Fatalf("survivor ended %v, want TASK_FINISHED", states)
	}
}

func TestNonCheckpointingTasksAreLostWhenTheirAgentDisconnects(t *testing.T) {
	c := startCluster(t, clusterOptions{agents: 1, viaProxy: true})
	fw := startFramework(t, c, frameworkOptions{})
	o := fw.nextOffer()
	if err := fw.client.Launch(ctxT(t), ids(o), []*mesos.TaskInfo{commandTask("fragile", o, "cpus:0.1;mem:32", "sleep 1000")}, nil); err != nil {
		t.Fatal(err)
	}
	for s := fw.nextUpdate(); s.GetState() != mesos.TaskState_TASK_RUNNING; s = fw.nextUpdate() {
	}
	// The agent stays cut off until the master has seen it go: were it
	// let back at once, its re-registration could reach the master before
	// the broken stream's end does, and the master would rightly see no
	// disconnection at all.
	c.proxy.hold()
	s := fw.nextUpdate()
	if s.GetState() != mesos.TaskState_TASK_LOST || s.GetReason() != mesos.TaskStatus_REASON_AGENT_DISCONNECTED {
		t.Fatalf("after the disconnect: %s %s, want TASK_LOST REASON_AGENT_DISCONNECTED", s.GetState(), s.GetReason())
	}
	c.proxy.release()
	// Once the agent is back, the master has it kill the task it gave up on.
	waitFor(t, "the agent to stop running the lost task", func() bool {
		var st struct {
			Frameworks []struct {
				Executors []struct {
					ID string `json:"id"`
				} `json:"executors"`
			} `json:"frameworks"`
		}
		getJSON(t, "http://"+c.agents[0].Addr()+"/state", &st)
		for _, f := range st.Frameworks {
			if len(f.Executors) > 0 {
				return false
			}
		}
		return true
	})
}

// A master restarted with an in-memory registry knows none of the old
// agents. As Mesos's registrar admits an agent it does not know that
// re-registers (MarkSlaveReachable), the agent comes back under its id
// with its task, which keeps running; the framework resubscribes with its
// id and reconciliation finds the task running.
func TestAgentAndItsTasksSurviveAMasterRestartWithAnInMemoryRegistry(t *testing.T) {
	c := startCluster(t, clusterOptions{agents: 1})
	fw := startFramework(t, c, frameworkOptions{})
	o := fw.nextOffer()
	if err := fw.client.Launch(ctxT(t), ids(o), []*mesos.TaskInfo{commandTask("survivor", o, "cpus:0.1;mem:32", `echo $$ > pid; exec sleep 1000`)}, nil); err != nil {
		t.Fatal(err)
	}
	for s := fw.nextUpdate(); s.GetState() != mesos.TaskState_TASK_RUNNING; s = fw.nextUpdate() {
	}
	pid := testutil.WaitPIDFile(t, sandboxOf(t, c.agents[0].Addr(), "survivor")+"/pid", patience)
	oldID := c.agents[0].ID()

	c.restartMaster(core.Options{})
	waitFor(t, "the agent to re-register under its id", func() bool {
		var s struct {
			Slaves []struct {
				ID string `json:"id"`
			} `json:"slaves"`
		}
		c.getJSON("/master/slaves", &s)
		return len(s.Slaves) == 1 && s.Slaves[0].ID == oldID
	})
	if testutil.ProcessGone(pid) {
		t.Fatal("the task's process died in the master's restart")
	}
	// The framework's client resubscribes with its id; reconciling finds
	// the task running on its agent.
	waitFor(t, "reconciliation to answer TASK_RUNNING", func() bool {
		if err := fw.client.Reconcile(ctxT(t), []*schedpb.Call_Reconcile_Task{{
			TaskId: &mesos.TaskID{Value: proto.String("survivor")}, AgentId: &mesos.AgentID{Value: &oldID},
		}}); err != nil {
			return false
		}
		select {
		case s := <-fw.updates:
			return s.GetTaskId().GetValue() == "survivor" && s.GetState() == mesos.TaskState_TASK_RUNNING
		case <-time.After(time.Second):
			return false
		}
	})
	if testutil.ProcessGone(pid) {
		t.Fatal("the task's process died after the master's restart")
	}
}
