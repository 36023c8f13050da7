package batch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/batch/locality"
	"github.com/gomesos/gomesos/scheduler"
)

// Defaults of Config.
const (
	DefaultExecutorCores   = 1
	DefaultExecutorMemory  = 512 // MB
	DefaultTaskMaxFailures = 4
	DefaultLocalityWait    = 3 * time.Second
	// DefaultExecutorTimeout is how long an executor may leave the driver
	// (or another executor) without an answer before it counts as lost.
	DefaultExecutorTimeout = 30 * time.Second
	// DefaultRefuseDuration is how long declined offers stay away (Spark's
	// spark.mesos.rejectOfferDuration).
	DefaultRefuseDuration = 120 * time.Second
	// maxAgentFailures is how many executors may fail on one agent before
	// the driver stops using it (Spark's MAX_SLAVE_FAILURES).
	maxAgentFailures = 2
	// maxStageAttempts bounds the rounds of recomputing lost map outputs
	// for one stage (Spark's spark.stage.maxConsecutiveAttempts).
	maxStageAttempts = 4
	// takeoverGrace is how long a driver that took a framework over waits
	// for the earlier driver's executors before launching its own.
	takeoverGrace = 2 * time.Second
	// callTimeout bounds each call to the master.
	callTimeout = 30 * time.Second
	// localityRefuse is the filter of offers declined while the tasks wait
	// for other agents: short, for the wait may end soon.
	localityRefuse = time.Second
)

// Config configures an App (the driver).
type Config struct {
	// Masters are the masters' "host:port" addresses.
	Masters []string
	// Name, Role, Principal and User go into FrameworkInfo. User defaults
	// to the current user, Role to "*".
	Name, Role, Principal, User string
	// FailoverTimeout is FrameworkInfo.failover_timeout.
	FailoverTimeout time.Duration
	// FrameworkID, when set, subscribes as that framework: a driver
	// restarted within the failover timeout of an earlier one that died
	// (or Abandoned it) takes its place, reconciles its tasks and takes
	// over the executors still running, which announce themselves again.
	FrameworkID string
	// Checkpoint asks agents to checkpoint the executors.
	Checkpoint bool
	// CoresMax bounds the cores of all executors together; 0 means no
	// bound but the work to do.
	CoresMax float64
	// ExecutorCores and ExecutorMemory (MB) size each executor; an
	// executor runs as many tasks at once as it has whole cores.
	ExecutorCores, ExecutorMemory float64
	// Constraints filter the offers by agent attributes.
	Constraints Constraints
	// TaskMaxFailures is how many times one task may fail before its job
	// fails (executor losses do not count).
	TaskMaxFailures int
	// LocalityWait is how long tasks wait for a place they prefer before
	// running elsewhere (delay scheduling, package locality): a task
	// whose cached input an executor holds waits for that executor, and
	// the tasks of a stage reading input splits local to some agents
	// (Dataset.WithLocations, LocationsFile) wait for an offer or a free
	// executor slot on those agents, the wait starting again at each
	// local launch. 0 does not wait (the CLI's default is
	// DefaultLocalityWait, Spark's spark.locality.wait of 3s).
	LocalityWait time.Duration
	// MinRegisteredRatio makes the first tasks wait until executors with
	// this share of CoresMax have registered, or MaxRegisteredWait has
	// passed (Spark's spark.scheduler.minRegisteredResourcesRatio and
	// maxRegisteredResourcesWaitingTime). 0 (the default) starts at once.
	MinRegisteredRatio float64
	// MaxRegisteredWait bounds that wait (default 30s).
	MaxRegisteredWait time.Duration
	// DynamicAllocation ramps executors up as Spark's dynamic allocation
	// does: when tasks have waited SchedulerBacklogTimeout, it asks for one
	// more executor, then two, four, ... each further
	// SchedulerBacklogTimeout the backlog lasts, up to what the waiting
	// tasks need (and CoresMax). Without it the app asks at once for as
	// many executors as its tasks need.
	DynamicAllocation bool
	// SchedulerBacklogTimeout is that ramp's step (default 1s).
	SchedulerBacklogTimeout time.Duration
	// ExecutorIdleTimeout releases (kills) an executor that has run no
	// task for that long and holds no cached partition; 0 keeps executors
	// until the app ends. Its map outputs go with it: a later job that
	// needs them recomputes them from lineage.
	ExecutorIdleTimeout time.Duration
	// RefuseDuration is the filter sent with declined offers.
	RefuseDuration time.Duration
	// ShuffleService starts a shuffle service (a long-running task of
	// 0.1 cpus and 32 MB) beside the first executor on each agent; it
	// serves the map outputs of that agent's executors from their
	// sandboxes, so that an executor released by ExecutorIdleTimeout keeps
	// its map outputs (Spark's spark.shuffle.service.enabled).
	ShuffleService bool
	// ExecutorTimeout is how long an executor may go without answering
	// (default DefaultExecutorTimeout): connecting to it, a ping the driver
	// sends every third of it while a task runs there, a shuffle block
	// another executor reads from it (between any two reads). An executor
	// that does not answer in time is lost: its tasks run again elsewhere,
	// its map outputs are recomputed, and Mesos is asked to kill it.
	ExecutorTimeout time.Duration
	// ExecutorCommand is the binary the agents run as the executor; it must
	// call MainIfExecutor. Default: this process's own binary, which suits
	// agents on this machine. A bare name (no "/") is looked up on each
	// agent's PATH.
	ExecutorCommand string
	// ShipExecutor says which agents get ExecutorCommand through their
	// fetcher (CommandInfo.URIs pointing at the driver's web page, which
	// serves the binary): ShipRemote (the default) those on other machines,
	// ShipAlways all, ShipNever none. A bare-name ExecutorCommand is never
	// shipped. Remote agents must reach the driver's web page: set Listen
	// to an address they can reach.
	ShipExecutor string
	// Listen is the address of the driver's web page (its webui_url);
	// default "127.0.0.1:0".
	Listen string
	// Logger gets the driver's logs; nil discards them.
	Logger *slog.Logger
	// Progress, when set, is called with every job, stage, task and
	// executor event, synchronously: the driver waits for it.
	Progress func(Event)
}

