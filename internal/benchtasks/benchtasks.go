// Package benchtasks is `gomesos bench tasks`: it starts a local cluster (a
// master and one agent in this process, as `gomesos local` does), launches
// N long-running command tasks through one offer with the scheduler SDK,
// and compares how long they take to reach TASK_RUNNING with a bare
// fork/exec of N `sh -c 'sleep'` processes timed in the same run. It then
// tears the framework down and times until the last task process is gone.
//
// The last line it prints is the one an outside check reads:
//
//	tasks N running in <s>s (<r>/s); bare fork/exec <s>s; ratio <x>; <m> MiB per task; stop <s>s
package benchtasks

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/agent"
	"github.com/gomesos/gomesos/agent/containerizer"
	"github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/master"
	"github.com/gomesos/gomesos/master/core"
	"github.com/gomesos/gomesos/resources"
	"github.com/gomesos/gomesos/scheduler"
)

// Per-task resources: small enough that 1,000 fit a modest agent.
const (
	taskCPUs = 0.01
	taskMem  = 1 // MB
)

// ErrBadOptions is wrapped by the errors of options that cannot run;
// nothing was started.
var ErrBadOptions = errors.New("benchtasks: bad options")

// Options configure a run.
type Options struct {
	// Tasks is how many tasks to launch (and processes to fork). Required.
	Tasks int
	// WorkDir holds the agent's work directory; "" makes a temporary one,
	// removed at the end.
	WorkDir string
	// ExecutorBinary runs the containers' supervisors and the built-in
	// command executor; "" is this process's binary (agent.Config).
	ExecutorBinary string
	// Isolation is the agent's --isolation; "" is posix/cpu,posix/mem.
	// With cgroups isolators, the containers' cgroups are made below a
	// root of the run's own, removed at the end.
	Isolation string
	// Pprof serves /debug/pprof on the master and the agent, whose
	// addresses are printed, to profile the run.
	Pprof bool
	// LaunchProfile, when set, receives a CPU profile (pprof) of this
	// process (master, agent and framework) from the launch until every
	// task runs.
	LaunchProfile io.Writer
	// Latency, when positive, makes the run a latency one instead: it
	// launches Latency single tasks one after another, each through an
	// offer of its own and once the one before runs, and reports their
	// ACCEPT-to-TASK_RUNNING latencies (LatencyResult). Tasks is then
	// unused.
	Latency int
	// Timeout bounds each phase (launch, stop); default 10 minutes.
	Timeout time.Duration
	// Logger receives the cluster's logs; nil discards them.
	Logger *slog.Logger
}

// Result is what a run measured.
type Result struct {
	Tasks int
	// Launch is from the ACCEPT call until the last task is TASK_RUNNING.
	Launch time.Duration
	// Bare is how long forking and executing Tasks `sh -c 'sleep'` took.
	Bare time.Duration
	// MiBPerTask is the fall of the machine's MemAvailable from before
	// the launch to when every task runs, per task.
	MiBPerTask float64
	// Stop is from the framework's TEARDOWN until no task process is left.
	Stop time.Duration
	// ClusterStop is how long stopping the agent and the master took
	// afterwards.
	ClusterStop time.Duration
	// RunningP50 and RunningP99 are the ACCEPT-to-TASK_RUNNING latencies
	// of the tasks.
	RunningP50, RunningP99 time.Duration
	// LaunchCPU is the CPU time the launch took: this process's (master,
	// agent and framework), the executor host's (or supervisors') and the
	// tasks'. BareCPU is the bare fork/exec's: this process's and the
	// processes'. Unlike the wall times they hardly move with the load
	// of a shared machine.
	LaunchCPU, BareCPU time.Duration
}

// CPURatio is LaunchCPU over BareCPU.
func (r Result) CPURatio() float64 {
	if r.BareCPU <= 0 {
		return 0
	}
	return r.LaunchCPU.Seconds() / r.BareCPU.Seconds()
}

// Ratio is Launch over Bare.
func (r Result) Ratio() float64 {
	if r.Bare <= 0 {
		return 0
	}
	return r.Launch.Seconds() / r.Bare.Seconds()
}

