package master_test

import (
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
)

// TaskInfo.limits (Mesos 1.11's task resource limits): the master accepts
// limits for cpus and mem at or above their requests, infinity included,
// forwards them to the agent and shows them in its task JSON; anything
// else is a TASK_ERROR with Mesos's message, and a task of a group may not
// have any (its tasks share their executor's cgroup).
func TestTaskResourceLimits(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1", "cpus:4;mem:4096")
	s := subscribe(t, m, frameworkInfo("limits"), codec.JSON)
	limits := func(kv ...any) map[string]*mesos.Value_Scalar {
		out := map[string]*mesos.Value_Scalar{}
		for i := 0; i < len(kv); i += 2 {
			out[kv[i].(string)] = &mesos.Value_Scalar{Value: proto.Float64(kv[i+1].(float64))}
		}
		return out
	}
	nextOffer := func() *mesos.Offer {
		t.Helper()
		offers := s.nextOffers()
		if len(offers) != 1 {
			t.Fatalf("got %d offers, want 1", len(offers))
		}
		return offers[0]
	}

	for _, c := range []struct {
		name, res string
		limits    map[string]*mesos.Value_Scalar
		message   string
	}{
		{"disk-limit", "cpus:0.1;mem:32;disk:10", limits("disk", 20.0), "Only cpus and mem may be included in a task's resource limits"},
		{"cpu-below-request", "cpus:0.5;mem:32", limits("cpus", 0.25), "The cpu limit must be greater than or equal to the cpu request"},
		{"mem-below-request", "cpus:0.1;mem:64", limits("mem", 32.0), "The memory limit must be greater than or equal to the memory request"},
		{"cpu-without-request", "mem:64", limits("cpus", 1.0), "When a CPU limit is specified, a CPU request must also be specified"},
		{"mem-without-request", "cpus:0.1", limits("mem", 64.0), "When a memory limit is specified, a memory request must also be specified"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := nextOffer()
			task := commandTask(c.name, c.res, o)
			task.Limits = c.limits
			s.accept(offerIDs(o), 0, launchOp(task))
			st := s.nextUpdate()
			if st.GetTaskId().GetValue() != c.name || st.GetState() != mesos.TaskState_TASK_ERROR || st.GetReason() != mesos.TaskStatus_REASON_TASK_INVALID {
				t.Fatalf("UPDATE = %v, want TASK_ERROR REASON_TASK_INVALID", st)
			}
			if !strings.Contains(st.GetMessage(), c.message) {
				t.Errorf("TASK_ERROR message %q does not say %q", st.GetMessage(), c.message)
			}
		})
	}

	t.Run("in a task group", func(t *testing.T) {
		o := nextOffer()
		ex := &mesos.ExecutorInfo{
			Type:       mesos.ExecutorInfo_DEFAULT.Enum(),
			ExecutorId: &mesos.ExecutorID{Value: proto.String("group-ex")},
			Resources:  resourcesProto("cpus:0.1;mem:32"),
		}
		task := commandTask("g1", "cpus:0.1;mem:32", o)
		task.Limits = limits("cpus", 1.0)
		s.accept(offerIDs(o), 0, launchGroupOp(ex, task))
		st := s.nextUpdate()
		if st.GetState() != mesos.TaskState_TASK_ERROR || st.GetReason() != mesos.TaskStatus_REASON_TASK_GROUP_INVALID ||
			!strings.Contains(st.GetMessage(), "share_cgroups") {
			t.Fatalf("UPDATE = %v, want TASK_ERROR REASON_TASK_GROUP_INVALID about share_cgroups", st)
		}
	})

	t.Run("valid limits reach the agent and the state", func(t *testing.T) {
		o := nextOffer()
		task := commandTask("limited", "cpus:0.1;mem:32", o)
		task.Limits = limits("cpus", math.Inf(1), "mem", 128.0)
		s.accept(offerIDs(o), 0, launchOp(task))
		run := a.next(agentproto.MasterMessage_RUN_TASK).GetRunTask().GetTask()
		if got := run.GetLimits(); got["cpus"].GetValue() != math.Inf(1) || got["mem"].GetValue() != 128 {
			t.Errorf("RUN_TASK limits = %v, want cpus inf, mem 128", got)
		}
		listed := findByID(objects(m.getJSON("/master/tasks")["tasks"]), "limited")
		if listed == nil {
			t.Fatal("/master/tasks does not list the task")
		}
		l, _ := listed["limits"].(map[string]any)
		if l["cpus"] != "Infinity" || l["mem"] != 128.0 {
			t.Errorf("/master/tasks limits = %v, want cpus \"Infinity\", mem 128", listed["limits"])
		}
	})
}
