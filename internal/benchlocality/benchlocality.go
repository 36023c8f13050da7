// Package benchlocality is `gomesos bench locality`: the Mesos paper's data
// locality experiment (Hindman et al., NSDI 2011, section 6.3) on simulated
// agents, with the real master core and allocator and the batch driver's
// real delay scheduling (package batch/locality).
//
// Frameworks, each a batch driver running a sequence of jobs of map tasks,
// share the agents. Every map task reads a split stored on Replicas agents
// chosen at random (as HDFS places blocks); read where it is stored, a
// split costs LocalRead, elsewhere RemoteRead (the modelled cost of reading
// over the network). The experiment runs four settings, each from the same
// seed (same data, same jobs):
//
//   - static: the agents are partitioned among the frameworks (each takes
//     only its own agents' offers, keeps executors on all of their slots,
//     and runs tasks there without waiting: static partitioning as in the
//     paper);
//   - wait=0s, wait=1s, wait=5s: the frameworks share every agent through
//     the master's offers, with that locality wait: a framework takes an
//     offer only for tasks locality.Pick gives it (local ones, or any once
//     their stage waited that long) and declines the rest with a short
//     filter; a one-slot executor runs a task, then the next task Pick
//     gives its agent, and is killed when there is none, giving its slot
//     back to the master.
//
// Time is virtual: the master's Core is stepped on a simulated clock, with
// a millisecond of latency on every message, so a run takes seconds of real
// time whatever the virtual durations.
package benchlocality

import (
	"container/heap"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/batch/locality"
	"github.com/gomesos/gomesos/master/allocator"
	"github.com/gomesos/gomesos/master/core"
	"github.com/gomesos/gomesos/resources"
)

// ErrBadOptions wraps the errors of options that make no sense.
var ErrBadOptions = errors.New("bad options")

// Options shapes the experiment. The defaults follow the paper's shape:
// 16 frameworks on 96 agents (the paper's 93 nodes, rounded to a multiple
// of 16), so that static partitioning gives each framework 1/16 of the
// agents and a split with 3 replicas is local to its partition about 18%
// of the time.
type Options struct {
	Agents     int // 96
	Slots      int // executor slots per agent (4)
	Frameworks int // 16
	Jobs       int // jobs each framework runs, one after another (3)
	Tasks      int // map tasks per job (48)
	Replicas   int // agents each split is stored on (3)
	// Compute is a map task's time besides reading its split (2s);
	// LocalRead and RemoteRead are the read's time where the split is
	// stored and elsewhere (1s and 6s: 64 MB at about 64 MB/s from disk and
	// about 10 MB/s over a loaded network).
	Compute, LocalRead, RemoteRead time.Duration
	// Stagger spreads the frameworks' first jobs over [0, Stagger) (10s).
	Stagger time.Duration
	// Waits are the shared settings' locality waits (0s, 1s, 5s).
	Waits []time.Duration
	// AllocationInterval is the master's (1s, its default).
	AllocationInterval time.Duration
	Seed               uint64
	// MaxVirtualTime bounds each setting (2h).
	MaxVirtualTime time.Duration
}

func (o *Options) setDefaults() {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&o.Agents, 96)
	def(&o.Slots, 4)
	def(&o.Frameworks, 16)
	def(&o.Jobs, 3)
	def(&o.Tasks, 48)
	def(&o.Replicas, 3)
	defD := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	defD(&o.Compute, 2*time.Second)
	defD(&o.LocalRead, time.Second)
	defD(&o.RemoteRead, 6*time.Second)
	defD(&o.Stagger, 10*time.Second)
	defD(&o.AllocationInterval, time.Second)
	defD(&o.MaxVirtualTime, 2*time.Hour)
	if o.Waits == nil {
		o.Waits = []time.Duration{0, time.Second, 5 * time.Second}
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
}

