package master

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/internal/cputime"
	"github.com/gomesos/gomesos/master/core"
	"github.com/gomesos/gomesos/resources"
)

// BenchStateOptions shapes BenchState (`gomesos bench state`).
type BenchStateOptions struct {
	Agents  int // simulated agents (10000)
	Tasks   int // running tasks, kept at this number (100000)
	Readers int // concurrent readers of /master/state, each reading back to back (1)
	// Duration is how long the readers read while the load runs (10s);
	// the load alone runs as long before, for comparison.
	Duration time.Duration
	// UpdateRate is how many tasks finish per second under load (1000).
	// Each is reported by its agent, acknowledged by the framework and
	// replaced by a new task on the next offer, which its agent reports
	// running: four inputs to the loop, two of them status updates.
	UpdateRate float64
	// Logger is the master's logger (nothing is logged when nil).
	Logger *slog.Logger
}

func (o *BenchStateOptions) setDefaults() {
	if o.Agents <= 0 {
		o.Agents = 10000
	}
	if o.Tasks <= 0 {
		o.Tasks = 100000
	}
	if o.Readers <= 0 {
		o.Readers = 1
	}
	if o.Duration <= 0 {
		o.Duration = 10 * time.Second
	}
	if o.UpdateRate <= 0 {
		o.UpdateRate = 1000
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// BenchStateResult is what BenchState measured.
type BenchStateResult struct {
	Agents, Tasks, Readers int
	// Setup is how long registering the agents and starting the tasks took.
	Setup time.Duration
	// ColdRead is the first read of /master/state, before the load.
	ColdRead time.Duration
	// Reads of /master/state over HTTP while the load ran, and their
	// latencies from request to last byte.
	Reads         int
	P50, P99, Max time.Duration
	// Bytes is the size of the last /master/state response.
	Bytes int
	// Alone is the load without readers; Loaded the load while they read.
	Alone, Loaded LoadStats
}

// LoadStats is what the loop sustained during one phase of BenchState.
type LoadStats struct {
	Duration time.Duration
	// Updates are status updates taken; Steps every input the harness
	// fed (updates, acknowledgements, accepts).
	Updates, Steps int
	// UpdatesPerSec and StepsPerSec are their rates.
	UpdatesPerSec, StepsPerSec float64
	// UpdateP50, UpdateP99 and UpdateMax are the round trips of a status
	// update through the loop: how long an agent waits for its answer.
	UpdateP50, UpdateP99, UpdateMax time.Duration
	// AllocationRuns is how many allocation passes ran.
	AllocationRuns int
	// CPU is the CPU time the whole process (master, simulated agents and
	// framework, readers) used: on a busy machine, what it was given.
	CPU time.Duration
}

// BenchState measures the legacy state endpoint of a large cluster under
// load, and writes a summary to w (for `gomesos bench state`). A master
// serves on a loopback port; opts.Agents agents register and one framework
// keeps opts.Tasks tasks running, all fed to the master's loop in process
// (the agents' connections and the framework's calls skip HTTP). Tasks then
// finish at opts.UpdateRate and are replaced, while opts.Readers readers
// GET /master/state over HTTP as fast as they can.
func BenchState(ctx context.Context, opts BenchStateOptions, w io.Writer) (BenchStateResult, error) {
	opts.setDefaults()
	res := BenchStateResult{Agents: opts.Agents, Tasks: opts.Tasks, Readers: opts.Readers}
	m, err := New(Config{
		IP: "127.0.0.1",
		Options: core.Options{
			AllocationInterval: time.Second,
			// The simulated agents do not answer pings.
			AgentPingTimeout:  time.Hour,
			HeartbeatInterval: time.Hour,
			Logger:            opts.Logger,
		},
	})
	if err != nil {
		return res, err
	}
	h := &benchHarness{m: m, opts: opts, index: map[string]int{}, toStart: make(chan benchTask, opts.Tasks)}
	ctx, cancel := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- m.Run(ctx) }()
	defer func() {
		cancel()
		<-ran
		h.wg.Wait()
	}()
	start := time.Now()
	if err := h.setup(ctx); err != nil {
		return res, err
	}
	res.Setup = time.Since(start)

	transport := &http.Transport{MaxIdleConnsPerHost: opts.Readers}
	defer transport.CloseIdleConnections()
	client := &http.Client{Transport: transport}
	// The first read encodes every record; later ones, only those that
	// changed since.
	t0 := time.Now()
	if _, err := getCount(ctx, client, m.URL()+"/master/state"); err != nil {
		return res, err
	}
	res.ColdRead = time.Since(t0)

	if res.Alone, err = h.phase(ctx, opts.Duration, nil); err != nil {
		return res, err
	}
	var lat latencies
	var bytes atomic.Int64
	// Readers start reads until the phase's time is up, and finish the
	// read they are in (cutting it short would leave out the slowest).
	readers := func(phase context.Context, wg *sync.WaitGroup) {
		for range opts.Readers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for phase.Err() == nil {
					t0 := time.Now()
					n, err := getCount(ctx, client, m.URL()+"/master/state")
					if err != nil {
						return
					}
					lat.add(time.Since(t0))
					bytes.Store(n)
				}
			}()
		}
	}
	if res.Loaded, err = h.phase(ctx, opts.Duration, readers); err != nil {
		return res, err
	}
	res.Reads = len(lat.d)
	res.P50, res.P99, res.Max = lat.quantiles()
	res.Bytes = int(bytes.Load())
	if res.Reads == 0 {
		return res, errors.New("bench state: no read of /master/state finished")
	}
	_, err = fmt.Fprintf(w, "state: %d agents, %d tasks, %d readers: /master/state p50 %v p99 %v max %v over %d reads, %.1f MB (first read %v, setup %v)\n"+
		"  loop alone:        %s\n  loop with readers: %s\n",
		opts.Agents, opts.Tasks, opts.Readers, ms(res.P50), ms(res.P99), ms(res.Max), res.Reads, float64(res.Bytes)/1e6,
		ms(res.ColdRead), res.Setup.Round(time.Millisecond), res.Alone, res.Loaded)
	return res, err
}

