package master_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/master"
)

// Mesos remembers completed frameworks in a circular buffer of
// --max_completed_frameworks, and refuses a SUBSCRIBE with the id of one it
// remembers ("Framework has been removed"). The ids the master refuses are
// bounded the same way: once a removed framework leaves the completed
// frameworks, the master no longer knows it, and a SUBSCRIBE with its id is
// taken as Mesos takes an id it does not know.
func TestRemovedFrameworkIDsAreBoundedLikeCompletedFrameworks(t *testing.T) {
	m := startMaster(t, func(c *master.Config) { c.MaxCompletedFrameworks = 2 })
	var removed []string
	for _, name := range []string{"first", "second", "third"} {
		s := subscribe(t, m, frameworkInfo(name), codec.JSON)
		s.call(&schedpb.Call{Type: schedpb.Call_TEARDOWN.Enum()})
		s.waitClosed()
		removed = append(removed, s.FrameworkID)
	}
	if got := ids(objects(m.getJSON("/master/frameworks")["completed_frameworks"])); strings.Join(got, ",") != removed[2]+","+removed[1] {
		t.Errorf("completed_frameworks = %v, want the last two, %v and %v", got, removed[2], removed[1])
	}

	fi := frameworkInfo("second again")
	fi.Id = &mesos.FrameworkID{Value: proto.String(removed[1])}
	refused := openStream(t, m, fi, codec.JSON)
	if msg := refused.next(schedpb.Event_ERROR).GetError().GetMessage(); msg != "Framework has been removed" {
		t.Errorf("SUBSCRIBE with a remembered removed id: ERROR %q, want \"Framework has been removed\"", msg)
	}
	refused.waitClosed()

	fi = frameworkInfo("first again")
	fi.Id = &mesos.FrameworkID{Value: proto.String(removed[0])}
	if back := subscribe(t, m, fi, codec.JSON); back.FrameworkID != removed[0] {
		t.Errorf("SUBSCRIBE with a forgotten id got SUBSCRIBED for %s, want %s", back.FrameworkID, removed[0])
	}
}

