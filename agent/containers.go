package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gomesos/gomesos/agent/containerizer"
	"github.com/gomesos/gomesos/agent/core"
	"github.com/gomesos/gomesos/agent/fetcher"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// containerWorkers is how many container operations run at once: each
// launch creates a sandbox and forks and execs, and a thousand at once
// would only queue up in the kernel.
const containerWorkers = 8

// containerOps carries the core's Launch, Destroy and UpdateContainer
// outputs out off the loop, which only queues them: creating sandboxes,
// fork and exec, isolator hooks and kills (which scan every process) all
// run on a small pool of workers. The results come back to the loop as
// inputs: ContainerLaunched from here, ContainerExited through the
// containerizer's OnExit.
//
// One container's operations run one at a time, in the order the core
// asked for them, so that a Destroy never overtakes its Launch; different
// containers' run concurrently. Each container has at most three operations
// waiting (its launch, its latest resources, its destroy: a newer update
// replaces a waiting one), so the work waiting is bounded by the containers
// the core knows.
//
// The pool is fixed (no goroutine per container) and its one lock is
// shared by the loop and the workers only: when thousands of goroutines
// are runnable, a lock they all want is handed from one to the next at the
// pace of the scheduler, and the loop must not wait in that line.
type containerOps struct {
	cont containerizer.Containerizer
	// containerizers is --containerizers: a docker executor's launch
	// fails unless it names docker.
	containerizers []string
	fetch          *fetcher.Fetcher // puts the executor's URIs into its sandbox
	ctx            context.Context  // cancelled by close: fetches under way stop
	cancel         context.CancelFunc
	workDir        string
	// bindVolumes binds persistent volumes in the container's own mount
	// namespace (the filesystem/linux isolator is on) rather than linking
	// them into the sandbox (volumes.go).
	bindVolumes bool
	log         *slog.Logger
	deliver     func(core.Input) bool
	// unschedule, when set, takes a launch's directories back from
	// garbage collection before the sandbox is made.
	unschedule func(dir string)

	mu      sync.Mutex
	work    sync.Cond                     // on mu: a container became ready, or closed
	pending map[string][]*containerOp     // waiting operations, by container
	fetches map[string]context.CancelFunc // fetches under way, by container
	busy    map[string]bool               // containers a worker is on
	ready   []string                      // containers with operations waiting and no worker, oldest first
	closed  bool
	wg      sync.WaitGroup

	// Counted for /metrics/snapshot: fetches of launches with URIs that
	// succeeded and failed, and destroys that failed.
	fetchesSucceeded, fetchesFailed, destroyErrors atomic.Int64
}

type opKind int

const (
	opLaunch opKind = iota
	opUpdate
	opDestroy
)

type containerOp struct {
	kind      opKind
	spec      core.LaunchSpec    // opLaunch
	resources []*mesos.Resource  // opUpdate
	limits    map[string]float64 // opUpdate
}

func newContainerOps(cont containerizer.Containerizer, fetch *fetcher.Fetcher, workDir string, log *slog.Logger, deliver func(core.Input) bool) *containerOps {
	ctx, cancel := context.WithCancel(context.Background())
	w := &containerOps{
		cont:    cont,
		fetch:   fetch,
		ctx:     ctx,
		cancel:  cancel,
		workDir: workDir,
		log:     log,
		deliver: deliver,
		pending: make(map[string][]*containerOp),
		fetches: make(map[string]context.CancelFunc),
		busy:    make(map[string]bool),
	}
	w.work.L = &w.mu
	return w
}

// start runs the workers.
func (w *containerOps) start() {
	w.wg.Add(containerWorkers)
	for range containerWorkers {
		go w.worker()
	}
}

func (w *containerOps) launch(spec core.LaunchSpec) {
	w.add(spec.ID, &containerOp{kind: opLaunch, spec: spec})
}

func (w *containerOps) update(id string, resources []*mesos.Resource, limits map[string]float64) {
	w.add(id, &containerOp{kind: opUpdate, resources: resources, limits: limits})
}

func (w *containerOps) destroy(id string) {
	w.add(id, &containerOp{kind: opDestroy})
}

// add queues an operation for a container; it never blocks for longer than
// the workers hold the lock to take or finish an operation.
func (w *containerOps) add(id string, op *containerOp) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	if cancel := w.fetches[id]; cancel != nil && op.kind == opDestroy {
		cancel() // as Mesos kills its fetcher: a destroyed container's launch fails now
	}
	q := w.pending[id]
	if n := len(q); op.kind == opUpdate && n > 0 && q[n-1].kind == opUpdate {
		q[n-1] = op // only the latest resources matter
		return
	}
	w.pending[id] = append(q, op)
	if len(q) == 0 && !w.busy[id] {
		w.ready = append(w.ready, id)
		w.work.Signal()
	}
}

// worker carries out operations until close.
func (w *containerOps) worker() {
	defer w.wg.Done()
	w.mu.Lock()
	defer w.mu.Unlock()
	for {
		for len(w.ready) == 0 && !w.closed {
			w.work.Wait()
		}
		if w.closed {
			return
		}
		id := w.ready[0]
		w.ready[0] = ""
		w.ready = w.ready[1:]
		q := w.pending[id]
		op := q[0]
		if len(q) == 1 {
			delete(w.pending, id)
		} else {
			w.pending[id] = q[1:]
		}
		w.busy[id] = true
		w.mu.Unlock()
		w.do(id, op)
		w.mu.Lock()
		delete(w.busy, id)
		if len(w.pending[id]) > 0 {
			w.ready = append(w.ready, id)
			w.work.Signal()
		}
	}
}

