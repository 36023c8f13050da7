package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/internal/testutil"
	"github.com/gomesos/gomesos/resources"
	"github.com/gomesos/gomesos/scheduler"
	"github.com/gomesos/gomesos/scheduler/schedulertest"
)

const waitTimeout = 10 * time.Second

// update is one status update an agent sends for a task.
type update struct {
	state   mesos.TaskState
	message string
	reason  *mesos.TaskStatus_Reason
	master  bool // from the master: SOURCE_MASTER and no uuid
}

// cluster is a fake master with an agent: it runs each launched task through
// a script of status updates, sending the next one when the previous is
// acknowledged (as the agent's status update manager does), and answers KILL
// with TASK_KILLED.
type cluster struct {
	t *testing.T
	m *schedulertest.Master

	mu      sync.Mutex
	script  []update
	queues  map[string][]update
	agents  map[string]*mesos.AgentID
	sent    map[string][]byte // uuid -> task id, for checking acknowledgements
	offerNo int
}

func newCluster(t *testing.T, script ...update) *cluster {
	c := &cluster{
		t:      t,
		m:      schedulertest.NewMaster(),
		script: script,
		queues: map[string][]update{},
		agents: map[string]*mesos.AgentID{},
		sent:   map[string][]byte{},
	}
	t.Cleanup(c.m.Close)
	c.m.OnCall(c.onCall)
	return c
}

func (c *cluster) agentID(n int) string { return c.m.ID() + "-S" + string(rune('0'+n)) }

func (c *cluster) onCall(call *schedulertest.Call) (int, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch call.Call.GetType() {
	case schedpb.Call_ACCEPT:
		for _, op := range call.Call.GetAccept().GetOperations() {
			for _, task := range op.GetLaunch().GetTaskInfos() {
				id := task.GetTaskId().GetValue()
				c.agents[id] = task.GetAgentId()
				c.queues[id] = append([]update(nil), c.script...)
				c.sendNext(id)
			}
		}
	case schedpb.Call_ACKNOWLEDGE:
		ack := call.Call.GetAcknowledge()
		id := ack.GetTaskId().GetValue()
		if string(c.sent[string(ack.GetUuid())]) != id {
			c.t.Errorf("acknowledgement of unknown uuid %x for task %s", ack.GetUuid(), id)
		}
		delete(c.sent, string(ack.GetUuid()))
		c.sendNext(id)
	case schedpb.Call_KILL:
		id := call.Call.GetKill().GetTaskId().GetValue()
		if _, ok := c.agents[id]; ok {
			c.queues[id] = []update{{state: mesos.TaskState_TASK_KILLED, message: "Command terminated with signal Terminated"}}
			c.sendNext(id)
		}
	}
	return 0, ""
}

// sendNext sends the task's next scripted update; a master update, which is
// not acknowledged, is followed by the next one straight away. Callers hold
// c.mu.
func (c *cluster) sendNext(id string) {
	for len(c.queues[id]) > 0 {
		u := c.queues[id][0]
		c.queues[id] = c.queues[id][1:]
		st := &mesos.TaskStatus{
			TaskId:    &mesos.TaskID{Value: proto.String(id)},
			State:     u.state.Enum(),
			AgentId:   c.agents[id],
			Timestamp: proto.Float64(float64(time.Now().UnixNano()) / 1e9),
			Reason:    u.reason,
		}
		if u.message != "" {
			st.Message = proto.String(u.message)
		}
		if u.master {
			st.Source = mesos.TaskStatus_SOURCE_MASTER.Enum()
		} else {
			st.Source = mesos.TaskStatus_SOURCE_EXECUTOR.Enum()
			st.Uuid = make([]byte, 16)
			rand.Read(st.Uuid)
			c.sent[string(st.Uuid)] = []byte(id)
		}
		ev := &schedpb.Event{Type: schedpb.Event_UPDATE.Enum(), Update: &schedpb.Event_Update{Status: st}}
		if err := c.m.Send("", ev); err != nil {
			c.t.Errorf("sending update: %v", err)
		}
		if !u.master {
			return
		}
	}
}