// Line is the result line the benchmark ends with.
func (r Result) Line() string {
	rate := 0.0
	if r.Launch > 0 {
		rate = float64(r.Tasks) / r.Launch.Seconds()
	}
	return fmt.Sprintf("tasks %d running in %.3fs (%.1f/s); bare fork/exec %.3fs; ratio %.2f; %.2f MiB per task; stop %.3fs",
		r.Tasks, r.Launch.Seconds(), rate, r.Bare.Seconds(), r.Ratio(), r.MiBPerTask, r.Stop.Seconds())
}

// Run runs the benchmark, printing progress and then Result.Line as the
// last line to out. Whatever happens, every process it started is killed
// and reaped before it returns.
func Run(ctx context.Context, opts Options, out io.Writer) (res Result, err error) {
	if opts.Latency < 0 {
		return res, fmt.Errorf("%w: --latency must not be negative", ErrBadOptions)
	}
	if opts.Latency > 0 {
		_, err := RunLatency(ctx, opts, out)
		return res, err
	}
	if opts.Tasks < 1 {
		return res, fmt.Errorf("%w: --tasks must be at least 1", ErrBadOptions)
	}
	res.Tasks = opts.Tasks
	opts, log, iso, err := prepare(opts)
	if err != nil {
		return res, err
	}

	settleDisk()
	bare, bareCPU, err := bareForkExec(opts.Tasks)
	if err != nil {
		return res, err
	}
	res.Bare, res.BareCPU = bare, bareCPU
	fmt.Fprintf(out, "isolation %s; bare fork/exec of %d `sh -c 'sleep'`: %.3fs\n", isolationOr(opts.Isolation), opts.Tasks, bare.Seconds())

	workDir := opts.WorkDir
	if workDir == "" {
		dir, err := os.MkdirTemp("", "gomesos-bench-tasks")
		if err != nil {
			return res, fmt.Errorf("benchtasks: %w", err)
		}
		defer removeSettled(dir)
		workDir = dir
	}
	workDir, err = filepath.Abs(workDir)
	if err != nil {
		return res, fmt.Errorf("benchtasks: %w", err)
	}

	c, err := startCluster(ctx, opts, opts.Tasks, 0, iso, workDir, log)
	if err != nil {
		return res, err
	}
	defer func() {
		// However the run ended, no process of it is left.
		res.ClusterStop = c.stop()
		if left := processesUnder(workDir); len(left) > 0 && err == nil {
			err = fmt.Errorf("benchtasks: %d task processes left after the cluster stopped", len(left))
		}
	}()
	if opts.Pprof {
		fmt.Fprintf(out, "pprof: http://%s/debug/pprof/ (master), http://%s/debug/pprof/ (agent)\n", c.master.Addr(), c.agent.Addr())
	}

	fw, err := startFramework(ctx, c.master.Addr(), log)
	if err != nil {
		return res, err
	}
	defer fw.stop()

	offer, err := fw.nextOffer(ctx, opts.Timeout)
	if err != nil {
		return res, err
	}
	tasks, err := buildTasks(opts.Tasks, offer)
	if err != nil {
		return res, err
	}
	memBefore, err := memAvailable()
	if err != nil {
		return res, err
	}
	launchCtx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	if opts.LaunchProfile != nil {
		if err := pprof.StartCPUProfile(opts.LaunchProfile); err != nil {
			return res, fmt.Errorf("benchtasks: CPU profile: %w", err)
		}
	}
	cpuBefore := markCPU(nil)
	start := time.Now()
	fw.expect(opts.Tasks, start)
	if err := fw.client.Launch(launchCtx, []*mesos.OfferID{offer.GetId()}, tasks, nil); err != nil {
		return res, fmt.Errorf("benchtasks: launching: %w", err)
	}
	lat, err := fw.awaitRunning(launchCtx)
	if err != nil {
		if opts.LaunchProfile != nil {
			pprof.StopCPUProfile()
		}
		return res, err
	}
	res.Launch = time.Since(start)
	if opts.LaunchProfile != nil {
		pprof.StopCPUProfile()
	}
	cpuAfter := markCPU(processesUnder(workDir))
	res.LaunchCPU = cpuAfter.since(cpuBefore)
	cpuSelf, cpuChildren, cpuProcs := cpuAfter.parts(cpuBefore)
	memAfter, err := memAvailable()
	if err != nil {
		return res, err
	}
	res.MiBPerTask = float64(memBefore-memAfter) / float64(opts.Tasks) / (1 << 20)
	slices.Sort(lat)
	res.RunningP50, res.RunningP99 = percentile(lat, 0.50), percentile(lat, 0.99)
	fmt.Fprintf(out, "launch: %d tasks TASK_RUNNING in %.3fs; accept-to-running p50 %s p99 %s\n",
		opts.Tasks, res.Launch.Seconds(), res.RunningP50.Round(time.Millisecond), res.RunningP99.Round(time.Millisecond))
	fmt.Fprintf(out, "cpu: launch %.3fs (%.2fms per task: master, agent and framework %.2fms, executor host or supervisors %.2fms, tasks %.2fms); bare fork/exec %.3fs (%.2fms per process); cpu ratio %.2f; load %s\n",
		res.LaunchCPU.Seconds(), ms(res.LaunchCPU)/float64(opts.Tasks),
		ms(cpuSelf)/float64(opts.Tasks), ms(cpuChildren)/float64(opts.Tasks), ms(cpuProcs)/float64(opts.Tasks),
		res.BareCPU.Seconds(), ms(res.BareCPU)/float64(opts.Tasks), res.CPURatio(), loadAverage())

	// Stop: the framework's teardown until the last task process is gone.
	stopCtx, cancelStop := context.WithTimeout(ctx, opts.Timeout)
	defer cancelStop()
	start = time.Now()
	if err := fw.client.Teardown(stopCtx); err != nil {
		return res, fmt.Errorf("benchtasks: teardown: %w", err)
	}
	// The full scan of /proc (a readlink per process) is done at the
	// start and to confirm the end; in between only the processes it
	// found are looked at, so that the watching does not take the CPU
	// the teardown needs.
	left := processesUnder(workDir)
	for {
		if len(left) == 0 {
			if left = processesUnder(workDir); len(left) == 0 {
				break
			}
		}
		if stopCtx.Err() != nil {
			return res, fmt.Errorf("benchtasks: %d task processes still alive %s after the teardown", len(left), opts.Timeout)
		}
		time.Sleep(5 * time.Millisecond)
		left = slices.DeleteFunc(left, func(pid int) bool { return !stillUnder(pid, workDir) })
	}
	res.Stop = time.Since(start)
	fw.stop()
	res.ClusterStop = c.stop()
	fmt.Fprintf(out, "stop: every task process gone %.3fs after the teardown; the cluster stopped in %.3fs\n", res.Stop.Seconds(), res.ClusterStop.Seconds())
	fmt.Fprintln(out, res.Line())
	return res, nil
}