func (o *Options) validate() error {
	switch {
	case o.Agents < 1 || o.Slots < 1 || o.Frameworks < 1 || o.Jobs < 1 || o.Tasks < 1:
		return fmt.Errorf("%w: agents, slots, frameworks, jobs and tasks must be at least 1", ErrBadOptions)
	case o.Replicas < 1 || o.Replicas > o.Agents:
		return fmt.Errorf("%w: replicas must be within [1, agents]", ErrBadOptions)
	case o.Agents < o.Frameworks:
		return fmt.Errorf("%w: static partitioning needs at least one agent per framework", ErrBadOptions)
	case o.Compute < 0 || o.LocalRead < 0 || o.RemoteRead < 0 || o.Stagger < 0:
		return fmt.Errorf("%w: durations must not be negative", ErrBadOptions)
	}
	for _, w := range o.Waits {
		if w < 0 {
			return fmt.Errorf("%w: a negative locality wait", ErrBadOptions)
		}
	}
	return nil
}

// Result is one setting's outcome.
type Result struct {
	// Setting is "static" or "wait=<d>".
	Setting string
	// Local is the share of map tasks that read their split where it is
	// stored, in percent.
	Local float64
	// Job is the mean job time (from its submission to its last task's
	// end); Makespan is when the last job ended.
	Job, Makespan time.Duration
	Tasks         int
	// Offers counts the offers the frameworks got, Declined those they
	// declined; Steps the inputs the master's Core took.
	Offers, Declined, Steps int
}

// Line is the setting's summary line: "<setting> local=<p>% job=<s>s".
func (r Result) Line() string {
	return fmt.Sprintf("%s local=%.0f%% job=%.1fs", r.Setting, r.Local, r.Job.Seconds())
}

// Run runs every setting, writing a line of detail for each, then ends with
// one Line per setting.
func Run(opts Options, w io.Writer) ([]Result, error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	fmt.Fprintf(w, "locality: %d agents x %d slots, %d frameworks x %d jobs x %d map tasks, %d replicas per split; a task computes %s and reads %s locally, %s remotely; allocation interval %s\n",
		opts.Agents, opts.Slots, opts.Frameworks, opts.Jobs, opts.Tasks, opts.Replicas, opts.Compute, opts.LocalRead, opts.RemoteRead, opts.AllocationInterval)
	settings := []setting{{name: "static", static: true}}
	for _, wt := range opts.Waits {
		settings = append(settings, setting{name: "wait=" + wt.String(), wait: wt})
	}
	var out []Result
	for _, s := range settings {
		start := time.Now()
		r, err := runSetting(opts, s)
		if err != nil {
			return out, fmt.Errorf("bench locality: %s: %w", s.name, err)
		}
		fmt.Fprintf(w, "locality: %s: %d tasks, %.1f%% local, mean job %.1fs, makespan %.1fs, %d offers (%d declined), %d master steps, %.2fs of real time\n",
			s.name, r.Tasks, r.Local, r.Job.Seconds(), r.Makespan.Seconds(), r.Offers, r.Declined, r.Steps, time.Since(start).Seconds())
		out = append(out, r)
	}
	for _, r := range out {
		if _, err := fmt.Fprintln(w, r.Line()); err != nil {
			return out, err
		}
	}
	return out, nil
}

type setting struct {
	name   string
	static bool
	wait   time.Duration
}

// ---- The world: a virtual clock and the master's Core ----

const latency = time.Millisecond

type event struct {
	at  time.Duration
	seq uint64
	fn  func()
}

type queue []event

func (q queue) Len() int { return len(q) }
func (q queue) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q queue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *queue) Push(x any)   { *q = append(*q, x.(event)) }
func (q *queue) Pop() any {
	old := *q
	e := old[len(old)-1]
	*q = old[:len(old)-1]
	return e
}

type world struct {
	opts  Options
	set   setting
	epoch time.Time
	now   time.Duration
	seq   uint64
	q     queue
	core  *core.Core
	err   error

	agents  []*agent
	byConn  map[string]*agent
	fws     []*framework
	streams map[string]*framework
	uuids   uint64

	jobsLeft int
	steps    int
	res      Result
}

