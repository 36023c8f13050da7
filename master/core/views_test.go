package core

// The legacy JSON views, byte for byte: a deterministic cluster with every
// kind of entity the views show (agents with attributes, reservations and
// ports, an unreachable and a disconnected agent, frameworks with and without
// MULTI_ROLE, labels, a disconnected framework, a completed one, tasks
// running, finished, failed, lost and unreachable, custom and default
// executors, outstanding offers) is rendered by every endpoint and compared
// with the files in testdata/views. Those files were written by the views
// the loop built before snapshots existed; `go test -run TestViewsGolden
// -update` rewrites them after a deliberate change of format.

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	registrypb "github.com/gomesos/gomesos/api/registry"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/master/allocator"
	"github.com/gomesos/gomesos/registry"
	"github.com/gomesos/gomesos/resources"
)

var update = flag.Bool("update", false, "rewrite the golden files of the views")

// rig drives a Core on a virtual clock and keeps what it sent.
type rig struct {
	t      testing.TB
	c      *Core
	now    time.Time
	events map[string][]*schedpb.Event // by stream
	uuids  int
	// check compares, after every step, the snapshot the core publishes
	// with one built from scratch.
	check bool
	// aheadEvery, when set, has the core publish ahead (PublishAhead)
	// after every step, and the check made only every aheadEvery steps:
	// records made ahead then change again before they are published.
	aheadEvery, steps int
	// outs is every output, in order; reg the registry the Persist
	// outputs left.
	outs []Output
	reg  *registrypb.Registry
}

func newRig(t testing.TB) *rig {
	id, ip, host := "views", "10.0.0.1", "master.example"
	info := &mesos.MasterInfo{
		Id: &id, Ip: proto.Uint32(0x0100000a), Port: proto.Uint32(5050), Pid: proto.String("master@10.0.0.1:5050"),
		Hostname: &host, Version: proto.String(Version),
		Address: &mesos.Address{Hostname: &host, Ip: &ip, Port: proto.Int32(5050)},
	}
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	opts := Options{AllocationInterval: time.Second, Logger: slog.New(slog.DiscardHandler)}
	alloc := allocator.New(allocator.Options{AllocationInterval: time.Second, Seed: 1})
	return &rig{t: t, c: NewCore(info, opts, alloc, now), now: now, events: map[string][]*schedpb.Event{}, reg: &registrypb.Registry{}}
}

func (r *rig) step(in Input) Result {
	r.t.Helper()
	r.now = r.now.Add(250 * time.Millisecond)
	res := r.c.Step(r.now, in)
	for _, o := range r.c.Outputs() {
		r.outs = append(r.outs, o)
		switch o := o.(type) {
		case SendEvent:
			r.events[o.Stream] = append(r.events[o.Stream], o.Event)
		case Persist:
			for _, op := range o.Ops {
				registry.Apply(r.reg, op)
			}
		}
	}
	if res.Code.Failed() {
		r.t.Fatalf("step %T: %s %s", in, res.Code, res.Message)
	}
	r.steps++
	if r.aheadEvery > 0 {
		r.c.PublishAhead()
	}
	if r.check && (r.aheadEvery == 0 || r.steps%r.aheadEvery == 0) {
		if d := r.c.Snapshot().Diff(r.c.FullSnapshot()); d != "" {
			r.t.Fatalf("after %T: the published snapshot differs from a full one: %s", in, d)
		}
		got, want := render(r.t, r.c.Snapshot()), render(r.t, r.c.FullSnapshot())
		for name := range want {
			if !bytes.Equal(got[name], want[name]) {
				r.t.Fatalf("after %T: the published snapshot's %s differs from a full one:\n%s", in, name, firstDiff(got[name], want[name]))
			}
		}
	}
	return res
}

// tick lets the allocator run.
func (r *rig) tick() {
	r.now = r.now.Add(time.Second)
	r.step(Tick{})
}

type rigAgent struct {
	id, conn string
}

