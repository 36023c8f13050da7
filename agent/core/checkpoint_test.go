package core

import (
	"bytes"
	"context"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	execpb "github.com/gomesos/gomesos/api/v1/executor"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// ckptHarness is a core whose checkpoint outputs are applied to an
// in-memory store, checked after every step: a Checkpoint comes first or
// not at all, and what was written equals the state computed afresh.
type ckptHarness struct {
	*coreHarness
	disk map[string]map[string][]byte
}

func newCkptHarness(t *testing.T) *ckptHarness {
	return &ckptHarness{coreHarness: newCoreHarness(t), disk: map[string]map[string][]byte{}}
}

func (h *ckptHarness) step(in Input) []Output {
	h.t.Helper()
	outs := h.coreHarness.step(in)
	for i, o := range outs {
		if c, ok := o.(Checkpoint); ok {
			if i != 0 {
				h.t.Fatalf("%T: Checkpoint is output %d, not the first: %v", in, i, outs)
			}
			if len(c.Ops) == 0 {
				h.t.Fatalf("%T: an empty Checkpoint", in)
			}
			ApplyCheckpoint(h.disk, c.Ops)
		}
	}
	h.verify()
	return outs
}

// verify checks the store against the state computed from scratch, and
// that it decodes.
func (h *ckptHarness) verify() {
	h.t.Helper()
	if _, err := DecodeCheckpoint(h.disk); err != nil {
		h.t.Fatalf("the checkpoint does not decode: %v", err)
	}
	want := h.c.durableState()
	got := map[ckptKey][]byte{}
	for b, kv := range h.disk {
		for k, v := range kv {
			got[ckptKey{b, k}] = v
		}
	}
	if !maps.EqualFunc(got, want, bytes.Equal) {
		var diff []string
		for k := range want {
			if !bytes.Equal(got[k], want[k]) {
				diff = append(diff, "want "+k.bucket+"/"+k.key)
			}
		}
		for k := range got {
			if _, ok := want[k]; !ok {
				diff = append(diff, "extra "+k.bucket+"/"+k.key)
			}
		}
		h.t.Fatalf("checkpoint differs from the state: %v", diff)
	}
}

func (h *ckptHarness) master(m *agentproto.MasterMessage) []Output {
	return h.step(MasterMessage{Gen: h.c.gen, Msg: m})
}

func (h *ckptHarness) register() {
	h.t.Helper()
	conn := only[Connect](h.step(Start{}))
	h.step(MasterStream{Gen: conn[0].Gen, StreamID: "s1"})
	outs := h.step(MasterMessage{Gen: conn[0].Gen, Msg: registered("A-S1", 3600)})
	if c, ok := outs[0].(Checkpoint); !ok || c.Ops[0].Bucket != BucketMeta {
		h.t.Fatalf("registration did not checkpoint the agent first: %v", outs)
	}
}

func checkpointingTask(id string) *agentproto.MasterMessage {
	m := runTask(commandTask(id, "A-S1", "sleep 100"))
	m.RunTask.FrameworkInfo = proto.Clone(m.RunTask.FrameworkInfo).(*mesos.FrameworkInfo)
	m.RunTask.FrameworkInfo.Checkpoint = proto.Bool(true)
	return m
}

func (h *ckptHarness) execUpdate(task string, state mesos.TaskState, uuid byte) []Output {
	reply := make(chan CallResult, 1)
	return h.step(ExecutorCall{Call: update("fw-1", task, task, state, bytes.Repeat([]byte{uuid}, 16)), Reply: reply})
}

func (h *ckptHarness) ack(task string, uuid byte) []Output {
	return h.master(&agentproto.MasterMessage{
		Type: agentproto.MasterMessage_ACKNOWLEDGE.Enum(),
		Acknowledge: &agentproto.MasterMessage_Acknowledge{
			FrameworkId: testFramework.GetId(), TaskId: &mesos.TaskID{Value: proto.String(task)}, Uuid: bytes.Repeat([]byte{uuid}, 16),
		},
	})
}

// launchRunning runs a checkpointing command task up to an unacknowledged
// TASK_RUNNING and returns its container.
func (h *ckptHarness) launchRunning(task string, pid int, conn int64) string {
	h.t.Helper()
	spec := only[Launch](h.master(checkpointingTask(task)))[0].Spec
	if !slices.Contains(spec.Env, "MESOS_CHECKPOINT=1") || !slices.Contains(spec.Env, "MESOS_RECOVERY_TIMEOUT=15mins") {
		h.t.Errorf("env %v", spec.Env)
	}
	h.step(ContainerLaunched{ContainerID: spec.ID, Pid: pid})
	sub := execCall("fw-1", task, execpb.Call_SUBSCRIBE)
	sub.Subscribe = &execpb.Call_Subscribe{}
	reply := make(chan CallResult, 1)
	h.step(ExecutorCall{Call: sub, Conn: conn, Reply: reply})
	outs := h.execUpdate(task, mesos.TaskState_TASK_RUNNING, 1)
	// On disk before it is forwarded and acknowledged.
	if _, ok := outs[0].(Checkpoint); !ok || len(sentUpdates(outs)) != 1 || len(only[ExecutorEvent](outs)) != 1 {
		h.t.Fatalf("update outputs %v", outs)
	}
	return spec.ID
}

func TestCheckpointOnlyWhenStateChanges(t *testing.T) {
	h := newCkptHarness(t)
	h.register()
	h.launchRunning("t1", 100, 7)
	// A snapshot, a tick with nothing due, a retransmitted update: no
	// checkpoint.
	for _, in := range []Input{SnapshotRequest{Reply: make(chan *Snapshot, 1)}, Tick{}} {
		if outs := h.step(in); len(only[Checkpoint](outs)) != 0 {
			t.Errorf("%T wrote %v", in, outs)
		}
	}
	if outs := h.execUpdate("t1", mesos.TaskState_TASK_RUNNING, 1); len(only[Checkpoint](outs)) != 0 {
		t.Errorf("a duplicate update wrote %v", outs)
	}
	if outs := h.ack("t1", 9); len(only[Checkpoint](outs)) != 0 {
		t.Errorf("a stale ack wrote %v", outs)
	}
	// The ack of RUNNING changes the stream.
	if outs := h.ack("t1", 1); len(only[Checkpoint](outs)) != 1 {
		t.Errorf("the ack wrote nothing: %v", outs)
	}
	// Finished and acknowledged, the executor ends: its records go.
	h.execUpdate("t1", mesos.TaskState_TASK_FINISHED, 2)
	h.ack("t1", 2)
	cid := h.c.frameworks["fw-1"].executors["t1"].containerID
	h.step(ContainerExited{Termination: Termination{ContainerID: cid, Status: 0}})
	for _, b := range []string{BucketExecutors, BucketStreams, BucketFrameworks} {
		if len(h.disk[b]) != 0 {
			t.Errorf("bucket %s still holds %v", b, slices.Collect(maps.Keys(h.disk[b])))
		}
	}
	if len(h.disk[BucketMeta]) != 1 {
		t.Errorf("meta = %v", h.disk[BucketMeta])
	}
}

func TestCheckpointNothingForNonCheckpointingFrameworks(t *testing.T) {
	h := newCkptHarness(t)
	h.register()
	outs := h.master(runTask(commandTask("t1", "A-S1", "sleep 100")))
	if len(only[Checkpoint](outs)) != 0 {
		t.Fatalf("wrote %v", outs)
	}
	if len(h.disk[BucketFrameworks])+len(h.disk[BucketExecutors]) != 0 {
		t.Fatalf("disk %v", h.disk)
	}
}

// recoverFrom builds a new core from the disk, as a restarted agent.
func (h *ckptHarness) restart(containers []RecoveredContainer) (*ckptHarness, []Output) {
	h.t.Helper()
	st, err := DecodeCheckpoint(h.disk)
	if err != nil {
		h.t.Fatal(err)
	}
	n := &ckptHarness{coreHarness: newCoreHarness(h.t), disk: h.disk}
	n.now = h.now
	outs := n.step(Recover{State: st, Containers: containers})
	return n, outs
}

func TestRecoverRestoresAndReregisters(t *testing.T) {
	h := newCkptHarness(t)
	h.register()
	cid := h.launchRunning("t1", 100, 7)
	st, err := DecodeCheckpoint(h.disk)
	if err != nil {
		t.Fatal(err)
	}
	if st.AgentID != "A-S1" || !slices.Equal(st.ContainerIDs, []string{cid}) {
		t.Fatalf("recovered %+v", st)
	}

	n, _ := h.restart([]RecoveredContainer{{ContainerID: cid, Pid: 100, Alive: true}})
	// Not registering before the executor comes back.
	if outs := n.step(Start{}); len(only[Connect](outs)) != 0 {
		t.Fatalf("registered before executors settled: %v", outs)
	}
	sub := execCall("fw-1", "t1", execpb.Call_SUBSCRIBE)
	sub.Subscribe = &execpb.Call_Subscribe{UnacknowledgedTasks: []*mesos.TaskInfo{commandTask("t1", "A-S1", "sleep 100")}}
	reply := make(chan CallResult, 1)
	outs := n.step(ExecutorCall{Call: sub, Conn: 3, Reply: reply})
	conns := only[Connect](outs)
	if len(conns) != 1 || conns[0].Msg.GetType() != agentproto.AgentMessage_REREGISTER {
		t.Fatalf("after resubscribe: %v", outs)
	}
	reg := conns[0].Msg.GetRegister()
	if reg.GetAgentInfo().GetId().GetValue() != "A-S1" || len(reg.GetTasks()) != 1 ||
		reg.GetTasks()[0].GetState() != mesos.TaskState_TASK_RUNNING ||
		reg.GetTasks()[0].GetStatusUpdateState() != mesos.TaskState_TASK_RUNNING {
		t.Fatalf("REREGISTER %v", reg)
	}
	if len(reg.GetFrameworks()) != 1 || !reg.GetFrameworks()[0].GetCheckpoint() {
		t.Fatalf("frameworks %v", reg.GetFrameworks())
	}
	if !reg.GetRestarted() {
		t.Fatal("the first REREGISTER after a restart does not say so")
	}
	// The unacknowledged RUNNING goes out again once registered.
	n.step(MasterStream{Gen: conns[0].Gen, StreamID: "s2"})
	outs = n.step(MasterMessage{Gen: conns[0].Gen, Msg: registered("A-S1", 3600)})
	if got := sentUpdates(outs); !slices.Equal(got, []mesos.TaskState{mesos.TaskState_TASK_RUNNING}) {
		t.Fatalf("resent %v", got)
	}
	// A later re-registration is a reconnection.
	n.step(MasterStreamEnded{Gen: conns[0].Gen})
	n.now = n.c.nextDeadline()
	again := only[Connect](n.step(Tick{}))
	if len(again) != 1 || again[0].Msg.GetRegister().GetRestarted() {
		t.Fatalf("reconnection: %v", again)
	}
	n.step(MasterStream{Gen: again[0].Gen, StreamID: "s3"})
	n.step(MasterMessage{Gen: again[0].Gen, Msg: registered("A-S1", 3600)})
	// Its acknowledgement lands; a duplicate does nothing.
	n.ack("t1", 1)
	if outs := n.ack("t1", 1); len(only[Checkpoint](outs)) != 0 {
		t.Fatalf("duplicate ack wrote %v", outs)
	}
}

func TestRecoverEndedContainerFailsTasks(t *testing.T) {
	h := newCkptHarness(t)
	h.register()
	cid := h.launchRunning("t1", 100, 7)
	n, _ := h.restart([]RecoveredContainer{{ContainerID: cid, Alive: false, Status: 9}})
	outs := n.step(Start{})
	if len(only[Connect](outs)) != 1 {
		t.Fatalf("no registration: %v", outs)
	}
	ex := n.c.frameworks["fw-1"].executors["t1"]
	if ex == nil || ex.terminated["t1"].GetState() != mesos.TaskState_TASK_FAILED {
		t.Fatalf("executor %+v", ex)
	}
	s := ex.terminated["t1"].GetStatuses()
	if r := s[len(s)-1].GetReason(); r != mesos.TaskStatus_REASON_EXECUTOR_TERMINATED {
		t.Fatalf("reason %v", r)
	}
}

func TestRecoverReregistrationTimeout(t *testing.T) {
	h := newCkptHarness(t)
	h.register()
	cid := h.launchRunning("t1", 100, 7)
	n, _ := h.restart([]RecoveredContainer{{ContainerID: cid, Pid: 100, Alive: true}})
	n.step(Start{})
	d := n.c.nextDeadline()
	if d.Sub(n.now) != DefaultExecutorReregistrationTimeout {
		t.Fatalf("deadline in %v", d.Sub(n.now))
	}
	n.now = d
	outs := n.step(Tick{})
	if ds := only[Destroy](outs); len(ds) != 1 || ds[0].ContainerID != cid {
		t.Fatalf("tick: %v", outs)
	}
	if len(only[Connect](outs)) != 1 {
		t.Fatalf("no registration once settled: %v", outs)
	}
	n.step(ContainerExited{Termination: Termination{ContainerID: cid, Status: 9}})
	task := n.c.frameworks["fw-1"].executors["t1"].terminated["t1"]
	last := task.GetStatuses()[len(task.GetStatuses())-1]
	if task.GetState() != mesos.TaskState_TASK_LOST || last.GetReason() != mesos.TaskStatus_REASON_EXECUTOR_REREGISTRATION_TIMEOUT ||
		last.GetMessage() != "Executor did not reregister within 2secs" {
		t.Fatalf("task %v", task)
	}
}

func TestDecodeCheckpointNamesBadValue(t *testing.T) {
	h := newCkptHarness(t)
	h.register()
	h.launchRunning("t1", 100, 7)
	for _, b := range []string{BucketMeta, BucketFrameworks, BucketExecutors, BucketStreams} {
		disk := map[string]map[string][]byte{}
		for bb, kv := range h.disk {
			disk[bb] = maps.Clone(kv)
		}
		var key string
		for k := range disk[b] {
			key = k
		}
		disk[b][key] = []byte{0xff, 0xff, 0xff}
		_, err := DecodeCheckpoint(disk)
		if err == nil || !strings.Contains(err.Error(), `bucket "`+b+`"`) || !strings.Contains(err.Error(), `key "`+key+`"`) {
			t.Errorf("bucket %s: err %v", b, err)
		}
	}
}

// levelRecorder keeps the level and message of every log record.
type levelRecorder struct{ records *[]string }

func (r levelRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r levelRecorder) Handle(_ context.Context, rec slog.Record) error {
	*r.records = append(*r.records, rec.Level.String()+" "+rec.Message)
	return nil
}
func (r levelRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r levelRecorder) WithGroup(string) slog.Handler      { return r }

// A duplicate acknowledgement (of an update already acknowledged, or of a
// stream already ended) is logged at debug level, not as a warning; an
// acknowledgement of an update never sent still warns.
func TestDuplicateAcknowledgementsAreQuiet(t *testing.T) {
	h := newCkptHarness(t)
	var logs []string
	h.c.log = slog.New(levelRecorder{&logs})
	h.register()
	h.launchRunning("t1", 100, 7)
	h.ack("t1", 1)
	logs = nil
	h.ack("t1", 1)
	h.execUpdate("t1", mesos.TaskState_TASK_FINISHED, 2)
	h.ack("t1", 2)
	h.ack("t1", 2)
	for _, l := range logs {
		if strings.HasPrefix(l, "WARN") {
			t.Errorf("logged %q", l)
		}
	}
	if !slices.Contains(logs, "DEBUG ignoring a duplicate status update acknowledgement") {
		t.Errorf("logs %v", logs)
	}
	h.execUpdate("t1", mesos.TaskState_TASK_RUNNING, 3) // refused: t1 is terminal
	logs = nil
	h.launchRunning("t2", 101, 8)
	h.ack("t2", 7)
	if !slices.ContainsFunc(logs, func(l string) bool { return strings.HasPrefix(l, "WARN ignoring status update acknowledgement") }) {
		t.Errorf("an unknown acknowledgement did not warn: %v", logs)
	}
}

// Through a task group, a kill, an executor ending with an update not yet
// acknowledged, a framework shutdown, the master's SHUTDOWN and the
// agent's Stop, the incremental writes always equal the state (the
// harness checks after every step), and what ends is deleted.
func TestCheckpointFollowsEveryChange(t *testing.T) {
	h := newCkptHarness(t)
	h.register()
	h.launchRunning("t1", 100, 7)

	fw := proto.Clone(testFramework).(*mesos.FrameworkInfo)
	fw.Checkpoint = proto.Bool(true)
	group := &agentproto.MasterMessage{
		Type: agentproto.MasterMessage_RUN_TASK_GROUP.Enum(),
		RunTaskGroup: &agentproto.MasterMessage_RunTaskGroup{
			FrameworkInfo: fw,
			Executor: &mesos.ExecutorInfo{
				ExecutorId: &mesos.ExecutorID{Value: proto.String("dflt")},
				Type:       mesos.ExecutorInfo_DEFAULT.Enum(),
				Resources:  []*mesos.Resource{scalar("cpus", 0.1)},
			},
			TaskGroup: &mesos.TaskGroupInfo{Tasks: []*mesos.TaskInfo{commandTask("g1", "A-S1", "sleep 9"), commandTask("g2", "A-S1", "sleep 9")}},
		},
	}
	spec := only[Launch](h.master(group))[0].Spec
	if len(h.disk[BucketExecutors]) != 2 {
		t.Fatalf("executors %v", slices.Collect(maps.Keys(h.disk[BucketExecutors])))
	}
	h.step(ContainerLaunched{ContainerID: spec.ID, Pid: 200})

	// A kill, the executor's TASK_KILLED, and the executor's end before
	// the acknowledgement: the run stays until the update is acknowledged.
	h.master(killTask("t1"))
	h.execUpdate("t1", mesos.TaskState_TASK_KILLED, 2)
	cid := h.c.frameworks["fw-1"].executors["t1"].containerID
	h.step(ContainerExited{Termination: Termination{ContainerID: cid, Status: 9}})
	if _, ok := h.disk[BucketExecutors]["fw-1/t1"]; !ok {
		t.Fatal("an ended executor with an unacknowledged update was deleted")
	}
	st, err := DecodeCheckpoint(h.disk)
	if err != nil || slices.Contains(st.ContainerIDs, cid) {
		t.Fatalf("an ended container is still to be recovered: %v %v", st.ContainerIDs, err)
	}
	h.ack("t1", 1)
	h.ack("t1", 2)
	if _, ok := h.disk[BucketExecutors]["fw-1/t1"]; ok {
		t.Fatal("a finished executor was kept")
	}
	if _, ok := h.disk[BucketStreams]["fw-1/t1"]; ok {
		t.Fatal("a finished stream was kept")
	}

	// A framework that does not checkpoint writes nothing, beside one that does.
	before := len(h.disk[BucketExecutors])
	other := runTask(commandTask("t3", "A-S1", "sleep 9"))
	other.RunTask.FrameworkInfo = knownAs("fw-2", false)
	h.master(other)
	if len(h.disk[BucketExecutors]) != before {
		t.Fatal("a non-checkpointing executor was written")
	}

	// The framework shuts down: its executor is killed, then it is gone.
	h.master(&agentproto.MasterMessage{
		Type:              agentproto.MasterMessage_SHUTDOWN_FRAMEWORK.Enum(),
		ShutdownFramework: &agentproto.MasterMessage_ShutdownFramework{FrameworkId: testFramework.GetId()},
	})
	h.step(ContainerExited{Termination: Termination{ContainerID: spec.ID, Status: 9}})

	// The master refuses the agent: everything of the old id goes.
	h.master(&agentproto.MasterMessage{Type: agentproto.MasterMessage_SHUTDOWN.Enum(), Message: proto.String("gone")})
	if len(h.disk[BucketMeta])+len(h.disk[BucketFrameworks])+len(h.disk[BucketExecutors])+len(h.disk[BucketStreams]) != 0 {
		t.Fatalf("left after SHUTDOWN: %v", h.disk)
	}
	h.step(MasterStream{Gen: h.c.gen, StreamID: "s9"})
	h.step(MasterMessage{Gen: h.c.gen, Msg: registered("A-S2", 3600)})
	h.launchRunning("t4", 300, 9)

	// Stop (SIGUSR1, Mesos's shutdown) removes the checkpoint.
	h.step(Stop{})
	for b, kv := range h.disk {
		if len(kv) != 0 {
			t.Errorf("bucket %s left after Stop: %v", b, slices.Collect(maps.Keys(kv)))
		}
	}
}

// Exit (SIGTERM) leaves the checkpoint as it is, destroys only the
// executors of frameworks that do not checkpoint, and tells the master
// nothing.
func TestExitKeepsCheckpointedExecutors(t *testing.T) {
	h := newCkptHarness(t)
	h.register()
	kept := h.launchRunning("t1", 100, 7)
	other := runTask(commandTask("t2", "A-S1", "sleep 9"))
	other.RunTask.FrameworkInfo = knownAs("fw-2", false)
	lost := only[Launch](h.master(other))[0].Spec.ID
	disk := map[string]map[string][]byte{}
	for b, kv := range h.disk {
		disk[b] = maps.Clone(kv)
	}
	outs := h.step(Exit{})
	if len(only[Checkpoint](outs)) != 0 || len(only[Send](outs)) != 0 {
		t.Fatalf("exit outputs %v", outs)
	}
	ds := only[Destroy](outs)
	if len(ds) != 1 || ds[0].ContainerID != lost {
		t.Fatalf("destroyed %v, want only %s (not %s)", ds, lost, kept)
	}
	if !maps.EqualFunc(disk, h.disk, func(a, b map[string][]byte) bool { return maps.EqualFunc(a, b, bytes.Equal) }) {
		t.Fatal("Exit changed the checkpoint")
	}
}

func killTask(task string) *agentproto.MasterMessage {
	return &agentproto.MasterMessage{
		Type: agentproto.MasterMessage_KILL_TASK.Enum(),
		KillTask: &agentproto.MasterMessage_KillTask{
			FrameworkId: testFramework.GetId(),
			TaskId:      &mesos.TaskID{Value: proto.String(task)},
		},
	}
}

// knownAs is the test framework under another id.
func knownAs(id string, checkpointing bool) *mesos.FrameworkInfo {
	fw := proto.Clone(testFramework).(*mesos.FrameworkInfo)
	fw.Id = &mesos.FrameworkID{Value: proto.String(id)}
	fw.Checkpoint = proto.Bool(checkpointing)
	return fw
}

// A framework whose checkpoint flag changes has its records written or
// removed whole.
func TestCheckpointFlagChange(t *testing.T) {
	h := newCkptHarness(t)
	h.register()
	h.launchRunning("t1", 100, 7)
	h.master(runTask(commandTask("t2", "A-S1", "sleep 9"))) // fw-1, checkpoint unset
	for _, b := range []string{BucketFrameworks, BucketExecutors, BucketStreams} {
		if len(h.disk[b]) != 0 {
			t.Errorf("bucket %s kept %v", b, slices.Collect(maps.Keys(h.disk[b])))
		}
	}
	h.master(checkpointingTask("t3"))
	if len(h.disk[BucketExecutors]) != 3 {
		t.Errorf("executors %v", slices.Collect(maps.Keys(h.disk[BucketExecutors])))
	}
}

// A task the agent ends on its own (here TASK_ERROR: neither a command nor
// an executor) keeps its framework until the update is acknowledged; then
// the framework goes, from the agent and from the checkpoint.
func TestExecutorlessUpdateKeepsThenFreesFramework(t *testing.T) {
	h := newCkptHarness(t)
	h.register()
	bad := checkpointingTask("bad")
	bad.RunTask.Task.Command = nil
	outs := h.master(bad)
	sent := only[Send](outs)
	if len(sent) != 1 || sent[0].Msg.GetStatusUpdate().GetStatus().GetState() != mesos.TaskState_TASK_ERROR {
		t.Fatalf("outputs %v", outs)
	}
	if len(h.disk[BucketFrameworks]) != 1 || len(h.disk[BucketStreams]) != 1 {
		t.Fatalf("disk %v", h.disk)
	}
	h.ack("bad", 0) // a wrong uuid: nothing changes
	if h.c.frameworks["fw-1"] == nil {
		t.Fatal("the framework went before the update was acknowledged")
	}
	h.master(&agentproto.MasterMessage{
		Type: agentproto.MasterMessage_ACKNOWLEDGE.Enum(),
		Acknowledge: &agentproto.MasterMessage_Acknowledge{
			FrameworkId: testFramework.GetId(), TaskId: &mesos.TaskID{Value: proto.String("bad")},
			Uuid: sent[0].Msg.GetStatusUpdate().GetStatus().GetUuid(),
		},
	})
	if h.c.frameworks["fw-1"] != nil || len(h.disk[BucketFrameworks])+len(h.disk[BucketStreams]) != 0 {
		t.Fatalf("left: %v, disk %v", h.c.frameworks, h.disk)
	}
}

// The executors of checkpointing frameworks get --recovery_timeout and a
// subscription backoff of half the reregistration timeout.
func TestRecoveryTimeoutsReachExecutors(t *testing.T) {
	h := newCkptHarness(t)
	h.c.cfg.RecoveryTimeout = 3 * time.Second
	h.c.cfg.ExecutorReregistrationTimeout = 10 * time.Second
	h.register()
	spec := only[Launch](h.master(checkpointingTask("t1")))[0].Spec
	for _, want := range []string{"MESOS_CHECKPOINT=1", "MESOS_RECOVERY_TIMEOUT=3secs", "MESOS_SUBSCRIPTION_BACKOFF_MAX=2secs"} {
		if !slices.Contains(spec.Env, want) {
			t.Errorf("env lacks %s: %v", want, spec.Env)
		}
	}
	h.c.cfg.ExecutorReregistrationTimeout = 0
	spec = only[Launch](h.master(checkpointingTask("t2")))[0].Spec
	if !slices.Contains(spec.Env, "MESOS_SUBSCRIPTION_BACKOFF_MAX=1secs") {
		t.Errorf("env %v", spec.Env)
	}
}
