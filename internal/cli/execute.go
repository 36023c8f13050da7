package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"os/user"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/resources"
	"github.com/gomesos/gomesos/scheduler"
)

// Execute's defaults and constants.
const (
	// DefaultResources is each task's resources unless told otherwise.
	DefaultResources = "cpus:0.1;mem:32"
	// ExecuteFrameworkName names Execute's framework, after mesos-execute's
	// "mesos-execute instance".
	ExecuteFrameworkName = "gomesos-execute instance"
	// ExitInterrupted is Execute's exit code when ctx is cancelled
	// (128 + SIGINT, as a shell reports Ctrl-C).
	ExitInterrupted = 130

	// Offers are declined for a short while when tasks still wait for room
	// (Mesos's default filter), and for long once every task is launched.
	refuseWhilePending = 5 * time.Second
	refuseWhenDone     = time.Hour
	callTimeout        = 30 * time.Second

	// On an interrupt the live tasks' KILLs go out interruptKills at a
	// time, and their terminal updates are waited for (and printed) for
	// up to interruptWait before the framework is torn down.
	interruptKills = 32
	interruptWait  = 10 * time.Second

	// After a re-subscription (the leading master failed over, or the
	// stream broke) the tasks launched and not terminal are reconciled,
	// as Mesos asks of every framework, and reconciled again after
	// reconcileRetryMin, doubling up to reconcileRetryMax, until each has
	// had an update.
	reconcileRetryMin = 2 * time.Second
	reconcileRetryMax = time.Minute
)

// ExecuteOptions configures Execute. Start from DefaultExecuteOptions: the
// zero value has Shell false.
type ExecuteOptions struct {
	Master    string            // master "host:port" or URL, or several, comma-separated (required)
	Name      string            // task name and id (required)
	Command   string            // the command to run (required)
	Resources string            // each task's resources, Mesos --resources syntax; "" means DefaultResources
	Count     int               // number of tasks, ids "<name>-1".."<name>-<count>" when more than one; 0 means 1
	Role      string            // the framework's role; "" means "*"
	User      string            // the user to run as; "" means the current user
	Shell     bool              // run Command with /bin/sh -c; otherwise split it on white space into argv
	KillAfter time.Duration     // kill each task this long after it is TASK_RUNNING; 0 means never
	Env       map[string]string // environment variables for the command
	Encoding  codec.Encoding    // scheduler API encoding (JSON by default)
	// DockerImage runs the command in a Docker container of this image,
	// through the agent's Docker containerizer (mesos-execute's
	// --docker_image with --containerizer=docker).
	DockerImage string
	// Progress, when set (a terminal), gets a progress bar of the tasks
	// redrawn in place, instead of the per-task lines on stdout.
	Progress io.Writer
}

// DefaultExecuteOptions returns the defaults: DefaultResources, one task,
// role "*", shell on.
func DefaultExecuteOptions() ExecuteOptions {
	return ExecuteOptions{Resources: DefaultResources, Count: 1, Role: "*", Shell: true}
}

