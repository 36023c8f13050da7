package builtin

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/agent/fetcher"
	execpb "github.com/gomesos/gomesos/api/v1/executor"
	"github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/executor"
	"github.com/gomesos/gomesos/executor/builtin/checks"
	"github.com/gomesos/gomesos/internal/checkspec"
	"github.com/gomesos/gomesos/internal/taskenv"
)

const (
	// defaultKillGracePeriod applies when neither the KILL nor the task
	// carries a kill policy (Mesos's executors use 3 s).
	defaultKillGracePeriod = 3 * time.Second
	// shutdownBuffer is kept back from the shutdown grace period so the
	// killed tasks can still be reported before the agent gives up on us.
	shutdownBuffer = time.Second
	// ackTimeout bounds the wait for acknowledgements once every task is
	// terminal (Mesos's 60 s fail-safe).
	ackTimeout = 60 * time.Second
)

// task is one task the executor was given.
type task struct {
	info    *mesos.TaskInfo
	group   *group
	sandbox string
	proc    runner // nil until started, and if it could not be

	killing       bool
	killStart     time.Time
	killDeadline  time.Time
	escalation    *time.Timer
	timerGen      int
	maxTimer      *time.Timer
	maxCompletion bool // killed for exceeding max_completion_time
	terminal      bool

	env       []string          // the task's environment, for COMMAND checks
	last      *mesos.TaskStatus // the latest update sent
	health    *checks.HealthChecker
	checker   *checks.Checker
	unhealthy bool // killed for failing its health check

	// networkInfos are a Docker task's addresses (BRIDGE or USER
	// networks), which its updates carry as Mesos's docker executor's do.
	networkInfos []*mesos.NetworkInfo
}

func (t *task) id() string { return t.info.GetTaskId().GetValue() }

// group is the tasks of one LAUNCH (a group of one) or LAUNCH_GROUP.
type group struct {
	tasks   []*task
	killing bool
}

type exitNote struct {
	task *task
	exitResult
}

type timerKind int

const (
	timerEscalate timerKind = iota
	timerMaxCompletion
)

type healthNote struct {
	task   *task
	status checks.HealthStatus
}

type checkNote struct {
	task   *task
	status *mesos.CheckStatusInfo
}

type timerNote struct {
	task *task
	kind timerKind
	gen  int
}

// engine is one built-in executor. A single goroutine (loop) owns all its
// state; process exits and timers reach it as messages.
type engine struct {
	kind   string
	cfg    executor.Config
	client *executor.Client
	log    *slog.Logger
	// env is the executor's environment (its tasks' base); stdout and
	// stderr are the executor's, which a command task shares.
	env            []string
	stdout, stderr *os.File
	// hosted is set when the executor runs inside an executor host.
	hosted *Hosted
	// flushLog, when set, writes the log lines held back (a hosted
	// executor's, logbuf.go).
	flushLog func()
	// abandoned is set when the host says a task's end is its
	// container's (an OOM kill): the executor exits without reporting it.
	abandoned bool

	framework    *mesos.FrameworkInfo
	tasks        map[string]*task
	order        []*task
	active       int  // tasks not terminal yet
	launched     bool // a task was accepted
	shuttingDown bool
	clientGone   bool

	// fetcher fetches the URIs of tasks of groups; made at the first.
	fetcher *fetcher.Fetcher

	shutdownTimer *time.Timer
	ackTimer      *time.Timer

	exits  chan exitNote
	timers chan timerNote
	health chan healthNote
	checks chan checkNote
	done   chan struct{}
	wg     sync.WaitGroup
}

func newEngine(kind string, cfg executor.Config, client *executor.Client, log *slog.Logger) *engine {
	return &engine{
		kind:   kind,
		cfg:    cfg,
		client: client,
		log:    log,
		env:    os.Environ(),
		stdout: os.Stdout,
		stderr: os.Stderr,
		tasks:  map[string]*task{},
		exits:  make(chan exitNote),
		timers: make(chan timerNote),
		health: make(chan healthNote),
		checks: make(chan checkNote),
		done:   make(chan struct{}),
	}
}