func (w *world) clock() time.Time { return w.epoch.Add(w.now) }

func (w *world) after(d time.Duration, fn func()) {
	w.seq++
	heap.Push(&w.q, event{at: w.now + d, seq: w.seq, fn: fn})
}

func (w *world) fail(err error) {
	if w.err == nil {
		w.err = err
	}
}

// step feeds the Core one input and carries out its outputs, each a
// message arriving after the latency.
func (w *world) step(in core.Input) core.Result {
	w.steps++
	r := w.core.Step(w.clock(), in)
	for _, o := range w.core.Outputs() {
		switch o := o.(type) {
		case core.SendEvent:
			if f := w.streams[o.Stream]; f != nil {
				ev := o.Event
				w.after(latency, func() { f.event(ev) })
			}
		case core.SendAgent:
			if a := w.byConn[o.Conn]; a != nil {
				msg := o.Msg
				w.after(latency, func() { a.receive(msg) })
			}
		}
	}
	return r
}

func (w *world) tick() {
	w.step(core.Tick{})
	w.after(w.opts.AllocationInterval/10, w.tick)
}

func runSetting(opts Options, s setting) (Result, error) {
	w := &world{
		opts: opts, set: s, epoch: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC),
		byConn: map[string]*agent{}, streams: map[string]*framework{},
	}
	w.res.Setting = s.name
	host := "master.bench"
	ip := "10.0.0.1"
	info := &mesos.MasterInfo{
		Id: proto.String("bench-locality"), Ip: proto.Uint32(0x0100000a), Port: proto.Uint32(5050),
		Pid: proto.String("master@10.0.0.1:5050"), Hostname: &host, Version: proto.String(core.Version),
		Address: &mesos.Address{Hostname: &host, Ip: &ip, Port: proto.Int32(5050)},
	}
	copts := core.Options{
		AllocationInterval: opts.AllocationInterval,
		AgentPingTimeout:   time.Hour,
		HeartbeatInterval:  time.Hour,
		Logger:             slog.New(slog.DiscardHandler),
	}
	alloc := allocator.New(allocator.Options{AllocationInterval: opts.AllocationInterval, Seed: int64(opts.Seed)})
	w.core = core.NewCore(info, copts, alloc, w.clock())

	// The data and the jobs: the same for every setting of a seed.
	rng := rand.New(rand.NewPCG(opts.Seed, 0x10ca1))
	total := resources.ToProto(resources.MustParse(fmt.Sprintf("cpus:%d;mem:%d;disk:10000", opts.Slots, opts.Slots*1024)))
	for i := range opts.Agents {
		a := &agent{w: w, idx: i, conn: "agent-" + strconv.Itoa(i), host: fmt.Sprintf("agent%03d.bench", i), tasks: map[string]*agentTask{}}
		w.byConn[a.conn] = a
		w.agents = append(w.agents, a)
		r := w.step(core.AgentSubscribe{Conn: a.conn, Msg: &agentproto.AgentMessage{
			Type: agentproto.AgentMessage_REGISTER.Enum(),
			Register: &agentproto.AgentMessage_Register{
				AgentInfo: &mesos.AgentInfo{Hostname: proto.String(a.host), Port: proto.Int32(5051), Resources: total},
				Version:   proto.String(core.Version),
				Endpoint:  proto.String(fmt.Sprintf("10.1.%d.%d:5051", i>>8&255, i&255)),
			},
		}})
		if r.Code.Failed() {
			return w.res, fmt.Errorf("registering agent %d: %s: %s", i, r.Code, r.Message)
		}
		a.id = r.AgentID
	}
	for f := range opts.Frameworks {
		fw := &framework{w: w, idx: f, stream: "framework-" + strconv.Itoa(f), execs: map[string]*executor{}, own: map[string]bool{}}
		if s.static {
			for i := f; i < opts.Agents; i += opts.Frameworks {
				fw.own[w.agents[i].host] = true
			}
		}
		for j := range opts.Jobs {
			jb := &job{fw: fw, idx: j}
			for range opts.Tasks {
				perm := rng.Perm(opts.Agents)[:opts.Replicas]
				t := &mapTask{job: jb}
				for _, p := range perm {
					t.prefs = append(t.prefs, w.agents[p].host)
				}
				jb.tasks = append(jb.tasks, t)
			}
			fw.jobs = append(fw.jobs, jb)
		}
		w.jobsLeft += opts.Jobs
		w.fws = append(w.fws, fw)
		w.streams[fw.stream] = fw
		first := time.Duration(rng.Int64N(int64(max(opts.Stagger, 1))))
		w.after(0, fw.subscribe)
		w.after(first, fw.nextJob)
	}
	w.after(opts.AllocationInterval/10, w.tick)

	for w.err == nil && w.jobsLeft > 0 && w.q.Len() > 0 {
		e := heap.Pop(&w.q).(event)
		if e.at > opts.MaxVirtualTime {
			return w.res, fmt.Errorf("%d jobs still running after %s of virtual time", w.jobsLeft, opts.MaxVirtualTime)
		}
		w.now = e.at
		e.fn()
	}
	if w.err != nil {
		return w.res, w.err
	}
	var sum time.Duration
	local, tasks := 0, 0
	for _, f := range w.fws {
		for _, j := range f.jobs {
			sum += j.ended - j.started
			w.res.Makespan = max(w.res.Makespan, j.ended)
			for _, t := range j.tasks {
				tasks++
				if t.local {
					local++
				}
			}
		}
	}
	w.res.Tasks = tasks
	w.res.Local = 100 * float64(local) / float64(tasks)
	w.res.Job = sum / time.Duration(opts.Frameworks*opts.Jobs)
	w.res.Steps = w.steps
	return w.res, nil
}