func (r *rig) agent(conn string, info *mesos.AgentInfo, endpoint string) rigAgent {
	r.t.Helper()
	reg := &agentproto.AgentMessage_Register{AgentInfo: info, Version: proto.String(Version)}
	if endpoint != "" {
		reg.Endpoint = &endpoint
	}
	res := r.step(AgentSubscribe{Conn: conn, Msg: &agentproto.AgentMessage{Type: agentproto.AgentMessage_REGISTER.Enum(), Register: reg}})
	return rigAgent{id: res.AgentID, conn: conn}
}

type rigFramework struct {
	id, stream string
}

func (r *rig) subscribe(stream string, fi *mesos.FrameworkInfo) rigFramework {
	r.t.Helper()
	r.step(SchedulerCall{Stream: stream, Call: &schedpb.Call{
		Type: schedpb.Call_SUBSCRIBE.Enum(), Subscribe: &schedpb.Call_Subscribe{FrameworkInfo: fi},
	}})
	for _, ev := range r.events[stream] {
		if ev.GetType() == schedpb.Event_SUBSCRIBED {
			return rigFramework{id: ev.GetSubscribed().GetFrameworkId().GetValue(), stream: stream}
		}
	}
	r.t.Fatalf("no SUBSCRIBED on %s", stream)
	return rigFramework{}
}

func (r *rig) call(f rigFramework, call *schedpb.Call) {
	r.t.Helper()
	call.FrameworkId = &mesos.FrameworkID{Value: proto.String(f.id)}
	r.step(SchedulerCall{Stream: f.stream, Call: call})
}

// offer takes the framework's latest offer of the agent's resources (in
// role, if set) from the events it was sent.
func (r *rig) offer(f rigFramework, a rigAgent, role string) *mesos.Offer {
	r.t.Helper()
	evs := r.events[f.stream]
	for i := len(evs) - 1; i >= 0; i-- {
		for _, o := range evs[i].GetOffers().GetOffers() {
			if o.GetAgentId().GetValue() == a.id && (role == "" || o.GetAllocationInfo().GetRole() == role) {
				return o
			}
		}
	}
	r.t.Fatalf("framework %s has no offer of agent %s in role %q", f.id, a.id, role)
	return nil
}

func (r *rig) accept(f rigFramework, o *mesos.Offer, ops ...*mesos.Offer_Operation) {
	r.t.Helper()
	r.call(f, &schedpb.Call{Type: schedpb.Call_ACCEPT.Enum(), Accept: &schedpb.Call_Accept{
		OfferIds: []*mesos.OfferID{o.GetId()}, Operations: ops, Filters: &mesos.Filters{RefuseSeconds: proto.Float64(0)},
	}})
}

func (r *rig) decline(f rigFramework, o *mesos.Offer) {
	r.t.Helper()
	r.call(f, &schedpb.Call{Type: schedpb.Call_DECLINE.Enum(), Decline: &schedpb.Call_Decline{
		OfferIds: []*mesos.OfferID{o.GetId()}, Filters: &mesos.Filters{RefuseSeconds: proto.Float64(0)},
	}})
}

// update reports a task's state from its agent and returns the update's uuid.
func (r *rig) update(a rigAgent, f rigFramework, taskID string, state mesos.TaskState, healthy *bool) []byte {
	r.t.Helper()
	r.uuids++
	id := bytes.Repeat([]byte{byte(r.uuids)}, 16)
	r.step(AgentMessage{AgentID: a.id, Conn: a.conn, Msg: &agentproto.AgentMessage{
		Type: agentproto.AgentMessage_STATUS_UPDATE.Enum(),
		StatusUpdate: &agentproto.StatusUpdate{
			FrameworkId: &mesos.FrameworkID{Value: proto.String(f.id)},
			LatestState: state.Enum(),
			Status: &mesos.TaskStatus{
				TaskId: &mesos.TaskID{Value: proto.String(taskID)}, State: state.Enum(),
				Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(), AgentId: &mesos.AgentID{Value: proto.String(a.id)},
				Timestamp: proto.Float64(secs(r.now.Add(100 * time.Millisecond))), Uuid: id, Healthy: healthy,
				ContainerStatus: &mesos.ContainerStatus{ContainerId: &mesos.ContainerID{Value: proto.String(a.id + "-" + taskID)}},
			},
		},
	}})
	return id
}

