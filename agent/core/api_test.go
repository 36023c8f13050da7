package core_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/agent/core"
	"github.com/gomesos/gomesos/api/agentproto"
	execpb "github.com/gomesos/gomesos/api/v1/executor"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// This test uses only the exported API, as a simulator in another package
// does: it owns the clock, feeds inputs at chosen times, carries out no
// output but reads them all, and ticks at the deadlines the core asks for.

func outputsOf[T core.Output](outs []core.Output) []T {
	var r []T
	for _, o := range outs {
		if x, ok := o.(T); ok {
			r = append(r, x)
		}
	}
	return r
}

func TestDrivenFromOutside(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := core.New(core.Config{
		WorkDir:             "/var/agent",
		ExecutorBinary:      "/bin/gomesos",
		Endpoint:            "10.0.0.2:5051",
		PID:                 "slave(1)@10.0.0.2:5051",
		RegistrationTimeout: time.Minute,
		ShutdownGrace:       5 * time.Second,
		BackoffFactor:       time.Second,
		RetryMin:            10 * time.Second,
		RetryMax:            10 * time.Minute,
		AgentInfo:           &mesos.AgentInfo{Hostname: proto.String("sim-1"), Port: proto.Int32(5051)},
	}, now, 7, nil)

	// Registration: Connect, then the stream and REGISTERED come back.
	conns := outputsOf[core.Connect](c.Step(now, core.Start{}))
	if len(conns) != 1 || conns[0].Msg.GetType() != agentproto.AgentMessage_REGISTER {
		t.Fatalf("Start gave %v", conns)
	}
	gen := conns[0].Gen
	if d := c.NextDeadline(); !d.Equal(now.Add(core.DefaultMasterPingTimeout)) {
		t.Errorf("while connecting the deadline is %v, want the ping timeout", d.Sub(now))
	}
	c.Step(now, core.MasterStream{Gen: gen, StreamID: "s"})
	c.Step(now, core.MasterMessage{Gen: gen, Msg: &agentproto.MasterMessage{
		Type: agentproto.MasterMessage_REGISTERED.Enum(),
		Registered: &agentproto.MasterMessage_Registered{
			AgentId:            &mesos.AgentID{Value: proto.String("A1")},
			PingTimeoutSeconds: proto.Float64(30),
		},
	}})
	if c.AgentID() != "A1" {
		t.Fatalf("AgentID = %q after REGISTERED", c.AgentID())
	}
	pingDeadline := now.Add(30 * time.Second)
	if d := c.NextDeadline(); !d.Equal(pingDeadline) {
		t.Errorf("registered: deadline in %v, want 30s", d.Sub(now))
	}

	// A task: its executor's container is launched, then it subscribes.
	now = now.Add(time.Second)
	fw := &mesos.FrameworkInfo{Id: &mesos.FrameworkID{Value: proto.String("F")}, User: proto.String("u"), Name: proto.String("f")}
	outs := c.Step(now, core.MasterMessage{Gen: gen, Msg: &agentproto.MasterMessage{
		Type: agentproto.MasterMessage_RUN_TASK.Enum(),
		RunTask: &agentproto.MasterMessage_RunTask{FrameworkInfo: fw, Task: &mesos.TaskInfo{
			Name:    proto.String("t"),
			TaskId:  &mesos.TaskID{Value: proto.String("t")},
			AgentId: &mesos.AgentID{Value: proto.String("A1")},
			Command: &mesos.CommandInfo{Value: proto.String("sleep 1")},
			Labels:  &mesos.Labels{Labels: []*mesos.Label{{Key: proto.String("k"), Value: proto.String("v")}}},
		}},
	}})
	launches := outputsOf[core.Launch](outs)
	if len(launches) != 1 || !strings.HasPrefix(launches[0].Spec.Directory, "/var/agent/slaves/A1/frameworks/F/executors/t/runs/") {
		t.Fatalf("RUN_TASK gave %v", outs)
	}
	spec := launches[0].Spec
	if len(outputsOf[core.Attach](outs)) != 1 {
		t.Errorf("the sandbox is not attached: %v", outs)
	}
	c.Step(now, core.ContainerLaunched{ContainerID: spec.ID, Pid: 100})
	if d := c.NextDeadline(); !d.Equal(pingDeadline) {
		t.Errorf("deadline %v, want the ping's (the registration timeout is later)", d)
	}

	reply := make(chan core.CallResult, 1)
	sub := &execpb.Call{
		FrameworkId: fw.Id,
		ExecutorId:  &mesos.ExecutorID{Value: proto.String("t")},
		Type:        execpb.Call_SUBSCRIBE.Enum(),
		Subscribe:   &execpb.Call_Subscribe{},
	}
	outs = c.Step(now, core.ExecutorCall{Call: sub, Conn: 1, Reply: reply})
	answers := outputsOf[core.Answer](outs)
	if len(answers) != 1 || answers[0].Result.Status != core.CallOK || answers[0].Reply != reply {
		t.Fatalf("SUBSCRIBE answered %v", outs)
	}
	var types []execpb.Event_Type
	for _, e := range outputsOf[core.ExecutorEvent](outs) {
		if e.Conn != 1 {
			t.Errorf("event on stream %d", e.Conn)
		}
		types = append(types, e.Event.GetType())
	}
	if len(types) != 2 || types[0] != execpb.Event_SUBSCRIBED || types[1] != execpb.Event_LAUNCH {
		t.Errorf("events after SUBSCRIBE: %v", types)
	}

	// The snapshot is the endpoints' view at the step's time.
	snaps := make(chan *core.Snapshot, 1)
	now = now.Add(9 * time.Second)
	got := outputsOf[core.SnapshotReply](c.Step(now, core.SnapshotRequest{Reply: snaps}))
	if len(got) != 1 || got[0].Reply != snaps {
		t.Fatalf("no snapshot")
	}
	s := got[0].Snapshot
	if s.State.ID != "A1" || len(s.State.Frameworks) != 1 || s.Metrics["slave/uptime_secs"] != 10 || s.Metrics["slave/executors_running"] != 1 {
		t.Errorf("snapshot: id %q, %d frameworks, metrics %v", s.State.ID, len(s.State.Frameworks), s.Metrics)
	}
	// The task as /state shows it: codec/legacy's model, labels as the
	// bare array.
	if exs := s.State.Frameworks[0].Executors; len(exs) != 1 || len(exs[0].Tasks) != 1 {
		t.Errorf("snapshot: executors %+v", exs)
	} else if b, err := json.Marshal(exs[0].Tasks[0]); err != nil || string(b) != wantTaskJSON {
		t.Errorf("the task in /state:\n got %s (%v)\nwant %s", b, err, wantTaskJSON)
	}

	// No ping by the deadline: the core drops the stream.
	if now = c.NextDeadline(); !now.Equal(pingDeadline) {
		t.Fatalf("next deadline %v, want the ping's", now)
	}
	if d := outputsOf[core.Disconnect](c.Step(now, core.Tick{})); len(d) != 1 || d[0].Gen != gen {
		t.Errorf("no Disconnect at the ping deadline: %v", d)
	}
}

// wantTaskJSON is the launched task in /state, keys in Mesos's order
// (json(const Task&)): the command executor's tasks have an empty
// executor_id, and its role is the framework's.
const wantTaskJSON = `{"id":"t","name":"t","framework_id":"F","executor_id":"","slave_id":"A1","state":"TASK_STAGING",` +
	`"resources":{"disk":0.0,"mem":0.0,"gpus":0.0,"cpus":0.0},"role":"*","statuses":[],"labels":[{"key":"k","value":"v"}]}`