// ---- Agents ----

// agent is a simulated agent: it runs the executor tasks the master sends
// it (each holds one slot until it is killed) and reports their states,
// one unacknowledged update at a time as a status update manager does.
type agent struct {
	w         *world
	idx       int
	id, conn  string
	host      string
	tasks     map[string]*agentTask
	agentIDpb *mesos.AgentID
}

type agentTask struct {
	fw      *mesos.FrameworkID
	id      *mesos.TaskID
	pending []mesos.TaskState // updates not yet sent or acknowledged, in order
	unacked []byte            // the uuid of the update sent and not acknowledged
}

func (a *agent) receive(msg *agentproto.MasterMessage) {
	w := a.w
	switch msg.GetType() {
	case agentproto.MasterMessage_RUN_TASK:
		rt := msg.GetRunTask()
		t := &agentTask{fw: rt.GetFrameworkInfo().GetId(), id: rt.GetTask().GetTaskId()}
		a.tasks[t.id.GetValue()] = t
		a.queue(t, mesos.TaskState_TASK_RUNNING)
	case agentproto.MasterMessage_KILL_TASK:
		if t := a.tasks[msg.GetKillTask().GetTaskId().GetValue()]; t != nil {
			a.queue(t, mesos.TaskState_TASK_KILLED)
		}
	case agentproto.MasterMessage_ACKNOWLEDGE:
		ack := msg.GetAcknowledge()
		t := a.tasks[ack.GetTaskId().GetValue()]
		if t == nil || string(t.unacked) != string(ack.GetUuid()) {
			return
		}
		t.unacked = nil
		acked := t.pending[0]
		t.pending = t.pending[1:]
		if terminal(acked) {
			delete(a.tasks, t.id.GetValue())
			return
		}
		a.send(t)
	case agentproto.MasterMessage_PING:
		w.after(latency, func() {
			w.step(core.AgentMessage{AgentID: a.id, Conn: a.conn, Msg: &agentproto.AgentMessage{Type: agentproto.AgentMessage_PONG.Enum()}})
		})
	case agentproto.MasterMessage_REGISTERED:
	default:
		w.fail(fmt.Errorf("agent %d: unexpected %s", a.idx, msg.GetType()))
	}
}