func (r *rig) ack(a rigAgent, f rigFramework, taskID string, uuid []byte) {
	r.t.Helper()
	r.call(f, &schedpb.Call{Type: schedpb.Call_ACKNOWLEDGE.Enum(), Acknowledge: &schedpb.Call_Acknowledge{
		AgentId: &mesos.AgentID{Value: proto.String(a.id)}, TaskId: &mesos.TaskID{Value: proto.String(taskID)}, Uuid: uuid,
	}})
}

func launch(tasks ...*mesos.TaskInfo) *mesos.Offer_Operation {
	return &mesos.Offer_Operation{Type: mesos.Offer_Operation_LAUNCH.Enum(), Launch: &mesos.Offer_Operation_Launch{TaskInfos: tasks}}
}

func cmdTask(id string, a rigAgent, res string) *mesos.TaskInfo {
	return &mesos.TaskInfo{
		Name: proto.String("task " + id), TaskId: &mesos.TaskID{Value: proto.String(id)},
		AgentId: &mesos.AgentID{Value: proto.String(a.id)}, Resources: resources.ToProto(resources.MustParse(res)),
		Command: &mesos.CommandInfo{Value: proto.String("sleep 1000")},
	}
}

func textAttr(name, v string) *mesos.Attribute {
	return &mesos.Attribute{Name: &name, Type: mesos.Value_TEXT.Enum(), Text: &mesos.Value_Text{Value: &v}}
}

// buildViewsCluster builds the cluster the golden views show.
func buildViewsCluster(t testing.TB, check bool) *rig {
	return buildViewsClusterAhead(t, check, 0)
}