// settleDisk writes back whatever earlier work left dirty before a timed
// run, as benchmarks do, so that its writeback does not land in the run.
// On ext4 without a journal (this project's test machines) it matters
// more than that: a new inode is not taken from those freed in the last 30
// seconds, or 5 minutes while their inode table block is still dirty, and
// the allocator walks past each of them, so that after a deleted tree of
// thousands of entries a sandbox's six entries cost several times what
// they cost on a settled disk.
func settleDisk() { syscall.Sync() }

// removeSettled removes a run's work directory and then settles the disk,
// so that the next run does not pay for this one's deletions longer than
// the filesystem makes it.
func removeSettled(dir string) {
	_ = os.RemoveAll(dir)
	settleDisk()
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func isolationOr(s string) string {
	if s == "" {
		return containerizer.DefaultPosixIsolation
	}
	return s
}

func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// bareForkExec starts n `sh -c 'sleep 1000'` processes, each in a process
// group of its own, and times it, in wall and CPU time; then it kills and
// reaps them all.
func bareForkExec(n int) (took, cpu time.Duration, err error) {
	cmds := make([]*exec.Cmd, 0, n)
	defer func() {
		for _, c := range cmds {
			_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		}
		for _, c := range cmds {
			_ = c.Wait()
		}
	}()
	before := markCPU(nil)
	start := time.Now()
	for range n {
		c := exec.Command("sh", "-c", "sleep 1000")
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := c.Start(); err != nil {
			return 0, 0, fmt.Errorf("benchtasks: bare fork/exec: %w", err)
		}
		cmds = append(cmds, c)
	}
	took = time.Since(start)
	groups := make(map[int]bool, len(cmds))
	for _, c := range cmds {
		groups[c.Process.Pid] = true
	}
	return took, markCPU(inGroups(groups)).since(before), nil
}

// memAvailable reads MemAvailable from /proc/meminfo, in bytes.
func memAvailable() (int64, error) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, fmt.Errorf("benchtasks: %w", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		rest, ok := strings.CutPrefix(s.Text(), "MemAvailable:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, fmt.Errorf("benchtasks: /proc/meminfo: %w", err)
		}
		return kb << 10, nil
	}
	return 0, errors.New("benchtasks: /proc/meminfo has no MemAvailable")
}