func (s LoadStats) String() string {
	return fmt.Sprintf("%.0f status updates/s, %.0f inputs/s; update round trip p50 %v p99 %v max %v; %d allocation runs in %v, %.1f CPUs busy",
		s.UpdatesPerSec, s.StepsPerSec, ms(s.UpdateP50), ms(s.UpdateP99), ms(s.UpdateMax), s.AllocationRuns, s.Duration.Round(time.Millisecond),
		s.CPU.Seconds()/s.Duration.Seconds())
}

// ms rounds a duration for printing.
func ms(d time.Duration) time.Duration {
	if d > 10*time.Millisecond {
		return d.Round(time.Millisecond)
	}
	return d.Round(10 * time.Microsecond)
}

// getCount GETs url and returns the size of the body.
func getCount(ctx context.Context, client *http.Client, url string) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	n, err := io.Copy(io.Discard, resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return n, err
}

// latencies collects durations from several goroutines.
type latencies struct {
	mu sync.Mutex
	d  []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.d = append(l.d, d)
	l.mu.Unlock()
}

func (l *latencies) quantiles() (p50, p99, max time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.d) == 0 {
		return 0, 0, 0
	}
	slices.Sort(l.d)
	q := func(p float64) time.Duration { return l.d[min(len(l.d)-1, int(p*float64(len(l.d))))] }
	return q(0.5), q(0.99), l.d[len(l.d)-1]
}

type benchTask struct {
	id    string
	agent int
}