// buildViewsClusterAhead is buildViewsCluster publishing ahead (rig's
// aheadEvery).
func buildViewsClusterAhead(t testing.TB, check bool, aheadEvery int) *rig {
	r := newRig(t)
	r.check, r.aheadEvery = check, aheadEvery
	healthy, unhealthy := proto.Bool(true), proto.Bool(false)

	a0 := r.agent("conn-a0", &mesos.AgentInfo{
		Hostname: proto.String("a0.example"), Port: proto.Int32(5051),
		Resources: resources.ToProto(resources.MustParse("cpus:4;mem:4096;disk:1000;ports:[31000-32000];cpus(role1):1;mem(role1):512")),
		Attributes: []*mesos.Attribute{
			textAttr("rack", "r1"),
			{Name: proto.String("weight"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(2.5)}},
			{Name: proto.String("slots"), Type: mesos.Value_RANGES.Enum(), Ranges: &mesos.Value_Ranges{Range: []*mesos.Value_Range{
				{Begin: proto.Uint64(1), End: proto.Uint64(4)}, {Begin: proto.Uint64(8), End: proto.Uint64(9)},
			}}},
			{Name: proto.String("zones"), Type: mesos.Value_SET.Enum(), Set: &mesos.Value_Set{Item: []string{"a", "b"}}},
		},
	}, "10.0.0.10:5051")
	a1 := r.agent("conn-a1", &mesos.AgentInfo{
		Hostname: proto.String("a1.example"), Port: proto.Int32(5051),
		Resources: resources.ToProto(resources.MustParse("cpus:2;mem:1024")),
	}, "")
	a2 := r.agent("conn-a2", &mesos.AgentInfo{
		Hostname: proto.String("a2.example"), Port: proto.Int32(5052),
		Resources:  resources.ToProto(resources.MustParse("cpus:2;mem:1024;disk:50")),
		Attributes: []*mesos.Attribute{textAttr("rack", "r2")},
	}, "10.0.0.12:5052")

	// web: partition aware, checkpointing, with labels; runs tasks with
	// labels, a health check, a container and ports; a custom executor.
	web := r.subscribe("stream-web", &mesos.FrameworkInfo{
		Name: proto.String("web"), User: proto.String("alice"), Hostname: proto.String("web.example"),
		WebuiUrl: proto.String("http://web.example:8080"), Principal: proto.String("p-web"),
		Checkpoint: proto.Bool(true), FailoverTimeout: proto.Float64(3600), Role: proto.String("*"),
		Capabilities: []*mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_PARTITION_AWARE.Enum()}},
		Labels:       &mesos.Labels{Labels: []*mesos.Label{{Key: proto.String("team"), Value: proto.String("a<b>&c")}, {Key: proto.String("bare")}}},
	})
	r.tick()
	web1 := cmdTask("web-1", a0, "cpus:0.5;mem:128")
	web1.Labels = &mesos.Labels{Labels: []*mesos.Label{{Key: proto.String("tier"), Value: proto.String("front")}}}
	web1.HealthCheck = &mesos.HealthCheck{Type: mesos.HealthCheck_TCP.Enum(), Tcp: &mesos.HealthCheck_TCPCheckInfo{Port: proto.Uint32(80)}}
	web1.Container = &mesos.ContainerInfo{Type: mesos.ContainerInfo_MESOS.Enum(), Hostname: proto.String("web-1")}
	web2 := cmdTask("web-2", a0, "cpus:0.25;mem:64;ports:[31000-31001]")
	web2.Command.User = proto.String("www") // the task's user, not its framework's
	webExec := cmdTask("web-exec", a0, "cpus:0.25;mem:32")
	webExec.Command = nil
	webExec.Executor = &mesos.ExecutorInfo{
		ExecutorId: &mesos.ExecutorID{Value: proto.String("exec-1")}, Name: proto.String("custom executor"),
		Command:   &mesos.CommandInfo{Value: proto.String("./executor")},
		Resources: resources.ToProto(resources.MustParse("cpus:0.25;mem:32")),
	}
	r.accept(web, r.offer(web, a0, ""), launch(web1, web2, webExec))
	r.accept(web, r.offer(web, a2, ""), launch(cmdTask("web-far", a2, "cpus:0.5;mem:128")))
	r.decline(web, r.offer(web, a1, ""))
	r.update(a0, web, "web-1", mesos.TaskState_TASK_STARTING, nil)
	r.update(a0, web, "web-1", mesos.TaskState_TASK_RUNNING, healthy)
	r.update(a0, web, "web-2", mesos.TaskState_TASK_RUNNING, unhealthy)
	r.ack(a0, web, "web-2", r.update(a0, web, "web-2", mesos.TaskState_TASK_FINISHED, nil))
	r.update(a0, web, "web-exec", mesos.TaskState_TASK_RUNNING, nil)
	r.update(a2, web, "web-far", mesos.TaskState_TASK_RUNNING, nil)
	r.call(web, &schedpb.Call{Type: schedpb.Call_SUPPRESS.Enum(), Suppress: &schedpb.Call_Suppress{}})

	// batch: MULTI_ROLE, a task group under the default executor and a
	// task on reserved resources.
	batch := r.subscribe("stream-batch", &mesos.FrameworkInfo{
		Name: proto.String("batch"), User: proto.String("bob"), Roles: []string{"role1", "*"},
		Capabilities: []*mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_MULTI_ROLE.Enum()}},
	})
	r.tick()
	group := &mesos.Offer_Operation{Type: mesos.Offer_Operation_LAUNCH_GROUP.Enum(), LaunchGroup: &mesos.Offer_Operation_LaunchGroup{
		Executor: &mesos.ExecutorInfo{
			Type: mesos.ExecutorInfo_DEFAULT.Enum(), ExecutorId: &mesos.ExecutorID{Value: proto.String("group-exec")},
			Resources: resources.ToProto(resources.MustParse("cpus:0.125;mem:32")),
		},
		TaskGroup: &mesos.TaskGroupInfo{Tasks: []*mesos.TaskInfo{cmdTask("g-1", a1, "cpus:0.25;mem:64"), cmdTask("g-2", a1, "cpus:0.25;mem:64")}},
	}}
	r.accept(batch, r.offer(batch, a1, "*"), group)
	r.accept(batch, r.offer(batch, a0, "role1"), launch(cmdTask("r-1", a0, "cpus(role1):0.5;mem(role1):128")))
	r.update(a1, batch, "g-1", mesos.TaskState_TASK_RUNNING, nil)
	r.update(a1, batch, "g-2", mesos.TaskState_TASK_FAILED, nil)
	r.update(a0, batch, "r-1", mesos.TaskState_TASK_RUNNING, nil)
	for _, ev := range r.events[batch.stream] {
		for _, o := range ev.GetOffers().GetOffers() {
			if o.GetAgentId().GetValue() == a0.id && o.GetAllocationInfo().GetRole() == "*" {
				r.decline(batch, o)
			}
		}
	}
	r.call(batch, &schedpb.Call{Type: schedpb.Call_SUPPRESS.Enum(), Suppress: &schedpb.Call_Suppress{}})

	// temp: runs a task and tears down, leaving a completed framework.
	temp := r.subscribe("stream-temp", &mesos.FrameworkInfo{Name: proto.String("temp"), User: proto.String("carol")})
	r.tick()
	r.accept(temp, r.offer(temp, a0, ""), launch(cmdTask("tmp-1", a0, "cpus:0.5;mem:64")))
	r.update(a0, temp, "tmp-1", mesos.TaskState_TASK_RUNNING, nil)
	r.call(temp, &schedpb.Call{Type: schedpb.Call_TEARDOWN.Enum()})

	// a2 leaves: web-far becomes unreachable. a1's connection breaks: its
	// non-checkpointing tasks are lost.
	r.step(AgentMessage{AgentID: a2.id, Conn: a2.conn, Msg: &agentproto.AgentMessage{Type: agentproto.AgentMessage_UNREGISTER.Enum()}})
	r.step(AgentClosed{Conn: a1.conn})

	// idle: subscribed once, now disconnected within its failover timeout.
	r.subscribe("stream-idle", &mesos.FrameworkInfo{Name: proto.String("idle"), User: proto.String("dave"), FailoverTimeout: proto.Float64(600)})
	r.step(StreamClosed{Stream: "stream-idle"})

	// web takes offers again and holds them.
	r.call(web, &schedpb.Call{Type: schedpb.Call_REVIVE.Enum(), Revive: &schedpb.Call_Revive{}})
	r.tick()
	r.tick()
	return r
}