// processesUnder lists the live processes whose working directory is dir
// or below it: the tasks, executors and supervisors of the agent whose
// work directory it is.
func processesUnder(dir string) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if stillUnder(pid, dir) {
			out = append(out, pid)
		}
	}
	return out
}

// stillUnder reports whether pid is a live (not zombie) process whose
// working directory lies in dir.
func stillUnder(pid int, dir string) bool {
	p := "/proc/" + strconv.Itoa(pid)
	cwd, err := os.Readlink(p + "/cwd")
	if err != nil || (cwd != dir && !strings.HasPrefix(cwd, dir+"/")) {
		return false
	}
	if stat, err := os.ReadFile(p + "/stat"); err == nil {
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && (stat[i+2] == 'Z' || stat[i+2] == 'X') {
			return false
		}
	}
	return true
}

// cluster is a master and one agent running in this process.
type cluster struct {
	master *master.Master
	agent  *agent.Agent
	once   sync.Once
	took   time.Duration
	cancel context.CancelFunc
	stopM  context.CancelFunc
	agentD chan error
	mastD  chan error
	// cgroupsRoot is where cgroups isolators made the containers'
	// cgroups.
	cgroupsRoot string
}

// isolation is the agent's isolators, and the cgroups root they use.
type isolation struct {
	isolators []containerizer.Isolator
	root      string
}

// prepare fills opts' defaults (a 10-minute timeout, a discarding
// logger) and resolves its isolation, for either kind of run.
func prepare(opts Options) (Options, *slog.Logger, isolation, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Minute
	}
	log := opts.Logger
	if log == nil {
		log = discard()
	}
	iso, err := resolveIsolation(opts, log)
	return opts, log, iso, err
}

func resolveIsolation(opts Options, log *slog.Logger) (isolation, error) {
	root := fmt.Sprintf("gomesos-bench-tasks-%d", os.Getpid())
	isolators, _, err := containerizer.IsolatorsFor(isolationOr(opts.Isolation), containerizer.CgroupsOptions{
		Root: root, PidsMax: containerizer.DefaultPidsMax, Logger: log,
	})
	if err != nil {
		return isolation{}, fmt.Errorf("%w: %w", ErrBadOptions, err)
	}
	return isolation{isolators, root}, nil
}

// startCluster starts a master (allocating every allocInterval; 0 is the
// default) and an agent with room for tasks tasks.
func startCluster(ctx context.Context, opts Options, tasks int, allocInterval time.Duration, iso isolation, workDir string, log *slog.Logger) (*cluster, error) {
	m, err := master.New(master.Config{
		IP: "127.0.0.1", Port: 0, Pprof: opts.Pprof,
		Options: core.Options{Logger: log.With("component", "master"), AllocationInterval: allocInterval},
	})
	if err != nil {
		return nil, fmt.Errorf("benchtasks: master: %w", err)
	}
	mctx, stopM := context.WithCancel(context.Background())
	c := &cluster{master: m, stopM: stopM, agentD: make(chan error, 1), mastD: make(chan error, 1)}
	go func() { c.mastD <- m.Run(mctx) }()
	c.cgroupsRoot = iso.root
	// The agent has room for every task, and a little more.
	res := fmt.Sprintf("cpus:%g;mem:%d;disk:1024", float64(tasks)*taskCPUs+1, tasks*taskMem+1024)
	a, err := agent.New(agent.Config{
		Master:                      m.Addr(),
		IP:                          "127.0.0.1",
		WorkDir:                     filepath.Join(workDir, "agent"),
		Resources:                   res,
		ExecutorBinary:              opts.ExecutorBinary,
		ExecutorRegistrationTimeout: opts.Timeout,
		ExecutorShutdownGracePeriod: agent.DefaultExecutorShutdownGracePeriod,
		RegistrationBackoffFactor:   agent.DefaultRegistrationBackoffFactor,
		Logger:                      log.With("component", "agent"),
		Pprof:                       opts.Pprof,
		Isolators:                   iso.isolators,
		Isolation:                   isolationOr(opts.Isolation),
		CgroupsRoot:                 iso.root,
	})
	if err != nil {
		stopM()
		<-c.mastD
		return nil, fmt.Errorf("benchtasks: agent: %w", err)
	}
	c.agent = a
	actx, cancel := context.WithCancel(ctx)
	c.cancel = cancel
	go func() { c.agentD <- a.Run(actx) }()
	return c, nil
}