func (w *containerOps) do(id string, op *containerOp) {
	switch op.kind {
	case opLaunch:
		if w.unschedule != nil && op.spec.Directory != "" {
			w.unschedule(op.spec.Directory)
		}
		if containerizer.IsDockerLaunch(op.spec.Env) && !slices.Contains(w.containerizers, containerizer.ContainerizerDocker) {
			// As Mesos's agent says when no containerizer takes it.
			w.deliver(core.ContainerLaunched{ContainerID: id, Err: fmt.Errorf(
				"None of the enabled containerizers (%s) could create a container for the provided TaskInfo/ExecutorInfo message",
				strings.Join(w.containerizers, ","))})
			return
		}
		// The fetch comes first, in the sandbox the executor will run in
		// (Mesos fetches between preparing and launching the container).
		// A failed fetch is a failed launch, naming the URI.
		if s := op.spec; len(s.URIs) > 0 && s.Directory != "" {
			ctx, cancel := context.WithCancel(w.ctx)
			w.mu.Lock()
			w.fetches[id] = cancel
			w.mu.Unlock()
			err := w.fetchInto(ctx, s)
			w.mu.Lock()
			delete(w.fetches, id)
			w.mu.Unlock()
			cancel()
			if err != nil {
				w.log.Warn("fetching the executor's URIs", "container", id, "err", err)
				w.deliver(core.ContainerLaunched{ContainerID: id, Err: err})
				return
			}
		}
		if s := op.spec; s.Directory != "" && hasVolumes(s.Resources) {
			// The sandbox is made here when the fetch did not make it.
			if err := os.MkdirAll(s.Directory, 0o755); err != nil {
				w.deliver(core.ContainerLaunched{ContainerID: id, Err: fmt.Errorf("creating the sandbox: %w", err)})
				return
			}
			var err error
			// (An unset ContainerInfo type reads as DOCKER, its first value.)
			if docker := s.Container != nil && s.Container.Type != nil && s.Container.GetType() == mesos.ContainerInfo_DOCKER; w.bindVolumes && !docker {
				op.spec.Container, err = bindVolumes(w.workDir, s.Container, s.Resources)
			} else {
				err = linkVolumes(w.workDir, s.Directory, s.Resources)
			}
			if err != nil {
				w.deliver(core.ContainerLaunched{ContainerID: id, Err: fmt.Errorf("mounting persistent volumes: %w", err)})
				return
			}
		}
		spec := containerSpec(op.spec)
		// Mesos's agent links runs/latest as it makes the run's
		// directory; the containerizer does it as it walks there.
		spec.LinkLatest = true
		pid, err := w.cont.Launch(spec)
		w.deliver(core.ContainerLaunched{ContainerID: id, Pid: pid, Err: err})
	case opUpdate:
		update := func() error { return w.cont.Update(id, op.resources) }
		if lu, ok := w.cont.(containerizer.LimitsUpdater); ok {
			update = func() error { return lu.UpdateLimits(id, op.resources, op.limits) }
		}
		if err := update(); err != nil && !errors.Is(err, containerizer.ErrUnknownContainer) {
			w.log.Warn("updating a container", "container", id, "err", err)
		}
	case opDestroy:
		if err := w.cont.Destroy(id); err != nil && !errors.Is(err, containerizer.ErrUnknownContainer) {
			w.destroyErrors.Add(1)
			w.log.Warn("destroying a container", "container", id, "err", err)
		}
	}
}

// fetchInto fetches a launch's URIs into its sandbox, which it creates
// through the work directory (as the containerizer does: no ".." or
// symbolic link leads out of it), and logs the fetch to the sandbox's
// stderr.
func (w *containerOps) fetchInto(ctx context.Context, s core.LaunchSpec) error {
	rel, err := containerizer.RelativeToWorkDir(w.workDir, s.Directory)
	if err != nil {
		return fmt.Errorf("creating the sandbox: %w", err)
	}
	work, err := os.OpenRoot(w.workDir)
	if err != nil {
		return fmt.Errorf("creating the sandbox: %w", err)
	}
	defer work.Close()
	if err := work.MkdirAll(rel, 0o755); err != nil {
		return fmt.Errorf("creating the sandbox: %w", err)
	}
	sandbox, err := work.OpenRoot(rel)
	if err != nil {
		return fmt.Errorf("opening the sandbox: %w", err)
	}
	defer sandbox.Close()
	var progress io.Writer
	if stderr, err := sandbox.OpenFile("stderr", os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644); err == nil {
		defer stderr.Close()
		progress = stderr
	}
	err = w.fetch.FetchInto(ctx, s.AgentID, s.URIs, sandbox, progress)
	if len(s.URIs) > 0 {
		if err != nil {
			w.fetchesFailed.Add(1)
		} else {
			w.fetchesSucceeded.Add(1)
		}
	}
	return err
}

// close drops every operation not yet begun and waits for those under way.
// The agent then destroys whatever is left in one go.
func (w *containerOps) close() {
	w.cancel()
	w.mu.Lock()
	w.closed = true
	w.pending, w.ready = nil, nil
	w.work.Broadcast()
	w.mu.Unlock()
	w.wg.Wait()
}