// benchHarness plays the agents and the framework of BenchState.
type benchHarness struct {
	m      *Master
	opts   BenchStateOptions
	agents []struct{ id, conn string }
	index  map[string]int // agent id -> position in agents
	fwID   string
	stream string

	mu      sync.Mutex
	running []benchTask // reported running, not yet finishing
	alive   int         // launched and not finished
	next    int         // next task number

	toStart chan benchTask // launched, to be reported running

	wg sync.WaitGroup // the framework and the starters

	steps, updates atomic.Int64
	// lat times status updates' round trips while set.
	lat atomic.Pointer[latencies]
}

const (
	benchTaskCPUs = 1
	benchTaskMem  = 128
)

// step feeds the loop one input, as an HTTP handler would.
func (h *benchHarness) step(in core.Input) (core.Result, error) {
	var r core.Result
	if err := h.m.do(func() { r = h.m.step(in) }); err != nil {
		return r, err
	}
	h.steps.Add(1)
	if r.Code.Failed() {
		return r, fmt.Errorf("bench state: %T answered %s: %s", in, r.Code, r.Message)
	}
	return r, nil
}

func (h *benchHarness) setup(ctx context.Context) error {
	perAgent := (h.opts.Tasks + h.opts.Agents - 1) / h.opts.Agents
	// Two tasks' worth of room per agent, so that offers stay outstanding.
	total := resources.ToProto(resources.MustParse(fmt.Sprintf("cpus:%d;mem:%d;disk:10000;ports:[31000-32000]",
		(perAgent+2)*benchTaskCPUs, (perAgent+2)*benchTaskMem)))
	for i := range h.opts.Agents {
		conn := "bench-agent-" + strconv.Itoa(i)
		r, err := h.step(core.AgentSubscribe{Conn: conn, Msg: &agentproto.AgentMessage{
			Type: agentproto.AgentMessage_REGISTER.Enum(),
			Register: &agentproto.AgentMessage_Register{
				AgentInfo: &mesos.AgentInfo{
					Hostname: proto.String(fmt.Sprintf("agent%05d.bench", i)), Port: proto.Int32(5051), Resources: total,
				},
				Version:  proto.String(core.Version),
				Endpoint: proto.String(fmt.Sprintf("10.%d.%d.%d:5051", i>>16&255, i>>8&255, i&255)),
			},
		}})
		if err != nil {
			return err
		}
		h.index[r.AgentID] = len(h.agents)
		h.agents = append(h.agents, struct{ id, conn string }{r.AgentID, conn})
	}

	h.stream = "bench-framework"
	// The harness's own stream: deep enough that it never falls behind.
	events := newSink(codec.Protobuf, 1<<24, 1<<36)
	if err := h.m.do(func() { h.m.frameworkSinks[h.stream] = events }); err != nil {
		return err
	}
	if _, err := h.step(core.SchedulerCall{Stream: h.stream, Call: &schedpb.Call{
		Type: schedpb.Call_SUBSCRIBE.Enum(),
		Subscribe: &schedpb.Call_Subscribe{FrameworkInfo: &mesos.FrameworkInfo{
			Name: proto.String("bench"), User: proto.String("bench"), Checkpoint: proto.Bool(true),
			FailoverTimeout: proto.Float64(3600),
		}},
	}}); err != nil {
		return err
	}
	subscribed := make(chan struct{})
	h.wg.Add(1)
	go h.framework(ctx, events, subscribed)
	select {
	case <-subscribed:
	case <-ctx.Done():
		return ctx.Err()
	}
	for range 2 {
		h.wg.Add(1)
		go h.starter(ctx)
	}
	for ctx.Err() == nil {
		h.mu.Lock()
		n := len(h.running)
		h.mu.Unlock()
		if n >= h.opts.Tasks {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return ctx.Err()
}

// framework is the scheduler: it launches tasks on offers until opts.Tasks
// are alive, keeps the offers it does not need, and acknowledges updates.
func (h *benchHarness) framework(ctx context.Context, events *sink, subscribed chan struct{}) {
	defer h.wg.Done()
	for {
		records, ok := events.next(ctx)
		if !ok {
			return
		}
		evs := make([]*schedpb.Event, 0, len(records))
		for _, rec := range records {
			ev := &schedpb.Event{}
			if proto.Unmarshal(rec, ev) == nil {
				evs = append(evs, ev)
			}
		}
		events.written()
		for _, ev := range evs {
			switch ev.GetType() {
			case schedpb.Event_SUBSCRIBED:
				h.fwID = ev.GetSubscribed().GetFrameworkId().GetValue()
				close(subscribed)
			case schedpb.Event_OFFERS:
				for _, o := range ev.GetOffers().GetOffers() {
					h.launch(o)
				}
			case schedpb.Event_UPDATE:
				st := ev.GetUpdate().GetStatus()
				if len(st.GetUuid()) > 0 {
					_, _ = h.step(core.SchedulerCall{Stream: h.stream, Call: &schedpb.Call{
						FrameworkId: &mesos.FrameworkID{Value: &h.fwID},
						Type:        schedpb.Call_ACKNOWLEDGE.Enum(),
						Acknowledge: &schedpb.Call_Acknowledge{AgentId: st.GetAgentId(), TaskId: st.GetTaskId(), Uuid: st.GetUuid()},
					}})
				}
			}
		}
	}
}

// launch starts as many tasks on the offer as are missing and fit.
func (h *benchHarness) launch(o *mesos.Offer) {
	var cpus, mem float64
	for _, r := range o.GetResources() {
		switch r.GetName() {
		case "cpus":
			cpus += r.GetScalar().GetValue()
		case "mem":
			mem += r.GetScalar().GetValue()
		}
	}
	agent, ok := h.index[o.GetAgentId().GetValue()]
	if !ok {
		return
	}
	h.mu.Lock()
	n := min(h.opts.Tasks-h.alive, int(cpus/benchTaskCPUs), int(mem/benchTaskMem))
	if n <= 0 {
		h.mu.Unlock()
		return // kept: the framework holds what it does not need
	}
	h.alive += n
	first := h.next
	h.next += n
	h.mu.Unlock()
	taskRes := resources.ToProto(resources.MustParse(fmt.Sprintf("cpus:%d;mem:%d", benchTaskCPUs, benchTaskMem)))
	var tasks []*mesos.TaskInfo
	for i := range n {
		id := fmt.Sprintf("task-%07d", first+i)
		tasks = append(tasks, &mesos.TaskInfo{
			Name: proto.String("bench " + id), TaskId: &mesos.TaskID{Value: proto.String(id)},
			AgentId: o.GetAgentId(), Resources: taskRes,
			Command: &mesos.CommandInfo{Value: proto.String("sleep 3600")},
		})
	}
	if _, err := h.step(core.SchedulerCall{Stream: h.stream, Call: &schedpb.Call{
		FrameworkId: &mesos.FrameworkID{Value: &h.fwID},
		Type:        schedpb.Call_ACCEPT.Enum(),
		Accept: &schedpb.Call_Accept{
			OfferIds:   []*mesos.OfferID{o.GetId()},
			Operations: []*mesos.Offer_Operation{{Type: mesos.Offer_Operation_LAUNCH.Enum(), Launch: &mesos.Offer_Operation_Launch{TaskInfos: tasks}}},
			Filters:    &mesos.Filters{RefuseSeconds: proto.Float64(0)},
		},
	}}); err != nil {
		return
	}
	for _, t := range tasks {
		h.toStart <- benchTask{id: t.GetTaskId().GetValue(), agent: agent}
	}
}

// starter plays the agents' executors: every launched task is reported
// running.
func (h *benchHarness) starter(ctx context.Context) {
	defer h.wg.Done()
	for {
		select {
		case t := <-h.toStart:
			if h.update(t, mesos.TaskState_TASK_RUNNING) != nil {
				return
			}
			h.mu.Lock()
			h.running = append(h.running, t)
			h.mu.Unlock()
		case <-ctx.Done():
			return
		}
	}
}

// update has the task's agent report its state.
func (h *benchHarness) update(t benchTask, state mesos.TaskState) error {
	a := h.agents[t.agent]
	uuid := make([]byte, 16)
	for i := range uuid {
		uuid[i] = byte(rand.Uint32())
	}
	start := time.Now()
	_, err := h.step(core.AgentMessage{AgentID: a.id, Conn: a.conn, Msg: &agentproto.AgentMessage{
		Type: agentproto.AgentMessage_STATUS_UPDATE.Enum(),
		StatusUpdate: &agentproto.StatusUpdate{
			FrameworkId: &mesos.FrameworkID{Value: &h.fwID},
			LatestState: state.Enum(),
			Status: &mesos.TaskStatus{
				TaskId: &mesos.TaskID{Value: proto.String(t.id)}, State: state.Enum(),
				Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(), AgentId: &mesos.AgentID{Value: proto.String(a.id)},
				Timestamp: proto.Float64(float64(time.Now().UnixNano()) / 1e9), Uuid: uuid,
				ContainerStatus: &mesos.ContainerStatus{ContainerId: &mesos.ContainerID{Value: proto.String(a.id + "-" + t.id)}},
			},
		},
	}})
	if l := h.lat.Load(); l != nil {
		l.add(time.Since(start))
	}
	h.updates.Add(1)
	return err
}

// phase runs the load for d: running tasks finish at opts.UpdateRate (and
// are replaced), while readers, if given, read.
func (h *benchHarness) phase(ctx context.Context, d time.Duration, readers func(context.Context, *sync.WaitGroup)) (LoadStats, error) {
	var s LoadStats
	runs0, err := h.allocationRuns()
	if err != nil {
		return s, err
	}
	lat := &latencies{}
	h.lat.Store(lat)
	defer h.lat.Store(nil)
	pctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	var wg sync.WaitGroup
	if readers != nil {
		readers(pctx, &wg)
	}
	// The load goes on until the time is up and the readers are done.
	done := make(chan struct{})
	go func() {
		<-pctx.Done()
		wg.Wait()
		close(done)
	}()
	steps0, updates0, cpu0 := h.steps.Load(), h.updates.Load(), cputime.Process()
	start := time.Now()
	// Tasks finish on a schedule: by time t, UpdateRate*t of them.
	const pace = 5 * time.Millisecond
	ticker := time.NewTicker(pace)
	finished := 0
loop:
	for {
		select {
		case <-ticker.C:
		case <-done:
			break loop
		}
		for due := int(h.opts.UpdateRate * time.Since(start).Seconds()); finished < due && ctx.Err() == nil; finished++ {
			h.mu.Lock()
			if len(h.running) == 0 {
				h.mu.Unlock()
				break
			}
			i := rand.IntN(len(h.running))
			t := h.running[i]
			h.running[i] = h.running[len(h.running)-1]
			h.running = h.running[:len(h.running)-1]
			h.mu.Unlock()
			if err := h.update(t, mesos.TaskState_TASK_FINISHED); err != nil {
				return s, err
			}
			h.mu.Lock()
			h.alive--
			h.mu.Unlock()
		}
	}
	ticker.Stop()
	s.Duration = time.Since(start)
	s.CPU = cputime.Process() - cpu0
	s.Steps = int(h.steps.Load() - steps0)
	s.Updates = int(h.updates.Load() - updates0)
	s.UpdatesPerSec = float64(s.Updates) / s.Duration.Seconds()
	s.StepsPerSec = float64(s.Steps) / s.Duration.Seconds()
	s.UpdateP50, s.UpdateP99, s.UpdateMax = lat.quantiles()
	runs1, err := h.allocationRuns()
	s.AllocationRuns = runs1 - runs0
	return s, err
}

// allocationRuns reads the allocation passes the master counted.
func (h *benchHarness) allocationRuns() (int, error) {
	runs := h.m.latest().Metrics()["allocator/mesos/allocation_runs"]
	return int(runs), nil
}