func terminal(st mesos.TaskState) bool {
	return st != mesos.TaskState_TASK_RUNNING && st != mesos.TaskState_TASK_STARTING && st != mesos.TaskState_TASK_STAGING
}

func (a *agent) queue(t *agentTask, st mesos.TaskState) {
	t.pending = append(t.pending, st)
	if t.unacked == nil {
		a.send(t)
	}
}

func (a *agent) send(t *agentTask) {
	if len(t.pending) == 0 {
		return
	}
	w := a.w
	st := t.pending[0]
	w.uuids++
	uuid := make([]byte, 16)
	for i := range 8 {
		uuid[15-i] = byte(w.uuids >> (8 * i))
	}
	t.unacked = uuid
	if a.agentIDpb == nil {
		a.agentIDpb = &mesos.AgentID{Value: proto.String(a.id)}
	}
	msg := &agentproto.AgentMessage{
		Type: agentproto.AgentMessage_STATUS_UPDATE.Enum(),
		StatusUpdate: &agentproto.StatusUpdate{
			FrameworkId: t.fw, LatestState: t.pending[len(t.pending)-1].Enum(),
			Status: &mesos.TaskStatus{
				TaskId: t.id, State: st.Enum(), Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(),
				AgentId: a.agentIDpb, Uuid: uuid, Timestamp: proto.Float64(float64(w.clock().UnixNano()) / 1e9),
			},
		},
	}
	w.after(latency, func() {
		if r := w.step(core.AgentMessage{AgentID: a.id, Conn: a.conn, Msg: msg}); r.Code.Failed() {
			w.fail(fmt.Errorf("agent %d: status update refused: %s: %s", a.idx, r.Code, r.Message))
		}
	})
}

// ---- Frameworks: batch drivers with the driver's delay scheduling ----

type framework struct {
	w      *world
	idx    int
	stream string
	id     *mesos.FrameworkID
	// own are the hosts of the agents a static framework uses.
	own        map[string]bool
	jobs       []*job
	next       int // the next job to start
	pending    []*mapTask
	execs      map[string]*executor // by executor task id
	nextExec   int
	suppressed bool
}

type job struct {
	fw             *framework
	idx            int
	tasks          []*mapTask
	set            *locality.TaskSet
	left           int
	started, ended time.Duration
}

type mapTask struct {
	job   *job
	prefs []string
	local bool
}

func (t *mapTask) Preferred() []string    { return t.prefs }
func (t *mapTask) Set() *locality.TaskSet { return t.job.set }

// executor is a one-slot executor: a Mesos task that runs map tasks one
// after another.
type executor struct {
	taskID   *mesos.TaskID
	agentID  *mesos.AgentID
	place    locality.Place
	up       bool
	assigned *mapTask // to run once up
	running  *mapTask
	killed   bool
}

func (f *framework) wait() time.Duration {
	if f.w.set.static {
		return 0
	}
	return f.w.set.wait
}

func (f *framework) call(c *schedpb.Call) {
	w := f.w
	c.FrameworkId = f.id
	w.after(latency, func() {
		if r := w.step(core.SchedulerCall{Stream: f.stream, Call: c}); r.Code.Failed() {
			w.fail(fmt.Errorf("framework %d: %s refused: %s: %s", f.idx, c.GetType(), r.Code, r.Message))
		}
	})
}

func (f *framework) subscribe() {
	f.call(&schedpb.Call{Type: schedpb.Call_SUBSCRIBE.Enum(), Subscribe: &schedpb.Call_Subscribe{FrameworkInfo: &mesos.FrameworkInfo{
		User: proto.String("bench"), Name: proto.String(f.stream), FailoverTimeout: proto.Float64(3600),
	}}})
}