func (e *engine) run(ctx context.Context) int {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events := make(chan *execpb.Event)
	clientDone := make(chan error, 1)
	go func() {
		clientDone <- e.client.Run(cctx, executor.HandlerFunc(func(ctx context.Context, ev *execpb.Event) error {
			select {
			case events <- ev:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}))
	}()

	code := e.loop(ctx, cctx, events, clientDone)

	e.cleanup()
	cancel()
	if !e.clientGone {
		<-clientDone
	}
	close(e.done)
	e.wg.Wait()
	return code
}

func (e *engine) loop(ctx, cctx context.Context, events <-chan *execpb.Event, clientDone <-chan error) int {
	for {
		if code, ok := e.finished(); ok {
			return code
		}
		var shutdownC, ackC <-chan time.Time
		if e.shutdownTimer != nil {
			shutdownC = e.shutdownTimer.C
		}
		if e.ackTimer != nil {
			ackC = e.ackTimer.C
		}
		select {
		case ev := <-events:
			e.handle(cctx, ev)
		case n := <-e.exits:
			if ctx.Err() != nil {
				// Cancelled (the container is being destroyed) before
				// the exit, which the kill caused: no update for it.
				e.log.Warn("cancelled; killing every task", "err", ctx.Err())
				return 1
			}
			e.exited(cctx, n)
		case n := <-e.timers:
			e.fired(cctx, n)
		case n := <-e.health:
			e.healthUpdated(cctx, n)
		case n := <-e.checks:
			e.checkUpdated(cctx, n)
		case err := <-clientDone:
			e.clientGone, clientDone = true, nil
			e.log.Warn("no longer connected to the agent", "err", err)
			e.shutdown(cctx)
		case <-shutdownC:
			e.log.Error("shutdown grace period elapsed; killing everything", "grace_period", e.cfg.ShutdownGracePeriod)
			return 1
		case <-ackC:
			if !e.client.Connected() {
				// The agent is away (restarting, say): the wait for it
				// is bounded by the recovery timeout, not this one.
				e.ackTimer.Reset(ackTimeout)
				continue
			}
			e.log.Error("did not receive acknowledgements for all status updates", "waited", ackTimeout)
			return 1
		case <-ctx.Done():
			e.log.Warn("cancelled; killing every task", "err", ctx.Err())
			return 1
		}
	}
}

// finished reports whether the executor is done, and its exit status.
func (e *engine) finished() (int, bool) {
	if e.abandoned {
		return 1, true
	}
	if e.active > 0 {
		if e.ackTimer != nil {
			e.ackTimer.Stop()
			e.ackTimer = nil
		}
		return 0, false
	}
	if !e.launched && !e.shuttingDown {
		return 0, false
	}
	if _, pending := e.client.Unacknowledged(); len(pending) > 0 {
		if e.clientGone {
			e.log.Error("exiting with status updates not acknowledged", "count", len(pending))
			return 1, true
		}
		if e.ackTimer == nil {
			e.ackTimer = time.NewTimer(ackTimeout)
		}
		return 0, false
	}
	return 0, true
}

func (e *engine) handle(ctx context.Context, ev *execpb.Event) {
	e.log.Info("received event", "type", ev.GetType().String())
	switch ev.GetType() {
	case execpb.Event_SUBSCRIBED:
		e.framework = ev.GetSubscribed().GetFrameworkInfo()
		if e.ackTimer != nil {
			// A re-subscription re-sends every unacknowledged update; the
			// agent gets the whole fail-safe period to acknowledge them.
			e.ackTimer.Reset(ackTimeout)
		}
	case execpb.Event_LAUNCH:
		if e.kind == KindDefault {
			e.log.Error("LAUNCH is not supported by the default executor")
			e.shutdown(ctx)
			return
		}
		if e.launched {
			e.update(ctx, ev.GetLaunch().GetTask().GetTaskId(), mesos.TaskState_TASK_FAILED, nil,
				`Attempted to run multiple tasks using a "command" executor`)
			return
		}
		e.launch(ctx, []*mesos.TaskInfo{ev.GetLaunch().GetTask()})
	case execpb.Event_LAUNCH_GROUP:
		if e.kind != KindDefault {
			e.log.Error("LAUNCH_GROUP is not supported by the " + e.kind + " executor")
			e.shutdown(ctx)
			return
		}
		e.launch(ctx, ev.GetLaunchGroup().GetTaskGroup().GetTasks())
	case execpb.Event_KILL:
		e.killTask(ctx, ev.GetKill().GetTaskId().GetValue(), ev.GetKill().GetKillPolicy())
	case execpb.Event_SHUTDOWN:
		e.shutdown(ctx)
	case execpb.Event_MESSAGE:
		e.log.Info("ignoring framework message", "bytes", len(ev.GetMessage().GetData()))
	case execpb.Event_ERROR:
		e.log.Error("error from the agent", "message", ev.GetError().GetMessage())
	case execpb.Event_ACKNOWLEDGED, execpb.Event_HEARTBEAT:
	default:
		e.log.Warn("ignoring unknown event")
	}
}

// launch starts a group of tasks: TASK_STARTING for each, then their
// processes, then TASK_RUNNING for those that started and TASK_FAILED for
// those that did not.
func (e *engine) launch(ctx context.Context, infos []*mesos.TaskInfo) {
	if e.shuttingDown {
		for _, ti := range infos {
			e.update(ctx, ti.GetTaskId(), mesos.TaskState_TASK_KILLED,
				mesos.TaskStatus_REASON_TASK_KILLED_DURING_LAUNCH.Enum(), "Executor is shutting down")
		}
		return
	}
	g := &group{}
	for _, ti := range infos {
		id := ti.GetTaskId().GetValue()
		if _, dup := e.tasks[id]; dup {
			e.log.Error("ignoring a task whose ID is already in use", "task_id", id)
			continue
		}
		t := &task{info: ti, group: g}
		g.tasks = append(g.tasks, t)
		e.tasks[id] = t
		e.order = append(e.order, t)
		e.active++
		e.launched = true
		e.update(ctx, ti.GetTaskId(), mesos.TaskState_TASK_STARTING, nil, "")
	}
	failed := map[*task]error{}
	for _, t := range g.tasks {
		if err := validateChecks(t.info); err != nil {
			e.log.Error("invalid task", "task_id", t.id(), "err", err)
			failed[t] = err
			continue
		}
		if err := e.start(ctx, t); err != nil {
			e.log.Error("failed to launch task", "task_id", t.id(), "err", err)
			failed[t] = err
		}
	}
	for _, t := range g.tasks {
		if t.proc != nil {
			e.update(ctx, t.info.GetTaskId(), mesos.TaskState_TASK_RUNNING, nil, "")
			e.startChecks(ctx, t)
		}
	}
	for _, t := range g.tasks {
		if err, ok := failed[t]; ok {
			e.finish(ctx, t, mesos.TaskState_TASK_FAILED,
				mesos.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED.Enum(), "Failed to launch task: "+err.Error())
		}
	}
}

// start starts a task's process (or container) and the goroutine that
// waits for it.
func (e *engine) start(ctx context.Context, t *task) error {
	id := t.id()
	if e.kind == KindDocker {
		return e.startContainer(ctx, t)
	}
	spec := procSpec{command: t.info.GetCommand(), stdout: e.stdout, stderr: e.stderr}
	if h := e.hosted; h != nil {
		spec.session, spec.start, spec.spawn = true, h.Start, h.Spawn
	}
	var extra []string
	if e.kind == KindCommand {
		t.sandbox = e.cfg.Sandbox
	} else {
		if id == "" || id == "." || id == ".." || strings.ContainsAny(id, "/\x00") {
			return fmt.Errorf("task ID %q cannot name a sandbox directory", id)
		}
		t.sandbox = filepath.Join(e.cfg.Sandbox, "tasks", id)
		if err := os.MkdirAll(t.sandbox, 0o755); err != nil {
			return err
		}
		stdout, err := os.OpenFile(filepath.Join(t.sandbox, "stdout"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer stdout.Close()
		stderr, err := os.OpenFile(filepath.Join(t.sandbox, "stderr"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer stderr.Close()
		spec.stdout, spec.stderr = stdout, stderr
		if err := e.fetch(ctx, t, stderr); err != nil {
			return err
		}
		extra = append(extra, "MESOS_CONTAINER_IP", e.containerIP())
	}
	extra = append(extra, "MESOS_TASK_ID", id, "MESOS_SANDBOX", t.sandbox)
	if role := allocationRole(t.info); role != "" {
		extra = append(extra, "MESOS_ALLOCATION_ROLE", role)
	}
	spec.dir = t.sandbox
	// The task's ports come first, so that its own environment may set
	// them otherwise.
	base := append(e.env[:len(e.env):len(e.env)], taskenv.PortsEnv(t.info.GetResources(), nil)...)
	spec.env = taskEnv(base, t.info.GetCommand(), extra...)
	t.env = spec.env

	if e.flushLog != nil {
		// What the executor logged so far goes before the task's output.
		e.flushLog()
	}
	p, err := startProcess(spec)
	if err != nil {
		return err
	}
	e.started(t, p)
	return nil
}

// started records a task's runner, and starts the goroutine that waits for
// it and the timer of its max_completion_time.
func (e *engine) started(t *task, r runner) {
	t.proc = r
	e.log.Info("started task", "task_id", t.id(), "process", r.id())
	if p, ok := r.(*process); ok && e.hosted != nil && e.hosted.Started != nil {
		e.hosted.Started(p.pid)
	}
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		res := r.wait()
		select {
		case e.exits <- exitNote{task: t, exitResult: res}:
		case <-e.done:
		}
	}()
	if d := time.Duration(t.info.GetMaxCompletionTime().GetNanoseconds()); d > 0 {
		t.maxTimer = e.after(d, timerNote{task: t, kind: timerMaxCompletion})
	}
}

// what names a task's process in its status messages, as Mesos's command
// and docker executors do.
func (e *engine) what() string {
	if e.kind == KindDocker {
		return "Container"
	}
	return "Command"
}

// containerIP is what the default executor gives tasks as
// MESOS_CONTAINER_IP: LIBPROCESS_IP when set, else the agent's IP, since
// tasks share the host's network.
func (e *engine) containerIP() string {
	if ip := lookupEnv(e.env, "LIBPROCESS_IP"); ip != "" {
		return ip
	}
	host, _, err := net.SplitHostPort(e.cfg.AgentEndpoint)
	if err != nil {
		return ""
	}
	return host
}

// exited turns a task process's end into its terminal update.
func (e *engine) exited(ctx context.Context, n exitNote) {
	t := n.task
	if t.terminal {
		return
	}
	if h := e.hosted; h != nil && h.Abandon != nil && n.ok && h.Abandon(n.ws) {
		e.log.Warn("the task's container is ending (over its memory limit); leaving the report to the agent", "task_id", t.id())
		e.abandoned = true
		return
	}
	state := mesos.TaskState_TASK_FAILED
	var reason *mesos.TaskStatus_Reason
	var message string
	ws := n.ws
	switch {
	case !n.ok:
		message = fmt.Sprintf("Failed to get exit status for %s: %v", e.what(), n.err)
	default:
		message = describeExit(e.what(), ws)
		switch {
		case t.maxCompletion:
			reason = mesos.TaskStatus_REASON_MAX_COMPLETION_TIME_REACHED.Enum()
		case t.killing:
			state = mesos.TaskState_TASK_KILLED
		case ws.Exited() && ws.ExitStatus() == 0:
			state = mesos.TaskState_TASK_FINISHED
		}
	}
	e.log.Info("task process ended", "task_id", t.id(), "process", t.proc.id(), "message", message)
	e.finish(ctx, t, state, reason, message)
}

// finish makes a task terminal and reports it. In the default executor a
// task that failed or was killed takes the rest of its group down with it.
func (e *engine) finish(ctx context.Context, t *task, state mesos.TaskState, reason *mesos.TaskStatus_Reason, message string) {
	t.terminal = true
	e.active--
	stopTimer(t.escalation)
	stopTimer(t.maxTimer)
	t.stopChecks()
	st := e.status(t.info.GetTaskId(), state, reason, message)
	if t.unhealthy {
		// As Mesos: the end of a task killed for its health says so.
		st.Healthy = proto.Bool(false)
	}
	e.send(ctx, st)

	if e.kind != KindDefault || e.shuttingDown || t.group.killing {
		return
	}
	if state != mesos.TaskState_TASK_FAILED && state != mesos.TaskState_TASK_KILLED {
		return
	}
	t.group.killing = true
	for _, s := range t.group.tasks {
		if s != t && !s.terminal && !s.killing {
			e.log.Info("killing the rest of the task group", "task_id", s.id(), "because_of", t.id())
			e.kill(ctx, s, gracePeriod(s, nil), true)
		}
	}
}

func (e *engine) killTask(ctx context.Context, id string, policy *mesos.KillPolicy) {
	t := e.tasks[id]
	if t == nil || t.terminal {
		e.log.Warn("ignoring kill for a task that is unknown or already terminal", "task_id", id)
		return
	}
	e.kill(ctx, t, gracePeriod(t, policy), true)
}

// gracePeriod is the KILL's kill policy, else the task's, else 3 s.
func gracePeriod(t *task, policy *mesos.KillPolicy) time.Duration {
	d := defaultKillGracePeriod
	if gp := policy.GetGracePeriod(); gp != nil {
		d = time.Duration(gp.GetNanoseconds())
	} else if gp := t.info.GetKillPolicy().GetGracePeriod(); gp != nil {
		d = time.Duration(gp.GetNanoseconds())
	}
	return max(d, 0)
}

// kill starts killing a task: TASK_KILLING (if announce and the framework
// understands it), SIGTERM to its process group, and SIGKILL after grace. A
// task already being killed only has its escalation brought forward when
// grace ends sooner than the one running.
func (e *engine) kill(ctx context.Context, t *task, grace time.Duration, announce bool) {
	if t.terminal || t.proc == nil {
		return
	}
	if t.killing {
		deadline := t.killStart.Add(grace)
		if !deadline.Before(t.killDeadline) {
			return
		}
		t.killDeadline = deadline
		e.log.Info("rescheduling escalation to SIGKILL", "task_id", t.id(), "in", time.Until(deadline))
		e.armEscalation(t, time.Until(deadline))
		return
	}
	t.killing = true
	stopTimer(t.maxTimer)
	t.stopChecks()
	if announce && !t.maxCompletion && e.hasCapability(mesos.FrameworkInfo_Capability_TASK_KILLING_STATE) {
		e.update(ctx, t.info.GetTaskId(), mesos.TaskState_TASK_KILLING, nil, "")
	}
	e.log.Info("terminating the task", "task_id", t.id(), "process", t.proc.id(), "grace_period", grace)
	if err := t.proc.terminate(grace); err != nil {
		e.log.Error("failed to send SIGTERM", "task_id", t.id(), "err", err)
	}
	t.killStart = time.Now()
	t.killDeadline = t.killStart.Add(grace)
	e.armEscalation(t, grace)
}

func (e *engine) armEscalation(t *task, d time.Duration) {
	stopTimer(t.escalation)
	t.timerGen++
	t.escalation = e.after(max(d, 0), timerNote{task: t, kind: timerEscalate, gen: t.timerGen})
}

func (e *engine) fired(ctx context.Context, n timerNote) {
	t := n.task
	if t.terminal {
		return
	}
	switch n.kind {
	case timerEscalate:
		if n.gen != t.timerGen {
			return
		}
		e.log.Info("task did not terminate within its grace period; killing it",
			"task_id", t.id(), "grace_period", t.killDeadline.Sub(t.killStart))
		if err := t.proc.kill(); err != nil {
			e.log.Error("failed to send SIGKILL", "task_id", t.id(), "err", err)
		}
	case timerMaxCompletion:
		if t.killing {
			return
		}
		e.log.Info("task exceeded its max_completion_time; killing it", "task_id", t.id())
		t.maxCompletion = true
		e.kill(ctx, t, 0, false)
	}
}

// shutdown kills every task with the shutdown grace period (less a buffer)
// and bounds the executor's remaining life by the shutdown grace period.
func (e *engine) shutdown(ctx context.Context) {
	if e.shuttingDown {
		return
	}
	e.shuttingDown = true
	grace := max(e.cfg.ShutdownGracePeriod-shutdownBuffer, 0)
	e.log.Info("shutting down", "kill_grace_period", grace)
	e.shutdownTimer = time.NewTimer(e.cfg.ShutdownGracePeriod)
	for _, t := range e.order {
		e.kill(ctx, t, grace, true)
	}
}

func (e *engine) hasCapability(c mesos.FrameworkInfo_Capability_Type) bool {
	for _, have := range e.framework.GetCapabilities() {
		if have.GetType() == c {
			return true
		}
	}
	return false
}

func (e *engine) update(ctx context.Context, id *mesos.TaskID, state mesos.TaskState, reason *mesos.TaskStatus_Reason, message string) {
	e.send(ctx, e.status(id, state, reason, message))
}

// status builds a task's status update afresh. A task with a check gets
// an empty check status of its type, as Mesos's executors give every such
// update; only health and check updates carry results.
func (e *engine) status(id *mesos.TaskID, state mesos.TaskState, reason *mesos.TaskStatus_Reason, message string) *mesos.TaskStatus {
	st := &mesos.TaskStatus{
		TaskId: proto.Clone(id).(*mesos.TaskID),
		State:  state.Enum(),
		Reason: reason,
	}
	if message != "" {
		st.Message = proto.String(message)
	}
	if t := e.tasks[id.GetValue()]; t != nil && t.info.GetCheck() != nil {
		st.CheckStatus = checks.EmptyStatus(t.info.GetCheck())
	}
	if t := e.tasks[id.GetValue()]; t != nil && len(t.networkInfos) > 0 {
		st.ContainerStatus = &mesos.ContainerStatus{}
		for _, ni := range t.networkInfos {
			st.ContainerStatus.NetworkInfos = append(st.ContainerStatus.NetworkInfos, proto.Clone(ni).(*mesos.NetworkInfo))
		}
	}
	return st
}

func (e *engine) send(ctx context.Context, st *mesos.TaskStatus) {
	id, state := st.GetTaskId().GetValue(), st.GetState()
	if t := e.tasks[id]; t != nil {
		t.last = st
	}
	args := []any{"task_id", id, "state", state.String(), "message", st.GetMessage()}
	if st.Healthy != nil {
		args = append(args, "healthy", st.GetHealthy())
	}
	if st.Reason != nil {
		args = append(args, "reason", st.GetReason().String())
	}
	e.log.Info("status update", args...)
	if err := e.client.Update(ctx, st); err != nil {
		e.log.Error("status update failed", "task_id", id, "state", state.String(), "err", err)
	}
}

// after delivers n to the loop after d.
func (e *engine) after(d time.Duration, n timerNote) *time.Timer {
	return time.AfterFunc(d, func() {
		select {
		case e.timers <- n:
		case <-e.done:
		}
	})
}

// cleanup kills what is left of every task's processes and stops the timers.
func (e *engine) cleanup() {
	for _, t := range e.order {
		stopTimer(t.escalation)
		stopTimer(t.maxTimer)
		t.stopChecks()
		if t.proc != nil {
			t.proc.destroy()
		}
	}
	stopTimer(e.shutdownTimer)
	stopTimer(e.ackTimer)
}

func stopTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}

// validateChecks checks a task's health check and check as Mesos's master
// would have.
func validateChecks(ti *mesos.TaskInfo) error {
	if hc := ti.GetHealthCheck(); hc != nil {
		if err := checkspec.ValidateHealthCheck(hc); err != nil {
			return fmt.Errorf("Task's health check is invalid: %w", err)
		}
	}
	if ci := ti.GetCheck(); ci != nil {
		if err := checkspec.ValidateCheck(ci); err != nil {
			return fmt.Errorf("Task's check is invalid: %w", err)
		}
	}
	return nil
}

// startChecks starts a running task's health check and check. Their
// results reach the loop as messages.
func (e *engine) startChecks(ctx context.Context, t *task) {
	target := checks.Target{Dir: t.sandbox, Env: t.env, Stderr: e.stderr}
	if h := e.hosted; h != nil {
		target.Start = h.Start
	}
	if hc := t.info.GetHealthCheck(); hc != nil {
		h, err := checks.StartHealthChecker(ctx, hc, target, nil, func(s checks.HealthStatus) {
			select {
			case e.health <- healthNote{task: t, status: s}:
			case <-e.done:
			}
		})
		if err != nil {
			e.log.Error("failed to start the health check", "task_id", t.id(), "err", err)
		} else {
			t.health = h
			e.track(h.Done())
			e.log.Info("health checking started", "task_id", t.id(), "type", hc.GetType().String())
		}
	}
	if ci := t.info.GetCheck(); ci != nil {
		c, err := checks.StartChecker(ctx, ci, target, func(s *mesos.CheckStatusInfo) {
			select {
			case e.checks <- checkNote{task: t, status: s}:
			case <-e.done:
			}
		})
		if err != nil {
			e.log.Error("failed to start the check", "task_id", t.id(), "err", err)
		} else {
			t.checker = c
			e.track(c.Done())
			e.log.Info("checking started", "task_id", t.id(), "type", ci.GetType().String())
		}
	}
}

// track makes run wait for a checker's goroutine.
func (e *engine) track(done <-chan struct{}) {
	e.wg.Add(1)
	go func() {
		defer e.wg.Done()
		<-done
	}()
}

func (t *task) stopChecks() {
	if t.health != nil {
		t.health.Stop()
	}
	if t.checker != nil {
		t.checker.Stop()
	}
}

// following is a copy of the task's latest update, as a new update with
// the given reason: Mesos's executors build health and check updates so,
// keeping the state and whatever else the latest one carried (its healthy
// and check_status among them).
func (t *task) following(reason mesos.TaskStatus_Reason) *mesos.TaskStatus {
	st := proto.Clone(t.last).(*mesos.TaskStatus)
	st.Uuid, st.Timestamp = nil, nil
	st.Reason = reason.Enum()
	return st
}

// healthUpdated reports a health check result: an update in the task's
// current state with healthy set and REASON_TASK_HEALTH_CHECK_STATUS_UPDATED,
// and a kill when the task failed too many checks.
func (e *engine) healthUpdated(ctx context.Context, n healthNote) {
	t := n.task
	if t.terminal || t.killing {
		return
	}
	if !n.status.Healthy {
		e.log.Warn("health check failed", "task_id", t.id(), "consecutive_failures", n.status.ConsecutiveFailures,
			"err", n.status.Message)
	}
	st := t.following(mesos.TaskStatus_REASON_TASK_HEALTH_CHECK_STATUS_UPDATED)
	st.Healthy = proto.Bool(n.status.Healthy)
	e.send(ctx, st)
	if n.status.KillTask {
		e.log.Warn("killing the task: it failed its health check too often", "task_id", t.id(),
			"consecutive_failures", n.status.ConsecutiveFailures)
		t.unhealthy = true
		e.kill(ctx, t, gracePeriod(t, nil), true)
	}
}

// checkUpdated reports a changed check result: an update in the task's
// current state with REASON_TASK_CHECK_STATUS_UPDATED.
func (e *engine) checkUpdated(ctx context.Context, n checkNote) {
	t := n.task
	if t.terminal || t.killing {
		return
	}
	st := t.following(mesos.TaskStatus_REASON_TASK_CHECK_STATUS_UPDATED)
	st.CheckStatus = n.status
	e.send(ctx, st)
}

// fetch puts the URIs of a task of a group into its sandbox, before it
// starts, as Mesos's agent does for each task of a group (each is a nested
// container with a sandbox of its own); the fetcher's progress goes to the
// task's stderr. The built-in executor has no cache: URIs marked cache: true
// are downloaded anew for each task. A fetch blocks the executor's loop
// (events wait) for at most the fetcher's stall timeout per stalled URI.
func (e *engine) fetch(ctx context.Context, t *task, progress io.Writer) error {
	uris := t.info.GetCommand().GetUris()
	if len(uris) == 0 {
		return nil
	}
	if e.fetcher == nil {
		f, err := fetcher.New(fetcher.Config{NoCache: true, Logger: e.log})
		if err != nil {
			return err
		}
		e.fetcher = f
	}
	root, err := os.OpenRoot(t.sandbox)
	if err != nil {
		return fmt.Errorf("opening the task's sandbox: %w", err)
	}
	defer root.Close()
	return e.fetcher.FetchInto(ctx, "", uris, root, progress)
}