// EventKind says what an Event reports.
type EventKind int

// The kinds of events.
const (
	JobStarted EventKind = iota
	JobEnded
	StageStarted
	StageEnded
	TaskEnded
	ExecutorAdded
	ExecutorLost
	// ExecutorReleased is an executor given back after its idle timeout.
	ExecutorReleased
)

func (k EventKind) String() string {
	return [...]string{"job started", "job ended", "stage started", "stage ended", "task ended", "executor added", "executor lost", "executor released"}[k]
}

// Event is one step of the driver's work, for progress reports and tests.
type Event struct {
	Kind      EventKind
	Job       int
	Stage     int
	StageName string
	// Partition is the task's (TaskEnded).
	Partition int
	// Done and Total count the stage's finished and all partitions.
	Done, Total int
	// Executor and Agent name the executor (ExecutorAdded, ExecutorLost,
	// TaskEnded).
	Executor, Agent string
	// Locality is how well the task's place suited it (TaskEnded): "local"
	// (its cached input or split was there), "no-pref" or "any".
	Locality string
	// Err is why a job failed, a task failed or an executor was lost.
	Err error
}

// App is a running driver: a framework subscribed to the masters, its
// executors, and the jobs it runs on them. Start it, run jobs with
// SaveAsText or Collect (one at a time or concurrently), then Stop it.
type App struct {
	cfg    Config
	log    *slog.Logger
	client *scheduler.Client
	hc     *http.Client
	web    *http.Server
	webURL string
	ship   *shipper // nil when the executor binary is not shipped

	runCtx    context.Context
	runCancel context.CancelFunc
	runDone   chan struct{}
	runErr    error
	wake      chan struct{}

	// jobMu runs one job at a time: jobs share shuffle outputs.
	jobMu sync.Mutex
	// offerMu orders the handling of offers (launches, declines with
	// their filters, SUPPRESS) and REVIVE: a REVIVE sent while offers are
	// being declined could otherwise go before their DECLINE and SUPPRESS
	// and be undone by them.
	offerMu sync.Mutex

	mu          sync.Mutex
	subscribed  chan struct{}
	frameworkID string
	fatal       error // the app cannot go on (e.g. the master refused it)
	suppressed  bool
	execs       map[string]*execState
	nextExec    int
	idPrefix    string // in the ids of this driver's executors and services
	// holdUntil: a driver that took over a framework launches no
	// executor until then, while the earlier driver's announce themselves.
	holdUntil   time.Time
	agentFails  map[string]int
	launchFails int
	pending     []*taskReq
	running     int
	shuffles    map[int]*shuffleDep
	depsOf      map[int][]*shuffleDep // by shuffled dataset id
	nextShuffle int
	nextStage   int
	nextJob     int
	cacheLocs   map[cacheKey]string      // -> executor id
	services    map[string]*serviceState // shuffle services, by agent id
	nextService int
	firstSubmit time.Time
	// Dynamic allocation: how many executors the app wants now, how many
	// the next ramp step adds, and when it may be taken.
	target   int
	toAdd    int
	nextRamp time.Time
	ready    bool // MinRegisteredRatio was met once
	jobs     []*jobInfo
	stages   []*stage
}