// stop stops the agent (which kills its tasks) and then the master, once,
// and says how long that took.
func (c *cluster) stop() time.Duration {
	c.once.Do(func() {
		start := time.Now()
		c.cancel()
		<-c.agentD
		c.stopM()
		<-c.mastD
		c.took = time.Since(start)
		containerizer.RemoveCgroupsRoot(c.cgroupsRoot)
	})
	return c.took
}

// framework is the benchmark's scheduler: it keeps offers for the run and
// acknowledges every update from a few goroutines.
type framework struct {
	client *scheduler.Client
	cancel context.CancelFunc
	done   chan error
	offers chan *mesos.Offer
	acks   chan *mesos.TaskStatus
	ackWG  sync.WaitGroup
	once   sync.Once

	mu      sync.Mutex
	start   time.Time
	want    int
	running map[string]time.Duration
	// starting is when each task's first TASK_STARTING came.
	starting map[string]time.Duration
	failed   error
	allUp    chan struct{}
}

const ackers = 8

func startFramework(ctx context.Context, masterAddr string, log *slog.Logger) (*framework, error) {
	client, err := scheduler.New(scheduler.Config{
		Masters: []string{masterAddr},
		Framework: &mesos.FrameworkInfo{
			User: proto.String(currentUser()),
			Name: proto.String("gomesos-bench-tasks"),
		},
		// Protobuf, as Mesos's own scheduler library speaks it (the
		// scheduler client's default is JSON).
		Encoding: codec.Protobuf,
		Logger:   log.With("component", "scheduler"),
	})
	if err != nil {
		return nil, fmt.Errorf("benchtasks: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	fw := &framework{
		client: client, cancel: cancel, done: make(chan error, 1),
		offers: make(chan *mesos.Offer, 16), acks: make(chan *mesos.TaskStatus, 1024),
		running: map[string]time.Duration{}, starting: map[string]time.Duration{}, allUp: make(chan struct{}),
	}
	for range ackers {
		fw.ackWG.Add(1)
		go func() {
			defer fw.ackWG.Done()
			for st := range fw.acks {
				if err := client.Acknowledge(ctx, st); err != nil && ctx.Err() == nil {
					log.Warn("acknowledging an update", "task", st.GetTaskId().GetValue(), "err", err)
				}
			}
		}()
	}
	go func() { fw.done <- client.Run(ctx, fw.handle) }()
	return fw, nil
}

func currentUser() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return "root"
}

func (fw *framework) handle(ctx context.Context, ev *schedpb.Event) error {
	switch ev.GetType() {
	case schedpb.Event_OFFERS:
		for _, o := range ev.GetOffers().GetOffers() {
			select {
			case fw.offers <- o:
			default: // more offers than the run uses: the master rescinds them in time
			}
		}
	case schedpb.Event_UPDATE:
		st := ev.GetUpdate().GetStatus()
		fw.update(st)
		if len(st.GetUuid()) > 0 {
			select {
			case fw.acks <- st:
			case <-ctx.Done():
			}
		}
	}
	return nil
}