var viewsBuild = codec.BuildInfo{Version: Version, Date: "2030-01-01", Time: 1893456000, User: "gomesos", GitSHA: "abc123"}

// render answers every legacy endpoint the core serves for the cluster, by
// file name, from the snapshot s.
func render(t testing.TB, s *Snapshot) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	put := func(name string, write func(w io.Writer) error) {
		var b bytes.Buffer
		if err := write(&b); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = b.Bytes()
	}
	flags := map[string]string{"port": "5050", "allocation_interval": "1secs"}
	put("state.json", func(w io.Writer) error { return s.WriteState(w, viewsBuild, flags, "c1") })
	put("state-summary.json", func(w io.Writer) error { return s.WriteSummary(w, "c1") })
	fwID := s.info.GetId() + "-0000"
	for name, id := range map[string]string{"frameworks.json": "", "frameworks-web.json": fwID, "frameworks-none.json": "nope"} {
		put(name, func(w io.Writer) error { return s.WriteFrameworks(w, id) })
	}
	agentID := s.info.GetId() + "-S0"
	for name, id := range map[string]string{"slaves.json": "", "slaves-a0.json": agentID} {
		put(name, func(w io.Writer) error { return s.WriteSlaves(w, id) })
	}
	for name, q := range map[string]TaskQuery{
		"tasks.json":           {Limit: 100},
		"tasks-asc.json":       {Limit: 100, Ascending: true},
		"tasks-page.json":      {Limit: 2, Offset: 1},
		"tasks-task.json":      {Limit: 100, TaskID: "web-1"},
		"tasks-framework.json": {Limit: 100, FrameworkID: fwID, Ascending: true},
	} {
		put(name, func(w io.Writer) error { return s.WriteTasks(w, q) })
	}
	metrics := map[string]codec.Double{}
	for k, v := range s.Metrics() {
		metrics[k] = codec.Double(v)
	}
	put("metrics.json", func(w io.Writer) error { return json.NewEncoder(w).Encode(metrics) })
	out["metrics.json"] = bytes.TrimSuffix(out["metrics.json"], []byte("\n"))
	return out
}

