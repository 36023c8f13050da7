package core

import (
	"math"
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

func sumScalar(rs []*mesos.Resource, name string) float64 {
	var s float64
	for _, r := range rs {
		if r.GetName() == name {
			s += r.GetScalar().GetValue()
		}
	}
	return s
}

// A container's limits are Mesos's agent's (computeExecutorLimits): for
// cpus and for mem, when a task has a limit, the tasks' limits (a task
// without one counts its request) plus the executor's own resources;
// infinite when a task's limit is. A command task's container starts with
// the task's resources and limits already.
func TestContainerLimits(t *testing.T) {
	h := newCoreHarness(t)
	h.register()
	limit := func(v float64) *mesos.Value_Scalar { return &mesos.Value_Scalar{Value: proto.Float64(v)} }

	task := commandTask("t", "A-S1", "true")
	task.Limits = map[string]*mesos.Value_Scalar{"cpus": limit(0.5), "mem": limit(128)}
	spec := only[Launch](h.master(runTask(task)))[0].Spec
	if got := sumScalar(spec.Resources, "cpus"); math.Abs(got-(0.1+commandExecutorCPUs)) > 1e-9 {
		t.Errorf("launch cpus = %v, want the task's 0.1 and the executor's %v", got, commandExecutorCPUs)
	}
	if got := spec.Limits; math.Abs(got["cpus"]-(0.5+commandExecutorCPUs)) > 1e-9 || got["mem"] != 128+commandExecutorMem {
		t.Errorf("launch limits = %v, want cpus %v, mem %v", got, 0.5+commandExecutorCPUs, 128+commandExecutorMem)
	}

	plain := commandTask("p", "A-S1", "true")
	if spec := only[Launch](h.master(runTask(plain)))[0].Spec; spec.Limits != nil {
		t.Errorf("a task without limits launches with limits %v", spec.Limits)
	}

	// A custom executor's second task, with an infinite cpus limit.
	custom := func(id string) *mesos.TaskInfo {
		c := commandTask(id, "A-S1", "")
		c.Command = nil
		c.Executor = &mesos.ExecutorInfo{
			ExecutorId: &mesos.ExecutorID{Value: proto.String("e")},
			Command:    &mesos.CommandInfo{Value: proto.String("./exec")},
			Resources:  []*mesos.Resource{scalar("cpus", 0.2), scalar("mem", 64)},
		}
		return c
	}
	first := custom("c1")
	if spec := only[Launch](h.master(runTask(first)))[0].Spec; spec.Limits != nil {
		t.Errorf("custom executor limits = %v, want none", spec.Limits)
	}
	second := custom("c2")
	second.Limits = map[string]*mesos.Value_Scalar{"cpus": limit(math.Inf(1))}
	updates := only[UpdateContainer](h.master(runTask(second)))
	if len(updates) != 1 {
		t.Fatalf("got %d container updates, want 1", len(updates))
	}
	if got := updates[0].Limits; len(got) != 1 || !math.IsInf(got["cpus"], 1) {
		t.Errorf("update limits = %v, want only cpus +Inf", got)
	}
	if got := sumScalar(updates[0].Resources, "cpus"); math.Abs(got-0.4) > 1e-9 {
		t.Errorf("update cpus = %v, want 0.4", got)
	}
}