// execState is what the driver knows of one executor.
type execState struct {
	id, agentID, host string
	taskID            *mesos.TaskID
	agent             *mesos.AgentID
	cores             float64
	slots             int
	addr              string // "" until it said hello
	pid               int
	dir               string
	running           int
	idleSince         time.Time
	released          bool // by the idle timeout
	lost              bool
	lostWhy           string
	tasksDone         int
	// probed is when the driver last pinged it idle; probing is set
	// while that ping is out.
	probed  time.Time
	probing bool
}

func (e *execState) place() locality.Place { return locality.Place{AgentID: e.agentID, Host: e.host} }

// ExecutorStatus describes an executor, for tests and the web page.
type ExecutorStatus struct {
	ID, AgentID, Host, Addr string
	PID                     int
	Dir                     string
	Lost                    bool
	TasksDone               int
}

// Start subscribes the framework and serves the driver's web page. The
// executors come as offers do, once there is work.
func Start(ctx context.Context, cfg Config) (*App, error) {
	if len(cfg.Masters) == 0 {
		return nil, errors.New("batch: no master given")
	}
	if cfg.ExecutorCores <= 0 {
		cfg.ExecutorCores = DefaultExecutorCores
	}
	if cfg.ExecutorMemory <= 0 {
		cfg.ExecutorMemory = DefaultExecutorMemory
	}
	if cfg.CoresMax > 0 && cfg.CoresMax < cfg.ExecutorCores {
		return nil, fmt.Errorf("batch: cores_max %g is less than one executor's %g cores", cfg.CoresMax, cfg.ExecutorCores)
	}
	if cfg.TaskMaxFailures <= 0 {
		cfg.TaskMaxFailures = DefaultTaskMaxFailures
	}
	if cfg.LocalityWait < 0 {
		return nil, errors.New("batch: negative locality wait")
	}
	if cfg.MinRegisteredRatio < 0 || cfg.MinRegisteredRatio > 1 {
		return nil, fmt.Errorf("batch: min registered ratio %g is not within [0, 1]", cfg.MinRegisteredRatio)
	}
	if cfg.MaxRegisteredWait <= 0 {
		cfg.MaxRegisteredWait = 30 * time.Second
	}
	if cfg.RefuseDuration <= 0 {
		cfg.RefuseDuration = DefaultRefuseDuration
	}
	if cfg.ExecutorTimeout < 0 {
		return nil, errors.New("batch: negative executor timeout")
	}
	if cfg.ExecutorTimeout == 0 {
		cfg.ExecutorTimeout = DefaultExecutorTimeout
	}
	if cfg.SchedulerBacklogTimeout <= 0 {
		cfg.SchedulerBacklogTimeout = time.Second
	}
	if cfg.ExecutorIdleTimeout < 0 {
		return nil, errors.New("batch: negative executor idle timeout")
	}
	if cfg.Name == "" {
		cfg.Name = "gomesos-batch"
	}
	if cfg.Role == "" {
		cfg.Role = "*"
	}
	if cfg.User == "" {
		cfg.User = currentUser()
	}
	if cfg.ExecutorCommand == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("batch: finding this binary for the executors: %w", err)
		}
		cfg.ExecutorCommand = exe
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	switch cfg.ShipExecutor {
	case "":
		cfg.ShipExecutor = ShipRemote
	case ShipRemote, ShipAlways, ShipNever:
	default:
		return nil, fmt.Errorf("batch: ship executor %q is not one of %s, %s and %s", cfg.ShipExecutor, ShipRemote, ShipAlways, ShipNever)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	a := &App{
		cfg: cfg, log: log, hc: &http.Client{Transport: executorTransport(cfg.ExecutorTimeout)},
		wake: make(chan struct{}, 1), subscribed: make(chan struct{}), runDone: make(chan struct{}),
		execs: map[string]*execState{}, agentFails: map[string]int{}, shuffles: map[int]*shuffleDep{},
		cacheLocs: map[cacheKey]string{}, services: map[string]*serviceState{},
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("batch: listening for the web page on %s: %w", cfg.Listen, err)
	}
	a.webURL = "http://" + ln.Addr().String()
	if cfg.ShipExecutor != ShipNever && strings.Contains(cfg.ExecutorCommand, "/") {
		if a.ship, err = newShipper(cfg.ExecutorCommand, a.webURL); err != nil {
			ln.Close()
			return nil, err
		}
	}
	a.web = &http.Server{Handler: a.webHandler(), ReadHeaderTimeout: 10 * time.Second}
	go a.web.Serve(ln)

	info := &mesos.FrameworkInfo{
		User:            proto.String(cfg.User),
		Name:            proto.String(cfg.Name),
		Roles:           []string{cfg.Role},
		Checkpoint:      proto.Bool(cfg.Checkpoint),
		FailoverTimeout: proto.Float64(cfg.FailoverTimeout.Seconds()),
		WebuiUrl:        proto.String(a.webURL),
		Capabilities: []*mesos.FrameworkInfo_Capability{
			{Type: mesos.FrameworkInfo_Capability_MULTI_ROLE.Enum()},
		},
	}
	if cfg.Principal != "" {
		info.Principal = proto.String(cfg.Principal)
	}
	if cfg.FrameworkID != "" {
		info.Id = &mesos.FrameworkID{Value: proto.String(cfg.FrameworkID)}
		// This driver's new executors must not take the ids of the
		// earlier driver's.
		a.idPrefix = strconv.FormatInt(time.Now().UnixNano()%1e9, 36) + "-"
	}
	// A call the master never answers must not hold the driver's event
	// handling for ever.
	calls := &http.Client{Timeout: callTimeout}
	client, err := scheduler.New(scheduler.Config{Masters: cfg.Masters, Framework: info, Logger: log.With("component", "scheduler"), HTTPClient: calls})
	if err != nil {
		a.web.Close()
		return nil, fmt.Errorf("batch: %w", err)
	}
	a.client = client
	a.runCtx, a.runCancel = context.WithCancel(context.Background())
	go func() {
		defer close(a.runDone)
		err := client.Run(a.runCtx, a.handle)
		a.mu.Lock()
		a.runErr = err
		if a.fatal == nil && err != nil && a.runCtx.Err() == nil {
			a.fatal = fmt.Errorf("the framework's connection ended: %w", err)
		}
		a.mu.Unlock()
		a.poke()
	}()
	go a.dispatch(a.runCtx)
	select {
	case <-a.subscribed:
		return a, nil
	case <-a.runDone:
		a.Stop(context.Background())
		return nil, fmt.Errorf("batch: subscribing: %w", a.runErr)
	case <-ctx.Done():
		a.Stop(context.Background())
		return nil, fmt.Errorf("batch: subscribing: %w", ctx.Err())
	}
}

func currentUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return strconv.Itoa(os.Getuid())
}

// FrameworkID is the id the master gave the framework.
func (a *App) FrameworkID() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.frameworkID
}

// WebURL is the driver's web page, also sent as webui_url.
func (a *App) WebURL() string { return a.webURL }

// Executors describes every executor the app launched, lost ones included.
func (a *App) Executors() []ExecutorStatus {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []ExecutorStatus
	for _, e := range a.execs {
		out = append(out, ExecutorStatus{ID: e.id, AgentID: e.agentID, Host: e.host, Addr: e.addr, PID: e.pid, Dir: e.dir, Lost: e.lost, TasksDone: e.tasksDone})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Stop tears the framework down (the master kills its executors) and stops
// the web page. Jobs still running fail.
func (a *App) Stop(ctx context.Context) error {
	var err error
	select {
	case <-a.runDone:
	default:
		if a.FrameworkID() != "" {
			err = a.client.Teardown(ctx)
		}
	}
	a.runCancel()
	<-a.runDone
	a.web.Close()
	a.hc.CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("batch: tearing the framework down: %w", err)
	}
	return nil
}

func (a *App) poke() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

func (a *App) emit(ev Event) {
	if a.cfg.Progress != nil {
		a.cfg.Progress(ev)
	}
}

// handle is the framework's event handler: offers become executors, the
// executor tasks' updates tell the driver where executors are and when they
// are gone.
func (a *App) handle(ctx context.Context, ev *schedpb.Event) error {
	switch ev.GetType() {
	case schedpb.Event_SUBSCRIBED:
		a.mu.Lock()
		first := a.frameworkID == ""
		a.frameworkID = ev.GetSubscribed().GetFrameworkId().GetValue()
		a.suppressed = false
		if first && a.cfg.FrameworkID != "" {
			a.holdUntil = time.Now().Add(takeoverGrace)
		}
		a.mu.Unlock()
		if first {
			close(a.subscribed)
		}
		// After a re-subscription (a master failover), ask for the state of
		// every executor task: updates for lost ones follow.
		return a.client.Reconcile(ctx, nil)
	case schedpb.Event_OFFERS:
		return a.offers(ctx, ev.GetOffers().GetOffers())
	case schedpb.Event_UPDATE:
		st := ev.GetUpdate().GetStatus()
		a.update(ctx, st)
		return a.client.Acknowledge(ctx, st)
	case schedpb.Event_FAILURE:
		if id := ev.GetFailure().GetExecutorId().GetValue(); id != "" {
			a.executorLost(id, fmt.Sprintf("executor exited with status %d", ev.GetFailure().GetStatus()), false)
		}
	case schedpb.Event_ERROR:
		a.mu.Lock()
		a.fatal = fmt.Errorf("the master sent an error: %s", ev.GetError().GetMessage())
		a.mu.Unlock()
		a.poke()
	}
	return nil
}

// wantExecutor reports whether the app would take one more executor: it is
// under cores_max and its executors (live or coming) have fewer slots than
// it has tasks waiting or running. Called with a.mu held.
func (a *App) wantExecutor() bool {
	if a.fatal != nil || a.runCtx.Err() != nil {
		return false
	}
	cores, slots, n := 0.0, 0, 0
	for _, e := range a.execs {
		if !e.lost {
			cores += e.cores
			slots += e.slots
			n++
		}
	}
	if a.cfg.CoresMax > 0 && cores+a.cfg.ExecutorCores > a.cfg.CoresMax+1e-9 {
		return false
	}
	if !a.ready && a.cfg.MinRegisteredRatio > 0 && a.cfg.CoresMax > 0 && cores < a.cfg.MinRegisteredRatio*a.cfg.CoresMax-1e-9 {
		// The first tasks wait for this share of cores_max, whatever
		// they need.
		return true
	}
	if a.cfg.DynamicAllocation && n >= a.target {
		return false
	}
	return slots < len(a.pending)+a.running || a.localityDemand(time.Now())
}

func scalarOf(rs []*mesos.Resource, name string) float64 {
	total := 0.0
	for _, r := range rs {
		if r.GetName() == name && r.GetType() == mesos.Value_SCALAR && r.GetRevocable() == nil {
			total += r.GetScalar().GetValue()
		}
	}
	return total
}

// take carves amount of the named scalar out of an offer's resources,
// keeping each piece's role and reservation.
func take(rs []*mesos.Resource, name string, amount float64) []*mesos.Resource {
	var out []*mesos.Resource
	for _, r := range rs {
		if amount <= 1e-9 {
			break
		}
		if r.GetName() != name || r.GetType() != mesos.Value_SCALAR || r.GetRevocable() != nil {
			continue
		}
		n := min(r.GetScalar().GetValue(), amount)
		c := proto.Clone(r).(*mesos.Resource)
		c.Scalar = &mesos.Value_Scalar{Value: proto.Float64(n)}
		out = append(out, c)
		amount -= n
	}
	return out
}

// offers launches executors on the offers it wants, round after round one
// per offer (agents with fewest of its executors first), so that executors
// spread over the agents offered while each offer is used as far as the
// app needs; it declines the rest with the long refuse filter. Once it has
// what it needs it suppresses offers.
func (a *App) offers(ctx context.Context, offers []*mesos.Offer) error {
	var refused []string
	defer func() {
		for _, id := range refused {
			a.executorLost(id, "launch refused", true)
		}
	}()
	a.offerMu.Lock()
	defer a.offerMu.Unlock()
	a.mu.Lock()
	perAgent := map[string]int{}
	for _, e := range a.execs {
		if !e.lost {
			perAgent[e.agentID]++
		}
	}
	// Agents with the fewest of our executors first.
	sort.SliceStable(offers, func(i, j int) bool {
		return perAgent[offers[i].GetAgentId().GetValue()] < perAgent[offers[j].GetAgentId().GetValue()]
	})
	// Each offer's plan: the executors (and shuffle service) it gets and
	// what is left of it.
	type plan struct {
		offer   *mesos.Offer
		left    []*mesos.Resource
		execs   []*mesos.TaskInfo
		service *mesos.TaskInfo
		done    bool
		notHere bool
	}
	var decline, notHere []*mesos.OfferID
	now := time.Now()
	if now.Before(a.holdUntil) {
		a.mu.Unlock()
		ids := make([]*mesos.OfferID, 0, len(offers))
		for _, o := range offers {
			ids = append(ids, o.GetId())
		}
		if err := a.client.Decline(ctx, ids, localityRefuse); err != nil {
			a.log.Warn("declining offers", "err", err)
		}
		return nil
	}
	plans := make([]*plan, len(offers))
	for i, o := range offers {
		plans[i] = &plan{offer: o, left: o.GetResources()}
	}
	// Round after round, one more executor on each offer where one fits
	// and is wanted: executors spread over the agents offered, and each
	// offer is used as far as the app needs.
	for more := true; more; {
		more = false
		for _, p := range plans {
			if p.done {
				continue
			}
			o := p.offer
			agent := o.GetAgentId().GetValue()
			switch {
			case !a.wantExecutor(),
				a.agentFails[agent] >= maxAgentFailures,
				!a.cfg.Constraints.Match(o.GetAttributes()),
				scalarOf(p.left, "cpus") < a.cfg.ExecutorCores+a.serviceShare(agent, serviceCPUs)-1e-9,
				scalarOf(p.left, "mem") < a.cfg.ExecutorMemory+a.serviceShare(agent, serviceMem)-1e-9:
				p.done = true
				continue
			}
			if !a.placeUseful(locality.Place{AgentID: agent, Host: o.GetHostname()}, now) {
				// Delay scheduling: the waiting tasks would rather run
				// elsewhere, for now. Back soon.
				p.done, p.notHere = true, len(p.execs) == 0
				continue
			}
			if a.needService(agent) {
				sres := append(take(p.left, "cpus", serviceCPUs), take(p.left, "mem", serviceMem)...)
				p.service = a.serviceTask(o, sres)
				p.left = subtract(p.left, sres)
			}
			a.nextExec++
			id := executorPrefix + a.idPrefix + strconv.Itoa(a.nextExec)
			res := append(take(p.left, "cpus", a.cfg.ExecutorCores), take(p.left, "mem", a.cfg.ExecutorMemory)...)
			p.left = subtract(p.left, res)
			task := a.executorTask(id, o, res)
			slots := max(int(a.cfg.ExecutorCores), 1)
			a.execs[id] = &execState{id: id, agentID: agent, host: o.GetHostname(), taskID: task.GetTaskId(), agent: o.GetAgentId(), cores: a.cfg.ExecutorCores, slots: slots}
			p.execs = append(p.execs, task)
			more = true
		}
	}
	for _, p := range plans {
		switch {
		case len(p.execs) > 0:
		case p.notHere:
			notHere = append(notHere, p.offer.GetId())
		default:
			decline = append(decline, p.offer.GetId())
		}
	}
	suppress := !a.wantExecutor() && !a.suppressed
	if suppress {
		a.suppressed = true
	}
	a.mu.Unlock()

	for _, p := range plans {
		if len(p.execs) == 0 {
			continue
		}
		tasks := p.execs
		var ids []string
		for _, t := range p.execs {
			ids = append(ids, t.GetTaskId().GetValue())
		}
		a.log.Info("launching executors", "executors", ids, "agent", p.offer.GetHostname())
		if p.service != nil {
			tasks = append(tasks, p.service)
		}
		// What the executors leave of the offer comes back soon.
		if err := a.client.Launch(ctx, []*mesos.OfferID{p.offer.GetId()}, tasks, scheduler.RefuseFor(time.Second)); err != nil {
			a.log.Warn("launching executors", "executors", ids, "err", err)
			refused = append(refused, ids...)
			if p.service != nil {
				a.serviceLost(p.service.GetTaskId().GetValue(), "launch refused")
			}
		}
	}
	if len(decline) > 0 {
		a.log.Debug("declining offers", "offers", len(decline), "refuse", a.cfg.RefuseDuration)
		if err := a.client.Decline(ctx, decline, a.cfg.RefuseDuration); err != nil {
			a.log.Warn("declining offers", "err", err)
		}
	}
	if len(notHere) > 0 {
		a.log.Debug("declining offers for delay scheduling", "offers", len(notHere), "refuse", localityRefuse)
		if err := a.client.Decline(ctx, notHere, localityRefuse); err != nil {
			a.log.Warn("declining offers", "err", err)
		}
	}
	if suppress {
		a.log.Info("suppressing offers: the app has the executors it needs")
		if err := a.client.Suppress(ctx); err != nil {
			a.log.Warn("suppressing offers", "err", err)
			a.mu.Lock()
			a.suppressed = false
			a.mu.Unlock()
		}
	}
	return nil
}

// executorTask is the one long-running task of an executor: it holds the
// executor's resources, and the executor reports RUNNING with its address.
func (a *App) executorTask(id string, o *mesos.Offer, res []*mesos.Resource) *mesos.TaskInfo {
	return &mesos.TaskInfo{
		Name:      proto.String(a.cfg.Name + " " + id),
		TaskId:    &mesos.TaskID{Value: proto.String(id)},
		AgentId:   o.GetAgentId(),
		Resources: res,
		Executor:  a.executorInfo(id, a.cfg.Name+" executor", o.GetHostname()),
	}
}

// executorInfo runs the executor binary in executor mode on an agent at
// host, with env added: shipped through the fetcher or not (see ships).
func (a *App) executorInfo(id, name, host string, env ...*mesos.Environment_Variable) *mesos.ExecutorInfo {
	vars := append([]*mesos.Environment_Variable{{Name: proto.String(ExecutorEnv), Value: proto.String("1")}}, env...)
	return &mesos.ExecutorInfo{
		ExecutorId: &mesos.ExecutorID{Value: proto.String(id)},
		Name:       proto.String(name),
		Command:    a.command(host, vars),
	}
}

// serviceShare is what a shuffle service launched beside an executor on
// agent would take of an offer: amount, or 0 when none is needed. Called
// with a.mu held.
func (a *App) serviceShare(agent string, amount float64) float64 {
	if a.needService(agent) {
		return amount
	}
	return 0
}

// subtract removes the scalar amounts of taken from rs, piece by piece of
// the same name.
func subtract(rs, taken []*mesos.Resource) []*mesos.Resource {
	left := map[string]float64{}
	for _, t := range taken {
		left[t.GetName()] += t.GetScalar().GetValue()
	}
	var out []*mesos.Resource
	for _, r := range rs {
		n := left[r.GetName()]
		if n <= 1e-9 || r.GetType() != mesos.Value_SCALAR || r.GetRevocable() != nil {
			out = append(out, r)
			continue
		}
		v := r.GetScalar().GetValue()
		used := min(v, n)
		left[r.GetName()] -= used
		if v-used > 1e-9 {
			c := proto.Clone(r).(*mesos.Resource)
			c.Scalar = &mesos.Value_Scalar{Value: proto.Float64(v - used)}
			out = append(out, c)
		}
	}
	return out
}

// executorPrefix begins the ids of executors (their executor task's and
// ExecutorInfo's).
const executorPrefix = "batch-executor-"

// reregisterMessage is the framework message asking an executor to send its
// TASK_RUNNING (with its address) again.
var reregisterMessage = []byte(`{"reregister":true}`)

// askToReregister sends the executor of a reconciled TASK_RUNNING that this
// driver does not know yet the reregister message.
func (a *App) askToReregister(ctx context.Context, st *mesos.TaskStatus) {
	id := st.GetTaskId().GetValue()
	if !strings.HasPrefix(id, executorPrefix) && !isServiceID(id) {
		return
	}
	a.mu.Lock()
	_, known := a.execs[id]
	for _, s := range a.services {
		known = known || s.id == id
	}
	a.mu.Unlock()
	if known {
		return
	}
	if strings.HasPrefix(id, executorPrefix) {
		// Counted as coming up, so that no other is launched in its
		// place.
		a.mu.Lock()
		if _, ok := a.execs[id]; !ok {
			a.adopt(st)
		}
		a.mu.Unlock()
	}
	a.log.Info("asking an earlier driver's executor to register", "executor", id)
	if err := a.client.Message(ctx, st.GetAgentId(), &mesos.ExecutorID{Value: proto.String(id)}, reregisterMessage); err != nil {
		a.log.Warn("asking an executor to register", "executor", id, "err", err)
	}
}

// adopt makes an earlier driver's executor this driver's. Called with a.mu
// held.
func (a *App) adopt(st *mesos.TaskStatus) *execState {
	id := st.GetTaskId().GetValue()
	e := &execState{
		id: id, agentID: st.GetAgentId().GetValue(), taskID: st.GetTaskId(), agent: st.GetAgentId(),
		cores: a.cfg.ExecutorCores, slots: max(int(a.cfg.ExecutorCores), 1),
	}
	a.execs[id] = e
	return e
}

// adoptService reports whether the service of st is this driver's, taking
// over an earlier driver's when its agent has no other. Called with a.mu
// held.
func (a *App) adoptService(st *mesos.TaskStatus) bool {
	id := st.GetTaskId().GetValue()
	for _, s := range a.services {
		if s.id == id {
			return true
		}
	}
	agent := st.GetAgentId().GetValue()
	if s := a.services[agent]; s != nil && !s.lost {
		return false
	}
	a.services[agent] = &serviceState{id: id, agentID: agent, taskID: st.GetTaskId(), agent: st.GetAgentId(), registered: map[string]bool{}}
	return true
}

// Abandon stops the driver as a crash would: without tearing the framework
// down, so that its executors keep running until the failover timeout
// passes or a driver started with Config.FrameworkID takes them over. Jobs
// still running fail.
func (a *App) Abandon() {
	a.runCancel()
	<-a.runDone
	a.web.Close()
	a.hc.CloseIdleConnections()
}

// revive asks for offers again when the app wants executors and had
// suppressed them.
func (a *App) revive() {
	a.offerMu.Lock()
	defer a.offerMu.Unlock()
	a.mu.Lock()
	do := a.suppressed && a.wantExecutor()
	if do {
		a.suppressed = false
	}
	a.mu.Unlock()
	if !do {
		return
	}
	a.log.Info("reviving offers: work is waiting")
	ctx, cancel := context.WithTimeout(a.runCtx, 30*time.Second)
	defer cancel()
	if err := a.client.Revive(ctx); err != nil {
		a.log.Warn("reviving offers", "err", err)
		a.mu.Lock()
		a.suppressed = true
		a.mu.Unlock()
	}
}

func (a *App) update(ctx context.Context, st *mesos.TaskStatus) {
	id := st.GetTaskId().GetValue()
	switch st.GetState() {
	case mesos.TaskState_TASK_STARTING, mesos.TaskState_TASK_STAGING:
	case mesos.TaskState_TASK_RUNNING:
		var hello executorHello
		if err := json.Unmarshal(st.GetData(), &hello); err != nil || hello.Addr == "" {
			if len(st.GetData()) > 0 {
				a.log.Warn("executor sent no address", "executor", id, "data", string(st.GetData()))
				return
			}
			// The master's answer to a reconciliation: an executor this
			// driver does not know is an earlier driver's (a failover).
			a.askToReregister(ctx, st)
			return
		}
		if isServiceID(id) {
			a.mu.Lock()
			known := a.adoptService(st)
			a.mu.Unlock()
			if !known {
				a.client.Kill(ctx, st.GetTaskId(), st.GetAgentId())
				return
			}
			a.serviceUp(id, hello)
			return
		}
		a.mu.Lock()
		e, ok := a.execs[id]
		if !ok && strings.HasPrefix(id, executorPrefix) {
			// An earlier driver's executor, announcing itself again:
			// this driver takes it over.
			e, ok = a.adopt(st), true
			a.log.Info("taking over an executor of an earlier driver", "executor", id)
		}
		fresh := ok && !e.lost && e.addr == ""
		if fresh {
			e.addr, e.pid, e.dir = hello.Addr, hello.PID, hello.Dir
			e.idleSince = time.Now()
			a.launchFails = 0
		}
		a.mu.Unlock()
		if !ok {
			// Not an executor's task: not ours to use.
			a.client.Kill(ctx, st.GetTaskId(), st.GetAgentId())
			return
		}
		if fresh {
			a.mu.Lock()
			s := a.serviceOf(e.agentID)
			a.mu.Unlock()
			if s != nil {
				go a.registerExecutor(s, e)
			}
			a.log.Info("executor registered", "executor", id, "addr", hello.Addr)
			a.emit(Event{Kind: ExecutorAdded, Executor: id, Agent: e.agentID})
			a.poke()
		}
	default:
		if isTerminal(st.GetState()) {
			why := fmt.Sprintf("%s: %s %s", st.GetState(), st.GetReason(), st.GetMessage())
			if isServiceID(id) {
				a.serviceLost(id, why)
				return
			}
			a.executorLost(id, why, false)
		}
	}
}

func isTerminal(s mesos.TaskState) bool {
	switch s {
	case mesos.TaskState_TASK_FINISHED, mesos.TaskState_TASK_FAILED, mesos.TaskState_TASK_KILLED,
		mesos.TaskState_TASK_ERROR, mesos.TaskState_TASK_LOST, mesos.TaskState_TASK_DROPPED,
		mesos.TaskState_TASK_GONE, mesos.TaskState_TASK_GONE_BY_OPERATOR:
		return true
	}
	return false
}

// executorLost forgets an executor: its map outputs and cached partitions
// are gone (its tasks fail on their own and are resubmitted), and the app
// asks for offers if it now needs another executor. kill asks Mesos to kill
// it too (the driver could not reach it).
func (a *App) executorLost(id, why string, kill bool) {
	a.executorGone(id, why, kill, ExecutorLost)
}

// executorGone is executorLost, reported as kind.
func (a *App) executorGone(id, why string, kill bool, kind EventKind) {
	a.mu.Lock()
	e, ok := a.execs[id]
	if !ok || e.lost {
		a.mu.Unlock()
		return
	}
	e.lost, e.lostWhy = true, why
	if e.addr == "" {
		// It never came up.
		a.agentFails[e.agentID]++
		a.launchFails++
		if a.launchFails >= 3*maxAgentFailures && a.fatal == nil {
			a.fatal = fmt.Errorf("executors keep failing to start, the last: %s", why)
		}
	}
	// A released executor's map outputs stay where its agent's shuffle
	// service serves them.
	if kind != ExecutorReleased || !a.served(e) {
		for _, dep := range a.shuffles {
			for m, ex := range dep.outputs {
				if ex == id {
					dep.outputs[m] = ""
				}
			}
		}
	}
	for k, ex := range a.cacheLocs {
		if ex == id {
			delete(a.cacheLocs, k)
		}
	}
	a.mu.Unlock()
	if kind == ExecutorLost {
		a.log.Warn("executor lost", "executor", id, "why", why)
	}
	a.emit(Event{Kind: kind, Executor: id, Agent: e.agentID, Err: errors.New(why)})
	if kill {
		ctx, cancel := context.WithTimeout(a.runCtx, 30*time.Second)
		if err := a.client.Kill(ctx, e.taskID, e.agent); err != nil {
			a.log.Warn("killing a lost executor", "executor", id, "err", err)
		}
		cancel()
	}
	a.revive()
	a.poke()
}