func (f *framework) event(ev *schedpb.Event) {
	switch ev.GetType() {
	case schedpb.Event_SUBSCRIBED:
		f.id = ev.GetSubscribed().GetFrameworkId()
	case schedpb.Event_OFFERS:
		f.offers(ev.GetOffers().GetOffers())
	case schedpb.Event_UPDATE:
		st := ev.GetUpdate().GetStatus()
		if len(st.GetUuid()) > 0 {
			f.call(&schedpb.Call{Type: schedpb.Call_ACKNOWLEDGE.Enum(), Acknowledge: &schedpb.Call_Acknowledge{
				AgentId: st.GetAgentId(), TaskId: st.GetTaskId(), Uuid: st.GetUuid(),
			}})
		}
		e := f.execs[st.GetTaskId().GetValue()]
		if e == nil {
			return
		}
		switch {
		case st.GetState() == mesos.TaskState_TASK_RUNNING:
			e.up = true
			if t := e.assigned; t != nil {
				e.assigned = nil
				f.start(e, t)
			}
		case terminal(st.GetState()):
			if !e.killed || e.running != nil || e.assigned != nil {
				f.w.fail(fmt.Errorf("framework %d: executor %s ended (%s) with work", f.idx, e.taskID.GetValue(), st.GetState()))
			}
			delete(f.execs, st.GetTaskId().GetValue())
		}
	case schedpb.Event_ERROR:
		f.w.fail(fmt.Errorf("framework %d: ERROR: %s", f.idx, ev.GetError().GetMessage()))
	}
}