// Execute runs Command as Count Mesos tasks, like mesos-execute. It
// subscribes a framework named ExecuteFrameworkName, launches the tasks on
// offers that hold their resources (several per offer when they fit),
// declines the other offers, prints what happens on stdout in mesos-execute's
// words ("Subscribed with ID ...", "Submitted task ...", "Received status
// update ..."), acknowledges every update that carries a uuid, and tears the
// framework down once every task is terminal.
//
// The exit code is 0 when every task finished; otherwise, for the first task
// that did not, the command's exit status taken from a TASK_FAILED message
// "Command exited with status N" (or "Container ..." for a Docker task), or 1 (killed, lost, error, a signal, ...).
// When ctx is cancelled Execute kills the tasks, tears the framework down and
// returns ExitInterrupted with an error wrapping ctx's cause. Errors that stop
// Execute early (bad options, the master refusing the framework) come back
// with exit code 1; Execute does not print them. Warnings go to stderr.
func Execute(ctx context.Context, opts ExecuteOptions, stdout, stderr io.Writer) (exitCode int, err error) {
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	stderr = &lockedWriter{w: stderr}
	if err := opts.normalize(); err != nil {
		return 1, err
	}
	need, err := resources.Parse(opts.Resources)
	if err != nil {
		return 1, fmt.Errorf("task resources: %w", err)
	}
	if need.IsEmpty() {
		return 1, fmt.Errorf("task resources %q are empty", opts.Resources)
	}
	hostname, _ := os.Hostname()
	fw := &mesos.FrameworkInfo{
		User:     proto.String(opts.User),
		Name:     proto.String(ExecuteFrameworkName),
		Role:     proto.String(opts.Role),
		Hostname: proto.String(hostname),
		Capabilities: []*mesos.FrameworkInfo_Capability{
			{Type: mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT.Enum()},
			{Type: mesos.FrameworkInfo_Capability_TASK_KILLING_STATE.Enum()},
			{Type: mesos.FrameworkInfo_Capability_PARTITION_AWARE.Enum()},
		},
	}
	client, err := scheduler.New(scheduler.Config{
		Masters:   splitMasters(opts.Master),
		Framework: fw,
		Encoding:  opts.Encoding,
		Logger:    slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return 1, err
	}
	var bar *progressBar
	if opts.Progress != nil {
		bar = &progressBar{w: opts.Progress, total: opts.Count}
		bar.draw(0, 0, 0)
		defer bar.finish()
		stdout = io.Discard
	}
	e := newExecution(opts, need, client, stdout, stderr)
	e.bar = bar

	// Run outlives ctx so that the interrupt can still kill and tear down
	// over the live subscription; the interrupt ends it.
	runCtx, cancelRun := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelRun()
	interrupted := make(chan struct{})
	stopWatching := context.AfterFunc(ctx, func() {
		defer close(interrupted)
		e.interrupt(runCtx)
		cancelRun()
	})
	err = client.Run(runCtx, e.handle)
	if !stopWatching() {
		<-interrupted
	}
	cancelRun()
	e.stopTimers()

	if errors.Is(err, errFinished) {
		err = nil
	}
	if e.interrupted() {
		return ExitInterrupted, fmt.Errorf("interrupted: %w", context.Cause(ctx))
	}
	if e.finished() {
		return e.exitCode(), nil
	}
	if err == nil {
		err = errors.New("the framework was torn down before its tasks ended")
	}
	return 1, err
}

func (o *ExecuteOptions) normalize() error {
	if len(splitMasters(o.Master)) == 0 {
		return errors.New("no master given")
	}
	if o.Name == "" {
		return errors.New("no task name given")
	}
	if strings.TrimSpace(o.Command) == "" {
		return errors.New("no command given")
	}
	if o.Resources == "" {
		o.Resources = DefaultResources
	}
	if o.Count == 0 {
		o.Count = 1
	}
	if o.Count < 0 {
		return fmt.Errorf("task count %d is negative", o.Count)
	}
	if o.Role == "" {
		o.Role = "*"
	}
	if err := resources.ValidateRole(o.Role); err != nil {
		return fmt.Errorf("role %q: %w", o.Role, err)
	}
	if o.User == "" {
		if u, err := user.Current(); err == nil {
			o.User = u.Username
		} else if name := os.Getenv("USER"); name != "" {
			o.User = name
		} else {
			return fmt.Errorf("cannot tell the current user (%v); give one", err)
		}
	}
	return nil
}

// splitMasters splits a comma-separated list of masters.
func splitMasters(s string) []string {
	var out []string
	for m := range strings.SplitSeq(s, ",") {
		if m = strings.TrimSpace(m); m != "" {
			out = append(out, m)
		}
	}
	return out
}

// errFinished ends Run once every task is terminal, when TEARDOWN failed.
var errFinished = errors.New("all tasks are terminal")

// execution is Execute's state. The handler runs on Run's goroutine; the
// interrupt and the kill-after timers run on their own, so the task table is
// guarded by mu.
type execution struct {
	opts      ExecuteOptions
	need      resources.Resources
	client    *scheduler.Client
	stdout    io.Writer
	stderr    io.Writer
	command   *mesos.CommandInfo
	container *mesos.ContainerInfo // nil unless DockerImage is set

	timers sync.WaitGroup

	mu             sync.Mutex
	tasks          []*execTask // in id order
	byID           map[string]*execTask
	stopping       bool            // interrupted: launch nothing more
	done           bool            // every task is terminal
	subscriptions  int             // SUBSCRIBED events so far
	timersStopped  bool            // no timer may start any more
	reconciling    map[string]bool // tasks without news since reconciliation began
	reconcileTimer *time.Timer
	reconcileGen   uint64 // of the timer armed last
	reconcileDelay time.Duration
	bar            *progressBar // nil: no progress bar
	// changed is signalled (without blocking) after every status update.
	changed chan struct{}
}

type execTask struct {
	id        string
	agent     *mesos.AgentID // set once launched
	status    *mesos.TaskStatus
	terminal  bool
	killTimer *time.Timer
}

func newExecution(opts ExecuteOptions, need resources.Resources, client *scheduler.Client, stdout, stderr io.Writer) *execution {
	e := &execution{opts: opts, need: need, client: client, stdout: stdout, stderr: stderr,
		byID: map[string]*execTask{}, reconciling: map[string]bool{}, changed: make(chan struct{}, 1)}
	for i := range opts.Count {
		id := opts.Name
		if opts.Count > 1 {
			id = fmt.Sprintf("%s-%d", opts.Name, i+1)
		}
		t := &execTask{id: id}
		e.tasks = append(e.tasks, t)
		e.byID[id] = t
	}
	e.command = &mesos.CommandInfo{Shell: proto.Bool(opts.Shell)}
	if opts.Shell {
		e.command.Value = proto.String(opts.Command)
	} else {
		argv := strings.Fields(opts.Command)
		e.command.Value = proto.String(argv[0])
		e.command.Arguments = argv
		if opts.DockerImage != "" {
			// Docker runs value then the arguments.
			e.command.Arguments = argv[1:]
		}
	}
	if opts.DockerImage != "" {
		e.container = &mesos.ContainerInfo{
			Type:   mesos.ContainerInfo_DOCKER.Enum(),
			Docker: &mesos.ContainerInfo_DockerInfo{Image: proto.String(opts.DockerImage)},
		}
	}
	if len(opts.Env) > 0 {
		env := &mesos.Environment{}
		for _, name := range slices.Sorted(maps.Keys(opts.Env)) {
			env.Variables = append(env.Variables, &mesos.Environment_Variable{
				Name:  proto.String(name),
				Type:  mesos.Environment_Variable_VALUE.Enum(),
				Value: proto.String(opts.Env[name]),
			})
		}
		e.command.Environment = env
	}
	return e
}

func (e *execution) handle(ctx context.Context, ev *schedpb.Event) error {
	switch ev.GetType() {
	case schedpb.Event_SUBSCRIBED:
		fmt.Fprintf(e.stdout, "Subscribed with ID %s\n", ev.GetSubscribed().GetFrameworkId().GetValue())
		e.mu.Lock()
		e.subscriptions++
		again := e.subscriptions > 1
		e.mu.Unlock()
		if again {
			// A new master (or the same one, after the stream broke)
			// may know nothing of updates sent meanwhile: ask it.
			e.reconcile(ctx, nil)
		}
	case schedpb.Event_OFFERS:
		return e.offers(ctx, ev.GetOffers().GetOffers())
	case schedpb.Event_UPDATE:
		return e.update(ctx, ev.GetUpdate().GetStatus())
	}
	return nil
}

// offers launches pending tasks on the offers that hold their resources and
// declines the rest.
func (e *execution) offers(ctx context.Context, offers []*mesos.Offer) error {
	var declineShort, declineLong []*mesos.OfferID
	for _, offer := range offers {
		launch := e.fit(offer)
		if len(launch) == 0 {
			if e.pending() > 0 {
				declineShort = append(declineShort, offer.GetId())
			} else {
				declineLong = append(declineLong, offer.GetId())
			}
			continue
		}
		var filters *mesos.Filters // Mesos's default 5s for what is left
		if e.pending() == 0 {
			filters = scheduler.RefuseFor(refuseWhenDone)
		}
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := e.client.Launch(cctx, []*mesos.OfferID{offer.GetId()}, launch, filters)
		cancel()
		var herr *scheduler.HTTPError
		if err != nil && errors.As(err, &herr) && herr.StatusCode >= 400 && herr.StatusCode < 500 {
			return fmt.Errorf("launching tasks on agent %s: %w", offer.GetAgentId().GetValue(), err)
		}
		if err != nil {
			// The master may have gone (a failover) after or before it
			// took the launch: the tasks stay launched, and
			// reconciliation tells what became of them.
			fmt.Fprintf(e.stderr, "Launching tasks on agent %s may have failed: %v; reconciling them\n", offer.GetAgentId().GetValue(), err)
			e.reconcile(ctx, launch)
			continue
		}
		for _, task := range launch {
			fmt.Fprintf(e.stdout, "Submitted task '%s' to agent '%s'\n", task.GetName(), offer.GetAgentId().GetValue())
		}
	}
	for _, d := range []struct {
		ids    []*mesos.OfferID
		refuse time.Duration
	}{{declineShort, refuseWhilePending}, {declineLong, refuseWhenDone}} {
		if len(d.ids) == 0 {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		err := e.client.Decline(cctx, d.ids, d.refuse)
		cancel()
		if err != nil {
			fmt.Fprintf(e.stderr, "Failed to decline offers: %v\n", err)
		}
	}
	return nil
}

// pending counts the tasks not launched yet (none once interrupted).
func (e *execution) pending() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopping {
		return 0
	}
	n := 0
	for _, t := range e.tasks {
		if t.agent == nil {
			n++
		}
	}
	return n
}

// fit builds TaskInfos for as many pending tasks as the offer holds and
// marks them launched on its agent.
func (e *execution) fit(offer *mesos.Offer) []*mesos.TaskInfo {
	if e.pending() == 0 {
		return nil
	}
	offered, err := resources.FromProto(offer.GetResources())
	if err != nil {
		fmt.Fprintf(e.stderr, "Ignoring offer %s: %v\n", offer.GetId().GetValue(), err)
		return nil
	}
	role := e.opts.Role
	if r := offer.GetAllocationInfo().GetRole(); r != "" {
		role = r
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []*mesos.TaskInfo
	for _, t := range e.tasks {
		if t.agent != nil {
			continue
		}
		picked, ok := take(offered, e.need, role)
		if !ok {
			break
		}
		// Written as the framework asked to be offered them
		// (RESERVATION_REFINEMENT); that format holds any reservation.
		res, err := resources.ToProtoFormat(picked, resources.PostRefinementFormat)
		if err != nil {
			fmt.Fprintf(e.stderr, "Ignoring offer %s: %v\n", offer.GetId().GetValue(), err)
			break
		}
		offered = offered.Subtract(picked)
		t.agent = offer.GetAgentId()
		out = append(out, &mesos.TaskInfo{
			Name:      proto.String(t.id),
			TaskId:    &mesos.TaskID{Value: proto.String(t.id)},
			AgentId:   offer.GetAgentId(),
			Resources: res,
			Command:   e.command,
			Container: e.container,
		})
	}
	return out
}

// take picks resources out of offered that satisfy need (unreserved,
// unallocated resources as parsed from the command line): from resources
// reserved for role first, then unreserved ones. Revocable, shared, disk-info
// and resource-provider resources are never picked. The picked resources keep
// the offer's reservation and allocation, as an ACCEPT needs them.
func take(offered, need resources.Resources, role string) (resources.Resources, bool) {
	var picked resources.Resources
	for i := range need {
		n := &need[i]
		var cands []*resources.Resource
		for j := range offered {
			c := &offered[j]
			if c.Name == n.Name && c.Type == n.Type && !c.Revocable && !c.Shared && c.Disk == nil &&
				c.ProviderID == "" && c.IsAllocatableTo(role) {
				cands = append(cands, c)
			}
		}
		slices.SortStableFunc(cands, func(a, b *resources.Resource) int {
			switch {
			case a.IsReserved() && !b.IsReserved():
				return -1
			case !a.IsReserved() && b.IsReserved():
				return 1
			}
			return 0
		})
		switch n.Type {
		case resources.TypeScalar:
			left := n.Scalar
			for _, c := range cands {
				if left <= 0 {
					break
				}
				p := c.Clone()
				p.Scalar = min(left, c.Scalar)
				left -= p.Scalar
				picked = picked.AddResource(p)
			}
			if left > 0 {
				return nil, false
			}
		case resources.TypeRanges:
			left := n.Ranges
			for _, c := range cands {
				got := c.Ranges.Intersect(left)
				if got.IsEmpty() {
					continue
				}
				p := c.Clone()
				p.Ranges = got
				left = left.Difference(got)
				picked = picked.AddResource(p)
			}
			if !left.IsEmpty() {
				return nil, false
			}
		case resources.TypeSet:
			left := n.Set
			for _, c := range cands {
				got := c.Set.Difference(c.Set.Difference(left))
				if got.IsEmpty() {
					continue
				}
				p := c.Clone()
				p.Set = got
				left = left.Difference(got)
				picked = picked.AddResource(p)
			}
			if !left.IsEmpty() {
				return nil, false
			}
		default:
			return nil, false
		}
	}
	if !offered.Contains(picked) {
		return nil, false
	}
	return picked, true
}

// update prints a status update as mesos-execute does, acknowledges it, and
// tears the framework down once every task is terminal.
func (e *execution) update(ctx context.Context, st *mesos.TaskStatus) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Received status update %s for task '%s'\n", st.GetState(), st.GetTaskId().GetValue())
	if st.Message != nil {
		fmt.Fprintf(&b, "  message: '%s'\n", st.GetMessage())
	}
	if st.Source != nil {
		fmt.Fprintf(&b, "  source: %s\n", st.GetSource())
	}
	if st.Reason != nil {
		fmt.Fprintf(&b, "  reason: %s\n", st.GetReason())
	}
	if st.Healthy != nil {
		fmt.Fprintf(&b, "  healthy?: %t\n", st.GetHealthy())
	}
	io.WriteString(e.stdout, b.String())

	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if err := e.client.Acknowledge(cctx, st); err != nil {
		fmt.Fprintf(e.stderr, "Failed to acknowledge status update %s for task '%s': %v\n",
			st.GetState(), st.GetTaskId().GetValue(), err)
	}

	e.mu.Lock()
	delete(e.reconciling, st.GetTaskId().GetValue())
	t := e.byID[st.GetTaskId().GetValue()]
	if t != nil && !t.terminal {
		t.status = st
		t.terminal = st.GetState().IsTerminal()
		if t.agent == nil {
			t.agent = st.GetAgentId()
		}
		if st.GetState() == mesos.TaskState_TASK_RUNNING && e.opts.KillAfter > 0 && t.killTimer == nil && !e.stopping {
			e.startKillTimer(ctx, t)
		}
	}
	all := true
	running, finished, failed := 0, 0, 0
	for _, t := range e.tasks {
		all = all && t.terminal
		switch {
		case t.status.GetState() == mesos.TaskState_TASK_FINISHED:
			finished++
		case t.terminal:
			failed++
		case t.status.GetState() == mesos.TaskState_TASK_RUNNING:
			running++
		}
	}
	e.done = all
	stopping := e.stopping
	e.mu.Unlock()
	select {
	case e.changed <- struct{}{}:
	default:
	}
	if e.bar != nil {
		e.bar.draw(running, finished, failed)
	}
	if !all || stopping {
		return nil // an interrupt tears the framework down itself
	}
	if err := e.client.Teardown(cctx); err != nil {
		fmt.Fprintf(e.stderr, "Failed to tear down the framework: %v\n", err)
		return errFinished
	}
	return nil
}

// startKillTimer arranges for t to be killed KillAfter from now. Callers
// hold e.mu.
func (e *execution) startKillTimer(ctx context.Context, t *execTask) {
	taskID := &mesos.TaskID{Value: proto.String(t.id)}
	agent := t.agent
	e.timers.Add(1)
	t.killTimer = time.AfterFunc(e.opts.KillAfter, func() {
		defer e.timers.Done()
		cctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		if err := e.client.Kill(cctx, taskID, agent); err != nil {
			fmt.Fprintf(e.stderr, "Failed to kill task '%s': %v\n", taskID.GetValue(), err)
		}
	})
}

// stopTimers stops the kill-after and reconciliation timers and waits for
// any that fired.
func (e *execution) stopTimers() {
	e.mu.Lock()
	e.timersStopped = true
	for _, t := range e.tasks {
		if t.killTimer != nil && t.killTimer.Stop() {
			e.timers.Done()
		}
	}
	if e.reconcileTimer != nil && e.reconcileTimer.Stop() {
		e.timers.Done()
	}
	e.mu.Unlock()
	e.timers.Wait()
}

// reconcile starts explicit reconciliation of the given tasks (nil: every
// task launched and not terminal): RECONCILE at once, then again with
// backoff for those that have had no update since. The master answers
// with each task's latest state, TASK_LOST, TASK_DROPPED or TASK_UNKNOWN
// for tasks it does not know, or nothing yet for tasks of an agent that
// has not re-registered with it.
func (e *execution) reconcile(ctx context.Context, tasks []*mesos.TaskInfo) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if tasks == nil {
		for _, t := range e.tasks {
			if t.agent != nil && !t.terminal {
				e.reconciling[t.id] = true
			}
		}
	}
	for _, t := range tasks {
		e.reconciling[t.GetTaskId().GetValue()] = true
	}
	e.reconcileDelay = reconcileRetryMin
	e.armReconcile(ctx, 0)
}