// offer builds an offer from agent n with resources in --resources syntax,
// as a master sends it to the execute framework: without allocation_info
// (it is not MULTI_ROLE) and in the post-refinement format (it has
// RESERVATION_REFINEMENT).
func (c *cluster) offer(n int, res string) *mesos.Offer {
	c.mu.Lock()
	c.offerNo++
	no := c.offerNo
	c.mu.Unlock()
	pbs, err := resources.ToProtoFormat(resources.MustParse(res), resources.PostRefinementFormat)
	if err != nil {
		c.t.Fatal(err)
	}
	return &mesos.Offer{
		Id:          &mesos.OfferID{Value: proto.String(c.m.ID() + "-O" + string(rune('0'+no)))},
		FrameworkId: &mesos.FrameworkID{Value: proto.String(c.m.ID() + "-0000")},
		AgentId:     &mesos.AgentID{Value: proto.String(c.agentID(n))},
		Hostname:    proto.String("localhost"),
		Resources:   pbs,
	}
}

func (c *cluster) sendOffers(offers ...*mesos.Offer) {
	c.t.Helper()
	ev := &schedpb.Event{Type: schedpb.Event_OFFERS.Enum(), Offers: &schedpb.Event_Offers{Offers: offers}}
	if err := c.m.Send("", ev); err != nil {
		c.t.Fatalf("sending offers: %v", err)
	}
}

func (c *cluster) nextStream() *schedulertest.Stream {
	c.t.Helper()
	s, err := c.m.NextStream(ctxT(c.t))
	if err != nil {
		c.t.Fatalf("no subscription: %v", err)
	}
	return s
}

func (c *cluster) nextCall(typ schedpb.Call_Type) *schedulertest.Call {
	c.t.Helper()
	call, err := c.m.NextCall(ctxT(c.t), typ)
	if err != nil {
		c.t.Fatalf("no %s call: %v", typ, err)
	}
	return call
}

func (c *cluster) calls(typ schedpb.Call_Type) []*schedulertest.Call {
	var out []*schedulertest.Call
	for _, call := range c.m.Calls() {
		if call.Call.GetType() == typ {
			out = append(out, call)
		}
	}
	return out
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return ctx
}

// run is one Execute in the background.
type run struct {
	t      *testing.T
	stdout bytes.Buffer
	stderr bytes.Buffer
	code   int
	err    error
	done   chan struct{}
	cancel context.CancelFunc
}

