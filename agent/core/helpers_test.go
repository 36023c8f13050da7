package core

import (
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/agent/internal/agenttest"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/executor/builtin"
)

// The messages and calls the tests feed in come from agenttest, shared by
// the core's tests and the driver's.
var (
	testFramework = agenttest.Framework
	scalar        = agenttest.Scalar
	commandTask   = agenttest.CommandTask
	runTask       = agenttest.RunTask
	execCall      = agenttest.ExecCall
	update        = agenttest.Update
)

// The variable the core sets to pick a built-in executor is the one the
// gomesos binary reads.
func TestExecutorKindEnvMatchesBuiltin(t *testing.T) {
	if executorKindEnv != builtin.EnvKind {
		t.Fatalf("executorKindEnv = %q, builtin.EnvKind = %q", executorKindEnv, builtin.EnvKind)
	}
}

// As in Mesos, a command task's URIs become its executor's, which the
// agent fetches into the sandbox before the executor starts; a custom
// executor's URIs are its own.
func TestLaunchCarriesTheURIsToFetch(t *testing.T) {
	h := newCoreHarness(t)
	h.register()
	task := commandTask("t", "A-S1", "./run.sh")
	task.Command.Uris = []*mesos.CommandInfo_URI{{Value: proto.String("http://example.com/run.sh"), Executable: proto.Bool(true)}}
	spec := only[Launch](h.master(runTask(task)))[0].Spec
	if len(spec.URIs) != 1 || spec.URIs[0].GetValue() != "http://example.com/run.sh" || !spec.URIs[0].GetExecutable() {
		t.Fatalf("command task's launch fetches %v, want the task's URI", spec.URIs)
	}
	if spec.AgentID != "A-S1" {
		t.Fatalf("launch names agent %q, want A-S1", spec.AgentID)
	}

	custom := commandTask("c", "A-S1", "")
	custom.Command = nil
	custom.Executor = &mesos.ExecutorInfo{
		ExecutorId: &mesos.ExecutorID{Value: proto.String("e")},
		Command: &mesos.CommandInfo{
			Value: proto.String("./exec"),
			Uris:  []*mesos.CommandInfo_URI{{Value: proto.String("/opt/exec")}},
		},
		Resources: custom.GetResources(),
	}
	spec = only[Launch](h.master(runTask(custom)))[0].Spec
	if len(spec.URIs) != 1 || spec.URIs[0].GetValue() != "/opt/exec" {
		t.Fatalf("custom executor's launch fetches %v, want /opt/exec", spec.URIs)
	}
}

// A command task whose container is DOCKER runs in the docker executor
// (Mesos's mesos-docker-executor); one with a MESOS container, or none,
// in the command executor.
func TestDockerTaskGetsTheDockerExecutor(t *testing.T) {
	h := newCoreHarness(t)
	h.register()
	kinds := map[string]string{}
	for id, typ := range map[string]*mesos.ContainerInfo_Type{"d": mesos.ContainerInfo_DOCKER.Enum(), "m": mesos.ContainerInfo_MESOS.Enum(), "n": nil} {
		task := commandTask(id, "A-S1", "true")
		if typ != nil {
			task.Container = &mesos.ContainerInfo{Type: typ, Docker: &mesos.ContainerInfo_DockerInfo{Image: proto.String("busybox")}}
		}
		spec := only[Launch](h.master(runTask(task)))[0].Spec
		for _, kv := range spec.Env {
			if v, ok := strings.CutPrefix(kv, "GOMESOS_EXECUTOR="); ok {
				kinds[id] += v
			}
		}
	}
	if kinds["d"] != "docker" || kinds["m"] != "command" || kinds["n"] != "command" {
		t.Errorf("executor kinds %v, want docker for the DOCKER container and command for the others", kinds)
	}
}

// A custom executor gets its own ports as PORT0..n, PORT and PORTS, unless
// its command sets them; an executor without a ContainerInfo is launched
// with the agent's --default_container_info.
func TestCoreCustomExecutorPortsAndDefaultContainer(t *testing.T) {
	h := newCoreHarness(t)
	def := &mesos.ContainerInfo{Type: mesos.ContainerInfo_MESOS.Enum(), Volumes: []*mesos.Volume{
		{ContainerPath: proto.String("/tmp"), HostPath: proto.String("tmp"), Mode: mesos.Volume_RW.Enum()}}}
	h.c.cfg.DefaultContainerInfo = def
	h.register()
	custom := commandTask("c", "A-S1", "")
	custom.Command = nil
	custom.Executor = &mesos.ExecutorInfo{
		ExecutorId: &mesos.ExecutorID{Value: proto.String("e")},
		Command: &mesos.CommandInfo{Value: proto.String("./exec"), Environment: &mesos.Environment{
			Variables: []*mesos.Environment_Variable{{Name: proto.String("PORT1"), Value: proto.String("mine")}}}},
		Resources: []*mesos.Resource{{Name: proto.String("ports"), Type: mesos.Value_RANGES.Enum(),
			Ranges: &mesos.Value_Ranges{Range: []*mesos.Value_Range{{Begin: proto.Uint64(31000), End: proto.Uint64(31001)}}}}},
	}
	spec := only[Launch](h.master(runTask(custom)))[0].Spec
	for _, want := range []string{"PORT=31000", "PORT0=31000", "PORT1=mine", "PORTS=31000,31001"} {
		if !slices.Contains(spec.Env, want) {
			t.Errorf("env lacks %s: %v", want, spec.Env)
		}
	}
	if slices.Contains(spec.Env, "PORT1=31001") {
		t.Error("the agent's PORT1 overrides the executor's own")
	}
	if spec.Container != def {
		t.Errorf("launch container = %v, want the default", spec.Container)
	}

	withOwn := commandTask("d", "A-S1", "true")
	own := &mesos.ContainerInfo{Type: mesos.ContainerInfo_MESOS.Enum()}
	withOwn.Container = own
	spec = only[Launch](h.master(runTask(withOwn)))[0].Spec
	if spec.Container != own {
		t.Errorf("launch container = %v, want the task's own", spec.Container)
	}
}