// armReconcile sends RECONCILE after d, replacing a pending one. Callers
// hold e.mu.
func (e *execution) armReconcile(ctx context.Context, d time.Duration) {
	if len(e.reconciling) == 0 || e.timersStopped {
		return
	}
	if e.reconcileTimer != nil && e.reconcileTimer.Stop() {
		e.timers.Done()
	}
	e.timers.Add(1)
	e.reconcileGen++
	gen := e.reconcileGen
	e.reconcileTimer = time.AfterFunc(d, func() {
		defer e.timers.Done()
		e.sendReconcile(ctx, gen)
	})
}

// sendReconcile asks for the tasks still without news and arms the next
// try, unless a newer reconciliation armed one meanwhile.
func (e *execution) sendReconcile(ctx context.Context, gen uint64) {
	e.mu.Lock()
	var tasks []*schedpb.Call_Reconcile_Task
	for _, t := range e.tasks {
		if !e.reconciling[t.id] {
			continue
		}
		if t.terminal {
			delete(e.reconciling, t.id)
			continue
		}
		tasks = append(tasks, &schedpb.Call_Reconcile_Task{TaskId: &mesos.TaskID{Value: proto.String(t.id)}, AgentId: t.agent})
	}
	e.mu.Unlock()
	if len(tasks) == 0 {
		return
	}
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	err := e.client.Reconcile(cctx, tasks)
	cancel()
	if err != nil && !errors.Is(err, scheduler.ErrNotSubscribed) && ctx.Err() == nil {
		fmt.Fprintf(e.stderr, "Failed to reconcile tasks: %v\n", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.reconcileGen != gen {
		return
	}
	d := e.reconcileDelay
	e.reconcileDelay = min(2*d, reconcileRetryMax)
	e.armReconcile(ctx, d)
}

// interrupt kills the live tasks and tears the framework down. The KILLs
// go out together (interruptKills in flight), not one round trip after
// another; each task's TASK_KILLED is printed as it comes, and the
// framework is torn down once every killed task has ended, or after
// interruptWait.
func (e *execution) interrupt(ctx context.Context) {
	e.mu.Lock()
	if e.done {
		e.mu.Unlock()
		return
	}
	e.stopping = true
	var live []*execTask
	for _, t := range e.tasks {
		if t.agent != nil && !t.terminal {
			live = append(live, &execTask{id: t.id, agent: t.agent})
		}
	}
	e.mu.Unlock()

	fmt.Fprintln(e.stderr, "Interrupted: killing the tasks and tearing down the framework")
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	var (
		wg     sync.WaitGroup
		slots  = make(chan struct{}, interruptKills)
		killMu sync.Mutex
		killed []string
	)
	for _, t := range live {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			if err := e.client.Kill(cctx, &mesos.TaskID{Value: proto.String(t.id)}, t.agent); err != nil {
				fmt.Fprintf(e.stderr, "Failed to kill task '%s': %v\n", t.id, err)
				return
			}
			killMu.Lock()
			killed = append(killed, t.id)
			killMu.Unlock()
		})
	}
	wg.Wait()
	e.awaitTerminal(ctx, killed, interruptWait)
	if err := e.client.Teardown(cctx); err != nil && !errors.Is(err, scheduler.ErrNotSubscribed) {
		fmt.Fprintf(e.stderr, "Failed to tear down the framework: %v\n", err)
	}
}