func startExecute(t *testing.T, opts ExecuteOptions) *run {
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{t: t, done: make(chan struct{}), cancel: cancel}
	go func() {
		defer close(r.done)
		r.code, r.err = Execute(ctx, opts, &r.stdout, &r.stderr)
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

func (r *run) wait() {
	r.t.Helper()
	select {
	case <-r.done:
	case <-time.After(waitTimeout):
		r.t.Fatalf("Execute did not return within %v", waitTimeout)
	}
}

func options(c *cluster) ExecuteOptions {
	o := DefaultExecuteOptions()
	o.Master = c.m.Addr()
	o.Name = "hello-task"
	o.Command = "echo hello"
	o.User = "tester"
	return o
}

var (
	starting = update{state: mesos.TaskState_TASK_STARTING}
	running  = update{state: mesos.TaskState_TASK_RUNNING}
	finished = update{state: mesos.TaskState_TASK_FINISHED, message: "Command exited with status 0"}
)

// The output of a task that finishes matches mesos-execute's (the captured
// mesos_execute.out, without its log lines), every update is acknowledged
// with its uuid, the framework is torn down, and the exit code is 0.
func TestExecuteFinished(t *testing.T) {
	for _, enc := range []codec.Encoding{codec.JSON, codec.Protobuf} {
		t.Run(enc.ContentType(), func(t *testing.T) {
			testutil.CheckGoroutines(t)
			c := newCluster(t, starting, running, finished)
			opts := options(c)
			opts.Encoding = enc
			r := startExecute(t, opts)

			s := c.nextStream()
			fw := s.Subscribe.GetSubscribe().GetFrameworkInfo()
			if fw.GetName() != ExecuteFrameworkName || fw.GetUser() != "tester" || fw.GetRole() != "*" {
				t.Errorf("FrameworkInfo %v", fw)
			}
			if s.Encoding != enc {
				t.Errorf("subscribed with %v, want %v", s.Encoding, enc)
			}
			c.sendOffers(c.offer(0, "cpus:2;mem:23081;disk:252899;ports:[31000-32000]"))
			r.wait()
			if r.err != nil || r.code != 0 {
				t.Fatalf("Execute = %d, %v; stderr:\n%s", r.code, r.err, r.stderr.String())
			}

			sample, err := os.ReadFile(filepath.Join("testdata", "mesos_execute.out"))
			if err != nil {
				t.Fatal(err)
			}
			_, want, _ := strings.Cut(string(sample), "Subscribed with ID")
			want = "Subscribed with ID" + strings.ReplaceAll(want, "afea9262-9905-432c-9de6-9a8411f6abc8", c.m.ID())
			if got := r.stdout.String(); got != want {
				t.Errorf("output:\n%s\nwant (as mesos-execute):\n%s", got, want)
			}

			accept := c.calls(schedpb.Call_ACCEPT)
			if len(accept) != 1 {
				t.Fatalf("%d ACCEPT calls, want 1", len(accept))
			}
			a := accept[0].Call.GetAccept()
			if len(a.GetOfferIds()) != 1 || len(a.GetOperations()) != 1 {
				t.Fatalf("ACCEPT %v", a)
			}
			if got := a.GetFilters().GetRefuseSeconds(); got != 3600 {
				t.Errorf("ACCEPT refuse_seconds = %v, want 3600 once every task is launched", got)
			}
			op := a.GetOperations()[0]
			if op.GetType() != mesos.Offer_Operation_LAUNCH || len(op.GetLaunch().GetTaskInfos()) != 1 {
				t.Fatalf("operation %v", op)
			}
			task := op.GetLaunch().GetTaskInfos()[0]
			if task.GetName() != "hello-task" || task.GetTaskId().GetValue() != "hello-task" || task.GetAgentId().GetValue() != c.agentID(0) {
				t.Errorf("task %v", task)
			}
			if !task.GetCommand().GetShell() || task.GetCommand().GetValue() != "echo hello" {
				t.Errorf("command %v", task.GetCommand())
			}
			got, err := resources.FromProto(task.GetResources())
			if err != nil {
				t.Fatal(err)
			}
			if want := resources.MustParse("cpus:0.1;mem:32"); !got.Equal(want) {
				t.Errorf("task resources %v, want %v", got, want)
			}
			// As offered: post-refinement format, no allocation_info.
			for _, r := range task.GetResources() {
				if r.Role != nil || r.Reservation != nil || r.AllocationInfo != nil {
					t.Errorf("task resource not in the format offered: %v", r)
				}
			}

			if n := len(c.calls(schedpb.Call_ACKNOWLEDGE)); n != 3 {
				t.Errorf("%d acknowledgements, want 3", n)
			}
			c.mu.Lock()
			if len(c.sent) != 0 {
				t.Errorf("%d updates not acknowledged", len(c.sent))
			}
			c.mu.Unlock()
			if n := len(c.calls(schedpb.Call_TEARDOWN)); n != 1 {
				t.Errorf("%d TEARDOWN calls, want 1", n)
			}
		})
	}
}

// A command that exits 3 makes Execute exit 3; the reason is printed.
func TestExecuteFailedExitStatus(t *testing.T) {
	testutil.CheckGoroutines(t)
	failed := update{state: mesos.TaskState_TASK_FAILED, message: "Command exited with status 3",
		reason: mesos.TaskStatus_REASON_COMMAND_EXECUTOR_FAILED.Enum()}
	c := newCluster(t, starting, running, failed)
	opts := options(c)
	opts.Command = "exit 3"
	r := startExecute(t, opts)
	c.nextStream()
	c.sendOffers(c.offer(0, "cpus:1;mem:128"))
	r.wait()
	if r.err != nil || r.code != 3 {
		t.Fatalf("Execute = %d, %v; want 3, nil", r.code, r.err)
	}
	want := "Received status update TASK_FAILED for task 'hello-task'\n" +
		"  message: 'Command exited with status 3'\n" +
		"  source: SOURCE_EXECUTOR\n" +
		"  reason: REASON_COMMAND_EXECUTOR_FAILED\n"
	if !strings.HasSuffix(r.stdout.String(), want) {
		t.Errorf("output:\n%s\nwant it to end with:\n%s", r.stdout.String(), want)
	}
	if n := len(c.calls(schedpb.Call_ACKNOWLEDGE)); n != 3 {
		t.Errorf("%d acknowledgements, want 3", n)
	}
}

// An update from the master (no uuid) is not acknowledged; a task that is
// dropped makes the exit code 1.
func TestExecuteDroppedByMaster(t *testing.T) {
	testutil.CheckGoroutines(t)
	dropped := update{state: mesos.TaskState_TASK_DROPPED, message: "Task launched with invalid offers",
		reason: mesos.TaskStatus_REASON_INVALID_OFFERS.Enum(), master: true}
	c := newCluster(t, dropped)
	r := startExecute(t, options(c))
	c.nextStream()
	c.sendOffers(c.offer(0, "cpus:1;mem:128"))
	r.wait()
	if r.err != nil || r.code != 1 {
		t.Fatalf("Execute = %d, %v; want 1, nil", r.code, r.err)
	}
	if n := len(c.calls(schedpb.Call_ACKNOWLEDGE)); n != 0 {
		t.Errorf("%d acknowledgements of a master update", n)
	}
	if !strings.Contains(r.stdout.String(), "  source: SOURCE_MASTER\n  reason: REASON_INVALID_OFFERS\n") {
		t.Errorf("output:\n%s", r.stdout.String())
	}
}

// Several tasks are split across the offers that hold them; offers too small
// while tasks wait are declined briefly, offers after all are launched for
// an hour.
func TestExecuteCountAcrossOffers(t *testing.T) {
	testutil.CheckGoroutines(t)
	c := newCluster(t, running, finished)
	opts := options(c)
	opts.Name = "hello"
	opts.Count = 3
	r := startExecute(t, opts)
	c.nextStream()
	small := c.offer(0, "cpus:0.05;mem:1024")
	two := c.offer(1, "cpus:0.25;mem:100")
	one := c.offer(2, "cpus:1;mem:64")
	late := c.offer(3, "cpus:8;mem:8192") // comes after every task is launched
	c.sendOffers(small, two, one, late)
	r.wait()
	if r.err != nil || r.code != 0 {
		t.Fatalf("Execute = %d, %v; stderr:\n%s", r.code, r.err, r.stderr.String())
	}

	accepts := c.calls(schedpb.Call_ACCEPT)
	if len(accepts) != 2 {
		t.Fatalf("%d ACCEPTs, want 2", len(accepts))
	}
	for i, want := range []struct {
		offer string
		tasks []string
	}{{two.GetId().GetValue(), []string{"hello-1", "hello-2"}}, {one.GetId().GetValue(), []string{"hello-3"}}} {
		a := accepts[i].Call.GetAccept()
		if a.GetOfferIds()[0].GetValue() != want.offer {
			t.Errorf("ACCEPT %d uses offer %v, want %s", i, a.GetOfferIds(), want.offer)
		}
		var ids []string
		for _, task := range a.GetOperations()[0].GetLaunch().GetTaskInfos() {
			ids = append(ids, task.GetTaskId().GetValue())
		}
		if strings.Join(ids, ",") != strings.Join(want.tasks, ",") {
			t.Errorf("ACCEPT %d launches %v, want %v", i, ids, want.tasks)
		}
	}
	declines := c.calls(schedpb.Call_DECLINE)
	if len(declines) < 2 {
		t.Fatalf("%d DECLINEs, want 2", len(declines))
	}
	for i, want := range []struct {
		offer  string
		refuse float64
	}{{small.GetId().GetValue(), 5}, {late.GetId().GetValue(), 3600}} {
		d := declines[i].Call.GetDecline()
		if len(d.GetOfferIds()) != 1 || d.GetOfferIds()[0].GetValue() != want.offer || d.GetFilters().GetRefuseSeconds() != want.refuse {
			t.Errorf("DECLINE %d = %v, want offer %s refused for %vs", i, d, want.offer, want.refuse)
		}
	}
	for _, line := range []string{
		"Submitted task 'hello-1' to agent '" + c.agentID(1) + "'\n",
		"Submitted task 'hello-2' to agent '" + c.agentID(1) + "'\n",
		"Submitted task 'hello-3' to agent '" + c.agentID(2) + "'\n",
		"Received status update TASK_FINISHED for task 'hello-3'\n",
	} {
		if !strings.Contains(r.stdout.String(), line) {
			t.Errorf("output lacks %q:\n%s", line, r.stdout.String())
		}
	}
}

// Cancelling ctx (Ctrl-C) kills the running task, tears the framework down
// and exits 130.
func TestExecuteInterrupted(t *testing.T) {
	testutil.CheckGoroutines(t)
	c := newCluster(t, starting, running)
	r := startExecute(t, options(c))
	c.nextStream()
	c.sendOffers(c.offer(0, "cpus:1;mem:128"))
	c.nextCall(schedpb.Call_ACKNOWLEDGE)
	c.nextCall(schedpb.Call_ACKNOWLEDGE) // TASK_RUNNING is acknowledged
	r.cancel()
	r.wait()
	if r.code != ExitInterrupted || !errors.Is(r.err, context.Canceled) {
		t.Fatalf("Execute = %d, %v; want %d, context.Canceled", r.code, r.err, ExitInterrupted)
	}
	kill := c.nextCall(schedpb.Call_KILL)
	if kill.Call.GetKill().GetTaskId().GetValue() != "hello-task" || kill.Call.GetKill().GetAgentId().GetValue() != c.agentID(0) {
		t.Errorf("KILL %v", kill.Call.GetKill())
	}
	if got := c.nextCall(schedpb.Call_TEARDOWN); got.Status != http.StatusAccepted {
		t.Errorf("TEARDOWN answered %d", got.Status)
	}
}

// Interrupted with several tasks running: every task gets its KILL (sent
// together, not one after another), every TASK_KILLED is printed, and the
// framework is torn down, once; the exit is still 130.
func TestExecuteInterruptReportsEveryTaskKilled(t *testing.T) {
	testutil.CheckGoroutines(t)
	c := newCluster(t, starting, running)
	opts := options(c)
	opts.Count = 5
	r := startExecute(t, opts)
	c.nextStream()
	c.sendOffers(c.offer(0, "cpus:8;mem:1024"))
	for range 2 * opts.Count { // STARTING and RUNNING of each
		c.nextCall(schedpb.Call_ACKNOWLEDGE)
	}
	r.cancel()
	r.wait()
	if r.code != ExitInterrupted || !errors.Is(r.err, context.Canceled) {
		t.Fatalf("Execute = %d, %v; want %d, context.Canceled", r.code, r.err, ExitInterrupted)
	}
	c.nextCall(schedpb.Call_TEARDOWN)
	killed := map[string]bool{}
	for _, k := range c.calls(schedpb.Call_KILL) {
		killed[k.Call.GetKill().GetTaskId().GetValue()] = true
	}
	for i := 1; i <= opts.Count; i++ {
		id := fmt.Sprintf("hello-task-%d", i)
		if !killed[id] {
			t.Errorf("no KILL for %s", id)
		}
		if line := "Received status update TASK_KILLED for task '" + id + "'\n"; !strings.Contains(r.stdout.String(), line) {
			t.Errorf("output lacks %q:\n%s", line, r.stdout.String())
		}
	}
	if n := len(c.calls(schedpb.Call_KILL)); n != opts.Count {
		t.Errorf("%d KILLs, want %d", n, opts.Count)
	}
	if n := len(c.calls(schedpb.Call_TEARDOWN)); n != 1 {
		t.Errorf("%d TEARDOWNs, want 1", n)
	}
}

// Interrupted before any task was launched: nothing to kill, the framework
// is still torn down.
func TestExecuteInterruptedBeforeLaunch(t *testing.T) {
	testutil.CheckGoroutines(t)
	c := newCluster(t)
	r := startExecute(t, options(c))
	c.nextStream()
	// Wait until the client is subscribed: its DECLINE of a useless offer
	// proves it.
	c.sendOffers(c.offer(0, "cpus:0.01;mem:1"))
	c.nextCall(schedpb.Call_DECLINE)
	r.cancel()
	r.wait()
	if r.code != ExitInterrupted {
		t.Fatalf("Execute = %d, %v", r.code, r.err)
	}
	c.nextCall(schedpb.Call_TEARDOWN)
	if n := len(c.calls(schedpb.Call_KILL)); n != 0 {
		t.Errorf("%d KILLs without tasks", n)
	}
}

// KillAfter kills the task once it has run that long; killed means exit 1.
func TestExecuteKillAfter(t *testing.T) {
	testutil.CheckGoroutines(t)
	c := newCluster(t, starting, running)
	opts := options(c)
	opts.KillAfter = time.Millisecond
	r := startExecute(t, opts)
	c.nextStream()
	c.sendOffers(c.offer(0, "cpus:1;mem:128"))
	r.wait()
	if r.err != nil || r.code != 1 {
		t.Fatalf("Execute = %d, %v; want 1, nil", r.code, r.err)
	}
	c.nextCall(schedpb.Call_KILL)
	if !strings.Contains(r.stdout.String(), "Received status update TASK_KILLED for task 'hello-task'\n") {
		t.Errorf("output:\n%s", r.stdout.String())
	}
}

// Non-shell commands are split into argv; environment variables are passed
// sorted.
func TestExecuteCommandInfo(t *testing.T) {
	testutil.CheckGoroutines(t)
	c := newCluster(t, finished)
	opts := options(c)
	opts.Shell = false
	opts.Command = "/bin/echo  hello world"
	opts.Env = map[string]string{"B": "2", "A": "1"}
	r := startExecute(t, opts)
	c.nextStream()
	c.sendOffers(c.offer(0, "cpus:1;mem:128"))
	r.wait()
	if r.code != 0 {
		t.Fatalf("Execute = %d, %v", r.code, r.err)
	}
	cmd := c.calls(schedpb.Call_ACCEPT)[0].Call.GetAccept().GetOperations()[0].GetLaunch().GetTaskInfos()[0].GetCommand()
	want := &mesos.CommandInfo{
		Shell:     proto.Bool(false),
		Value:     proto.String("/bin/echo"),
		Arguments: []string{"/bin/echo", "hello", "world"},
		Environment: &mesos.Environment{Variables: []*mesos.Environment_Variable{
			{Name: proto.String("A"), Type: mesos.Environment_Variable_VALUE.Enum(), Value: proto.String("1")},
			{Name: proto.String("B"), Type: mesos.Environment_Variable_VALUE.Enum(), Value: proto.String("2")},
		}},
	}
	if !proto.Equal(cmd, want) {
		t.Errorf("command %v\nwant %v", cmd, want)
	}
}

// A master ERROR (e.g. the framework was removed) ends Execute with it.
func TestExecuteMasterError(t *testing.T) {
	testutil.CheckGoroutines(t)
	c := newCluster(t)
	c.m.OnSubscribe(func(*schedpb.Call) *schedpb.Event {
		return &schedpb.Event{Type: schedpb.Event_ERROR.Enum(), Error: &schedpb.Event_Error{Message: proto.String("Framework has been removed")}}
	})
	r := startExecute(t, options(c))
	r.wait()
	var merr *scheduler.MasterError
	if r.code != 1 || !errors.As(r.err, &merr) || merr.Message != "Framework has been removed" {
		t.Fatalf("Execute = %d, %v", r.code, r.err)
	}
}

func TestExecuteBadOptions(t *testing.T) {
	base := DefaultExecuteOptions()
	base.Master, base.Name, base.Command, base.User = "localhost:1", "t", "true", "u"
	for name, mod := range map[string]func(*ExecuteOptions){
		"no master":     func(o *ExecuteOptions) { o.Master = "" },
		"no name":       func(o *ExecuteOptions) { o.Name = "" },
		"no command":    func(o *ExecuteOptions) { o.Command = " " },
		"bad resources": func(o *ExecuteOptions) { o.Resources = "cpus:lots" },
		"bad role":      func(o *ExecuteOptions) { o.Role = "a b" },
		"bad master":    func(o *ExecuteOptions) { o.Master = "zk://h:2181/mesos" },
		"negative":      func(o *ExecuteOptions) { o.Count = -1 },
	} {
		o := base
		mod(&o)
		code, err := Execute(context.Background(), o, &bytes.Buffer{}, &bytes.Buffer{})
		if code != 1 || err == nil {
			t.Errorf("%s: Execute = %d, %v", name, code, err)
		}
	}
}

// take prefers resources reserved for the role, then unreserved ones, and
// keeps the offer's reservation and allocation.
func TestTakeResources(t *testing.T) {
	offered := resources.MustParse("cpus(dev):0.05;cpus:1;mem:64;ports:[31000-31005];disk:10").AllocatedTo("dev")
	need := resources.MustParse("cpus:0.1;mem:32;ports:[31001-31002]")
	got, ok := take(offered, need, "dev")
	if !ok {
		t.Fatal("take failed")
	}
	want := resources.MustParse("cpus(dev):0.05;cpus:0.05;mem:32;ports:[31001-31002]").AllocatedTo("dev")
	if !got.Equal(want) {
		t.Errorf("took %v, want %v", got, want)
	}
	if _, ok := take(offered, resources.MustParse("cpus:2"), "dev"); ok {
		t.Error("took more cpus than offered")
	}
	if _, ok := take(offered, resources.MustParse("gpus:1"), "dev"); ok {
		t.Error("took gpus that are not offered")
	}
	if _, ok := take(offered, resources.MustParse("ports:[40000-40000]"), "dev"); ok {
		t.Error("took ports that are not offered")
	}
}

// --master lists several masters. The leader fails over while the task
// runs: Execute re-subscribes with the new leader as the same framework
// and reconciles its task (RECONCILE with the task and its agent, as Mesos
// asks of frameworks after a failover); the answer, a terminal state,
// ends the run as the task's own update would.
func TestExecuteLeaderFailover(t *testing.T) {
	testutil.CheckGoroutines(t)
	c1 := newCluster(t, starting, running)
	m2 := schedulertest.NewMaster()
	t.Cleanup(m2.Close)
	m2.RedirectTo(c1.m.Addr())
	var reconciled atomic.Pointer[schedpb.Call]
	m2.OnCall(func(call *schedulertest.Call) (int, string) {
		rc := call.Call.GetReconcile()
		if call.Call.GetType() != schedpb.Call_RECONCILE || len(rc.GetTasks()) != 1 {
			return 0, ""
		}
		reconciled.Store(call.Call)
		// The new leader knows the task ended while it was being elected.
		st := &mesos.TaskStatus{
			TaskId:  rc.GetTasks()[0].GetTaskId(),
			AgentId: rc.GetTasks()[0].GetAgentId(),
			State:   mesos.TaskState_TASK_FINISHED.Enum(),
			Source:  mesos.TaskStatus_SOURCE_MASTER.Enum(),
			Reason:  mesos.TaskStatus_REASON_RECONCILIATION.Enum(),
			Message: proto.String("Reconciliation: Latest task state"),
		}
		if err := m2.Send("", &schedpb.Event{Type: schedpb.Event_UPDATE.Enum(), Update: &schedpb.Event_Update{Status: st}}); err != nil {
			t.Errorf("answering RECONCILE: %v", err)
		}
		return 0, ""
	})
	opts := options(c1)
	opts.Master = c1.m.Addr() + ", " + m2.Addr()
	r := startExecute(t, opts)

	s1 := c1.nextStream()
	c1.sendOffers(c1.offer(0, "cpus:1;mem:128"))
	c1.nextCall(schedpb.Call_ACKNOWLEDGE)
	c1.nextCall(schedpb.Call_ACKNOWLEDGE) // TASK_RUNNING

	c1.m.Close()
	m2.RedirectTo("")
	s2, err := m2.NextStream(ctxT(t))
	if err != nil {
		t.Fatalf("no subscription with the new leader: %v", err)
	}
	if s2.FrameworkID != s1.FrameworkID || s2.Subscribe.GetFrameworkId().GetValue() != s1.FrameworkID {
		t.Errorf("re-subscribed as %q (framework_id %q), want %q", s2.FrameworkID, s2.Subscribe.GetFrameworkId().GetValue(), s1.FrameworkID)
	}
	r.wait()
	if r.err != nil || r.code != 0 {
		t.Fatalf("Execute = %d, %v; stderr:\n%s", r.code, r.err, r.stderr.String())
	}
	rc := reconciled.Load()
	if rc == nil {
		t.Fatal("no RECONCILE after the failover")
	}
	if task := rc.GetReconcile().GetTasks()[0]; task.GetTaskId().GetValue() != "hello-task" || task.GetAgentId().GetValue() != c1.agentID(0) {
		t.Errorf("RECONCILE %v", task)
	}
	out := r.stdout.String()
	if n := strings.Count(out, "Subscribed with ID "+s1.FrameworkID); n != 2 {
		t.Errorf("%d subscriptions printed, want 2:\n%s", n, out)
	}
	if !strings.Contains(out, "Received status update TASK_FINISHED for task 'hello-task'\n  message: 'Reconciliation: Latest task state'\n  source: SOURCE_MASTER\n  reason: REASON_RECONCILIATION\n") {
		t.Errorf("output lacks the reconciled TASK_FINISHED:\n%s", out)
	}
	teardown, err := m2.NextCall(ctxT(t), schedpb.Call_TEARDOWN)
	if err != nil || teardown.Status != http.StatusAccepted {
		t.Errorf("TEARDOWN at the new leader: %v, %v", teardown, err)
	}
}

// A task whose state the master does not answer at once is reconciled
// again until an update for it comes.
func TestExecuteReconcilesUntilAnswered(t *testing.T) {
	testutil.CheckGoroutines(t)
	c := newCluster(t, starting, running)
	var mu sync.Mutex
	reconciles := 0
	answer := make(chan struct{})
	c.m.OnCall(func(call *schedulertest.Call) (int, string) {
		if call.Call.GetType() != schedpb.Call_RECONCILE {
			return c.onCall(call)
		}
		mu.Lock()
		defer mu.Unlock()
		if reconciles++; reconciles == 2 {
			close(answer)
		}
		return 0, ""
	})
	r := startExecute(t, options(c))
	s1 := c.nextStream()
	c.sendOffers(c.offer(0, "cpus:1;mem:128"))
	c.nextCall(schedpb.Call_ACKNOWLEDGE)
	c.nextCall(schedpb.Call_ACKNOWLEDGE)
	s1.Drop()
	c.nextStream()
	select {
	case <-answer:
	case <-time.After(waitTimeout):
		t.Fatal("RECONCILE was not sent again")
	}
	c.mu.Lock()
	c.queues["hello-task"] = []update{finished}
	c.sendNext("hello-task")
	c.mu.Unlock()
	r.wait()
	if r.err != nil || r.code != 0 {
		t.Fatalf("Execute = %d, %v; stderr:\n%s", r.code, r.err, r.stderr.String())
	}
}

// With Progress set (a terminal), the tasks show as a bar redrawn in
// place, ending at every task done, instead of the per-task lines.
func TestExecuteProgressBar(t *testing.T) {
	testutil.CheckGoroutines(t)
	c := newCluster(t, running, finished)
	opts := options(c)
	opts.Name = "bar"
	opts.Count = 2
	var bar bytes.Buffer
	opts.Progress = &bar
	r := startExecute(t, opts)
	c.nextStream()
	c.sendOffers(c.offer(0, "cpus:1;mem:1024"))
	r.wait()
	if r.err != nil || r.code != 0 {
		t.Fatalf("Execute = %d, %v; stderr:\n%s", r.code, r.err, r.stderr.String())
	}
	if strings.Contains(r.stdout.String(), "Received status update") {
		t.Errorf("per-task lines printed with a progress bar:\n%s", r.stdout.String())
	}
	got := bar.String()
	if !strings.HasPrefix(got, "\r[") || !strings.Contains(got, "2 running") ||
		!strings.HasSuffix(got, "\r[##############################] 2/2 done, 0 running\n") {
		t.Errorf("progress bar %q", got)
	}
}