func (fw *framework) update(st *mesos.TaskStatus) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if fw.want == 0 {
		return
	}
	id := st.GetTaskId().GetValue()
	switch st.GetState() {
	case mesos.TaskState_TASK_STARTING:
		if _, ok := fw.starting[id]; !ok {
			fw.starting[id] = time.Since(fw.start)
		}
	case mesos.TaskState_TASK_STAGING:
	case mesos.TaskState_TASK_RUNNING:
		if _, ok := fw.running[id]; ok {
			return
		}
		fw.running[id] = time.Since(fw.start)
		if len(fw.running) == fw.want {
			close(fw.allUp)
		}
	default:
		if _, ok := fw.running[id]; !ok && fw.failed == nil {
			fw.failed = fmt.Errorf("benchtasks: task %s went %s before running: %s", id, st.GetState(), st.GetMessage())
			close(fw.allUp)
		}
	}
}

// expect starts waiting for n tasks launched at start to run; it forgets
// those of an earlier expect.
func (fw *framework) expect(n int, start time.Time) {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	fw.want, fw.start = n, start
	fw.running, fw.starting, fw.failed, fw.allUp = map[string]time.Duration{}, map[string]time.Duration{}, nil, make(chan struct{})
}

// startedWithin is the times from the launch to TASK_STARTING of the
// expected tasks that sent one.
func (fw *framework) startedWithin() []time.Duration {
	fw.mu.Lock()
	defer fw.mu.Unlock()
	out := make([]time.Duration, 0, len(fw.starting))
	for _, d := range fw.starting {
		out = append(out, d)
	}
	return out
}

// awaitRunning waits until every expected task runs and returns each one's
// time from the launch to TASK_RUNNING.
func (fw *framework) awaitRunning(ctx context.Context) ([]time.Duration, error) {
	fw.mu.Lock()
	allUp := fw.allUp
	fw.mu.Unlock()
	select {
	case <-allUp:
	case err := <-fw.done:
		return nil, fmt.Errorf("benchtasks: the framework's subscription ended: %w", err)
	case <-ctx.Done():
		fw.mu.Lock()
		n := len(fw.running)
		fw.mu.Unlock()
		return nil, fmt.Errorf("benchtasks: %d of %d tasks running: %w", n, fw.want, ctx.Err())
	}
	fw.mu.Lock()
	defer fw.mu.Unlock()
	if fw.failed != nil {
		return nil, fw.failed
	}
	lat := make([]time.Duration, 0, len(fw.running))
	for _, d := range fw.running {
		lat = append(lat, d)
	}
	return lat, nil
}

func (fw *framework) nextOffer(ctx context.Context, timeout time.Duration) (*mesos.Offer, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case o := <-fw.offers:
		return o, nil
	case err := <-fw.done:
		return nil, fmt.Errorf("benchtasks: the framework's subscription ended: %w", err)
	case <-t.C:
		return nil, fmt.Errorf("benchtasks: no offer in %s", timeout)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// stop ends the subscription and the acknowledgers, once.
func (fw *framework) stop() {
	fw.once.Do(func() {
		fw.cancel()
		<-fw.done
		close(fw.acks)
		fw.ackWG.Wait()
	})
}

// buildTasks makes n `sleep` command tasks that fit the offer.
func buildTasks(n int, offer *mesos.Offer) ([]*mesos.TaskInfo, error) {
	return buildTasksFrom(0, n, offer)
}

// buildTasksFrom makes n `sleep` command tasks numbered from first.
func buildTasksFrom(first, n int, offer *mesos.Offer) ([]*mesos.TaskInfo, error) {
	r, err := resources.Parse(fmt.Sprintf("cpus:%g;mem:%d", taskCPUs, taskMem))
	if err != nil {
		return nil, fmt.Errorf("benchtasks: %w", err)
	}
	res := resources.ToProto(r)
	tasks := make([]*mesos.TaskInfo, n)
	for i := range tasks {
		id := fmt.Sprintf("bench-%05d", first+i)
		tasks[i] = &mesos.TaskInfo{
			Name:      proto.String(id),
			TaskId:    &mesos.TaskID{Value: proto.String(id)},
			AgentId:   offer.GetAgentId(),
			Resources: res,
			Command:   &mesos.CommandInfo{Value: proto.String("sleep 1000")},
		}
	}
	return tasks, nil
}