func TestViewsGolden(t *testing.T) {
	r := buildViewsCluster(t, false)
	dir := filepath.Join("testdata", "views")
	for name, got := range render(t, r.c.Snapshot()) {
		path := filepath.Join(dir, name)
		if *update {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update to write it)", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s:\n%s", name, path, firstDiff(got, want))
		}
	}
}

// firstDiff shows where two renderings part.
func firstDiff(got, want []byte) string {
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	lo := max(0, i-80)
	return fmt.Sprintf("at byte %d:\n got  ...%s\n want ...%s", i, got[lo:min(len(got), i+80)], want[lo:min(len(want), i+80)])
}

// Every step says what it changed: the snapshot published after each step
// of the golden cluster's story equals one built from scratch.
func TestSnapshotAfterEveryStepEqualsFullSnapshot(t *testing.T) {
	buildViewsCluster(t, true)
}

// Records made ahead of a publication (PublishAhead), some of which change
// again before it, are published as Snapshot alone would publish them.
func TestSnapshotPublishedAheadEqualsFullSnapshot(t *testing.T) {
	for _, every := range []int{1, 2, 3, 5} {
		t.Run(fmt.Sprintf("every%d", every), func(t *testing.T) {
			r := buildViewsClusterAhead(t, true, every)
			if d := r.c.Snapshot().Diff(r.c.FullSnapshot()); d != "" {
				t.Fatalf("at the end: the published snapshot differs from a full one: %s", d)
			}
		})
	}
}

// A published snapshot does not change when the core moves on: readers
// holding one see the state of when it was published.
func TestSnapshotIsImmutable(t *testing.T) {
	r := newRig(t)
	a := r.agent("conn-a", &mesos.AgentInfo{
		Hostname: proto.String("a.example"), Port: proto.Int32(5051),
		Resources: resources.ToProto(resources.MustParse("cpus:4;mem:4096")),
	}, "10.0.0.10:5051")
	fw := r.subscribe("stream", &mesos.FrameworkInfo{Name: proto.String("f"), User: proto.String("u")})
	r.tick()
	r.accept(fw, r.offer(fw, a, ""), launch(cmdTask("t1", a, "cpus:1;mem:128")))
	r.update(a, fw, "t1", mesos.TaskState_TASK_RUNNING, nil)
	before := r.c.Snapshot()
	want := render(t, before)

	r.ack(a, fw, "t1", r.update(a, fw, "t1", mesos.TaskState_TASK_FINISHED, nil))
	r.tick()
	r.accept(fw, r.offer(fw, a, ""), launch(cmdTask("t2", a, "cpus:1;mem:128")))
	r.step(AgentClosed{Conn: a.conn})
	r.call(fw, &schedpb.Call{Type: schedpb.Call_TEARDOWN.Enum()})
	after := r.c.Snapshot()

	got := render(t, before)
	for name := range want {
		if !bytes.Equal(got[name], want[name]) {
			t.Errorf("%s of an old snapshot changed:\n%s", name, firstDiff(got[name], want[name]))
		}
	}
	if active, _ := after.FrameworkViews(fw.id); len(active) != 0 {
		t.Errorf("the new snapshot has the removed framework active: %v", active)
	}
	if active, _ := before.FrameworkViews(fw.id); len(active) != 1 || len(active[0].Tasks) != 1 || active[0].Tasks[0].State != "TASK_RUNNING" {
		t.Errorf("the old snapshot has frameworks %v, want one with t1 running", active)
	}
}