// Mesos garbage-collects its list of unreachable agents every
// --registry_gc_interval (Master::doRegistryGc): walking it oldest first,
// an entry goes while more than --registry_max_agent_count would remain,
// and so does any older than --registry_max_agent_age. With an entry go
// the unreachable tasks of that agent, without an update: explicit
// reconciliation then answers TASK_UNKNOWN (the agent is unknown), while
// the tasks of an agent still listed stay TASK_UNREACHABLE. An agent whose
// entry went may still come back: it is admitted, and its partition-aware
// framework's task is that framework's again.
func TestUnreachableAgentsAreGarbageCollected(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  func(*master.Config)
		keeps int // how many of the two agents stay listed
	}{
		{"by count", func(c *master.Config) { c.RegistryMaxAgentCount = 1 }, 1},
		{"by age", func(c *master.Config) { c.RegistryMaxAgentAge = 300 * time.Millisecond }, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := startMaster(t, fastPings, tc.opts, func(c *master.Config) { c.RegistryGCInterval = 50 * time.Millisecond })
			s0 := startAgent(t, m, "s0", agentResources)
			s1 := startAgent(t, m, "s1", agentResources)
			s := subscribe(t, m, frameworkInfo("partition-aware", mesos.FrameworkInfo_Capability_PARTITION_AWARE), codec.JSON)
			runTaskOn(t, s, s0, "X", "cpus:1;mem:128")
			runTaskOn(t, s, s1, "Y", "cpus:1;mem:128")
			for i, a := range []*fakeAgent{s0, s1} {
				removeByPings(t, s, a)
				if st := s.nextUpdate(); st.GetState() != mesos.TaskState_TASK_UNREACHABLE || st.GetTaskId().GetValue() != []string{"X", "Y"}[i] {
					t.Fatalf("UPDATE = %v, want TASK_UNREACHABLE of %s", st, []string{"X", "Y"}[i])
				}
			}
			waitFor(t, fmt.Sprintf("%d unreachable agents to stay listed", tc.keeps), func() bool {
				return m.getJSON("/master/state")["unreachable_slaves"] == float64(tc.keeps)
			})
			if got := m.metrics()["master/slaves_unreachable"]; got != float64(tc.keeps) {
				t.Errorf("master/slaves_unreachable = %v, want %d", got, tc.keeps)
			}
			unreachable := objects(frameworkState(t, m, s.FrameworkID)["unreachable_tasks"])
			if got := ids(unreachable); len(got) != tc.keeps || (tc.keeps == 1 && got[0] != "Y") {
				t.Errorf("unreachable_tasks = %v, want those of the agents still listed (Y if any)", got)
			}
			s.call(reconcileCall(reconcileTask("X", s0.ID), reconcileTask("Y", s1.ID)))
			want := map[string]mesos.TaskState{"X": mesos.TaskState_TASK_UNKNOWN, "Y": mesos.TaskState_TASK_UNKNOWN}
			if tc.keeps == 1 {
				want["Y"] = mesos.TaskState_TASK_UNREACHABLE
			}
			for range 2 {
				st := s.nextUpdate()
				if w := want[st.GetTaskId().GetValue()]; st.GetState() != w {
					t.Errorf("reconciling %s: %v, want %v", st.GetTaskId().GetValue(), st.GetState(), w)
				}
			}

			// s0 comes back: admitted, not told to shut down, and X is
			// the framework's again.
			back := s0.reregister(agentTask(s.FrameworkID, "X", s0.ID, mesos.TaskState_TASK_RUNNING, "cpus:1;mem:128"))
			if back.ID != s0.ID {
				t.Fatalf("s0 came back as %s", back.ID)
			}
			back.syncAgent(s)
			back.none(agentproto.MasterMessage_SHUTDOWN, 0)
			back.none(agentproto.MasterMessage_KILL_TASK, 0)
			if st := s.nextUpdate(); st.GetTaskId().GetValue() != "X" || st.GetState() != mesos.TaskState_TASK_RUNNING ||
				st.GetReason() != mesos.TaskStatus_REASON_AGENT_REREGISTERED {
				t.Errorf("UPDATE = %v, want X TASK_RUNNING, REASON_AGENT_REREGISTERED", st)
			}
			if active := tasksWithID(frameworkState(t, m, s.FrameworkID)["tasks"], "X"); len(active) != 1 {
				t.Errorf("X among the active tasks: %v, want it once", active)
			}
		})
	}
}

// Mesos keeps one status per change of state in a task's history: a status
// in the same state as the last one replaces it (Master::updateTask). A
// task that sends health updates all day long does not grow the master's
// memory: its statuses in /master/state stay one per state it went through.
func TestTaskStatusHistoryHoldsOneStatusPerState(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1", agentResources)
	s := subscribe(t, m, frameworkInfo("healthy"), codec.JSON)
	runTask(t, s, a, "t1", "cpus:1;mem:128")
	for range 20 {
		s.acknowledge(s.nextUpdateAfter(a, "t1", mesos.TaskState_TASK_RUNNING))
		a.next(agentproto.MasterMessage_ACKNOWLEDGE)
	}
	statuses := func() []string {
		tasks := tasksWithID(frameworkState(t, m, s.FrameworkID)["tasks"], "t1")
		if len(tasks) != 1 {
			t.Fatalf("t1 among the tasks: %v", tasks)
		}
		var out []string
		for _, st := range objects(tasks[0]["statuses"]) {
			out = append(out, fmt.Sprint(st["state"]))
		}
		return out
	}
	if got := statuses(); strings.Join(got, ",") != "TASK_RUNNING" {
		t.Errorf("statuses after 21 RUNNING updates = %v, want one TASK_RUNNING", got)
	}
	st := s.nextUpdateAfter(a, "t1", mesos.TaskState_TASK_FINISHED)
	if got := statuses(); strings.Join(got, ",") != "TASK_RUNNING,TASK_FINISHED" {
		t.Errorf("statuses after FINISHED = %v, want TASK_RUNNING,TASK_FINISHED", got)
	}
	s.acknowledge(st)
}