// awaitTerminal waits until each of the tasks has had a terminal update,
// for at most wait.
func (e *execution) awaitTerminal(ctx context.Context, ids []string, wait time.Duration) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		e.mu.Lock()
		ended := true
		for _, id := range ids {
			if t := e.byID[id]; t != nil && !t.terminal {
				ended = false
				break
			}
		}
		e.mu.Unlock()
		if ended {
			return
		}
		select {
		case <-e.changed:
		case <-timer.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// interrupted reports whether the interrupt stopped tasks that were not all
// terminal yet.
func (e *execution) interrupted() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.stopping
}

func (e *execution) finished() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.done
}

var exitStatusRE = regexp.MustCompile(`(?:Command|Container) exited with status (\d+)`)

// exitCode is 0 when every task finished, else the first other task's
// command exit status, or 1.
func (e *execution) exitCode() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, t := range e.tasks {
		if t.status.GetState() == mesos.TaskState_TASK_FINISHED {
			continue
		}
		if t.status.GetState() == mesos.TaskState_TASK_FAILED {
			if m := exitStatusRE.FindStringSubmatch(t.status.GetMessage()); m != nil {
				if n, err := strconv.Atoi(m[1]); err == nil && n > 0 && n < 256 {
					return n
				}
			}
		}
		return 1
	}
	return 0
}

// lockedWriter serializes writes from the handler, the interrupt, the
// timers and the logger.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