// nextJob submits the framework's next job, if any.
func (f *framework) nextJob() {
	if f.next >= len(f.jobs) {
		return
	}
	w := f.w
	j := f.jobs[f.next]
	f.next++
	j.started, j.left = w.now, len(j.tasks)
	j.set = locality.NewTaskSet(f.wait(), w.clock())
	f.pending = append(f.pending, j.tasks...)
	// Idle executors (a static framework keeps its own) take tasks.
	ids := make([]string, 0, len(f.execs))
	for id, e := range f.execs {
		if e.up && e.running == nil && !e.killed {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		e := f.execs[id]
		if t := f.pick(e.place); t != nil {
			f.start(e, t)
		}
	}
	if f.suppressed && len(f.pending) > 0 {
		f.suppressed = false
		f.call(&schedpb.Call{Type: schedpb.Call_REVIVE.Enum()})
	}
}

// pick takes the task delay scheduling gives a free slot at p off the
// queue, if any: the driver's rule (locality.Pick, then Launched).
func (f *framework) pick(p locality.Place) *mapTask {
	now := f.w.clock()
	i, level := locality.Pick(f.pending, p, now, nil)
	if i < 0 {
		return nil
	}
	t := f.pending[i]
	f.pending = slices.Delete(f.pending, i, i+1)
	t.job.set.Launched(level, now)
	return t
}

func (f *framework) offers(offers []*mesos.Offer) {
	w := f.w
	for _, o := range offers {
		w.res.Offers++
		p := locality.Place{AgentID: o.GetAgentId().GetValue(), Host: o.GetHostname()}
		static := w.set.static
		if static && !f.own[p.Host] {
			f.decline(o, time.Hour)
			continue
		}
		slots := int(min(scalar(o.GetResources(), "cpus"), scalar(o.GetResources(), "mem")/1024) + 1e-9)
		var infos []*mesos.TaskInfo
		rs := o.GetResources()
		for range slots {
			t := f.pick(p)
			if t == nil && !static {
				break
			}
			f.nextExec++
			id := fmt.Sprintf("%s-executor-%d", f.stream, f.nextExec)
			var res []*mesos.Resource
			var cpu, mem []*mesos.Resource
			cpu, rs = take(rs, "cpus", 1)
			mem, rs = take(rs, "mem", 1024)
			res = append(cpu, mem...)
			e := &executor{taskID: &mesos.TaskID{Value: proto.String(id)}, agentID: o.GetAgentId(), place: p, assigned: t}
			f.execs[id] = e
			infos = append(infos, &mesos.TaskInfo{
				Name: proto.String(id), TaskId: e.taskID, AgentId: o.GetAgentId(), Resources: res,
				Command: &mesos.CommandInfo{Value: proto.String("gomesos batch executor")},
			})
		}
		if len(infos) == 0 {
			// Nothing waiting would run there now: back soon, while
			// tasks wait (delay scheduling); much later otherwise.
			refuse := time.Hour
			if len(f.pending) > 0 {
				refuse = time.Second
			}
			f.decline(o, refuse)
			continue
		}
		f.call(&schedpb.Call{Type: schedpb.Call_ACCEPT.Enum(), Accept: &schedpb.Call_Accept{
			OfferIds:   []*mesos.OfferID{o.GetId()},
			Operations: []*mesos.Offer_Operation{{Type: mesos.Offer_Operation_LAUNCH.Enum(), Launch: &mesos.Offer_Operation_Launch{TaskInfos: infos}}},
			Filters:    &mesos.Filters{RefuseSeconds: proto.Float64(0)},
		}})
	}
	if !w.set.static && len(f.pending) == 0 && !f.suppressed {
		f.suppressed = true
		f.call(&schedpb.Call{Type: schedpb.Call_SUPPRESS.Enum()})
	}
}

func (f *framework) decline(o *mesos.Offer, refuse time.Duration) {
	f.w.res.Declined++
	f.call(&schedpb.Call{Type: schedpb.Call_DECLINE.Enum(), Decline: &schedpb.Call_Decline{
		OfferIds: []*mesos.OfferID{o.GetId()}, Filters: &mesos.Filters{RefuseSeconds: proto.Float64(refuse.Seconds())},
	}})
}

// start runs t on e: its split is read where it is stored or remotely.
func (f *framework) start(e *executor, t *mapTask) {
	w := f.w
	e.running = t
	t.local = locality.Prefers(t, e.place)
	d := w.opts.Compute + w.opts.RemoteRead
	if t.local {
		d = w.opts.Compute + w.opts.LocalRead
	}
	w.after(d, func() { f.finish(e, t) })
}

// finish ends t on e; e runs the next task delay scheduling gives its
// agent, or (shared settings) is killed, its slot going back to the
// master.
func (f *framework) finish(e *executor, t *mapTask) {
	w := f.w
	e.running = nil
	j := t.job
	j.left--
	if j.left == 0 {
		j.ended = w.now
		w.jobsLeft--
		f.nextJob()
	}
	if e.running != nil {
		return // nextJob gave it a task
	}
	if next := f.pick(e.place); next != nil {
		f.start(e, next)
		return
	}
	if w.set.static {
		return
	}
	e.killed = true
	f.call(&schedpb.Call{Type: schedpb.Call_KILL.Enum(), Kill: &schedpb.Call_Kill{TaskId: e.taskID, AgentId: e.agentID}})
}

func scalar(rs []*mesos.Resource, name string) float64 {
	total := 0.0
	for _, r := range rs {
		if r.GetName() == name && r.GetType() == mesos.Value_SCALAR {
			total += r.GetScalar().GetValue()
		}
	}
	return total
}

// take carves amount of the named scalar out of rs, returning it and what
// is left.
func take(rs []*mesos.Resource, name string, amount float64) (got, left []*mesos.Resource) {
	for _, r := range rs {
		if amount <= 1e-9 || r.GetName() != name || r.GetType() != mesos.Value_SCALAR {
			left = append(left, r)
			continue
		}
		n := min(r.GetScalar().GetValue(), amount)
		c := proto.Clone(r).(*mesos.Resource)
		c.Scalar = &mesos.Value_Scalar{Value: proto.Float64(n)}
		got = append(got, c)
		amount -= n
		if rest := r.GetScalar().GetValue() - n; rest > 1e-9 {
			l := proto.Clone(r).(*mesos.Resource)
			l.Scalar = &mesos.Value_Scalar{Value: proto.Float64(rest)}
			left = append(left, l)
		}
	}
	return got, left
}
