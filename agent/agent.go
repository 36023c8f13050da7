package agent

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/internal/buildinfo"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/agent/checkpoint"
	"github.com/gomesos/gomesos/agent/containerizer"
	"github.com/gomesos/gomesos/agent/core"
	"github.com/gomesos/gomesos/agent/fetcher"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/internal/verbosity"
)

// Agent is a running Gomesos agent: the driver of the core state machine.
type Agent struct {
	cfg     Config
	masters []string // resolved from cfg.Master at start
	log     *slog.Logger
	ln      net.Listener
	ip      string
	port    int
	// execLn is the runtime directory's agent.sock (nil when the agent
	// could not listen there), served by execSrv: see execsocket.go.
	execLn  net.Listener
	execSrv *http.Server
	// stopFrames ends the socket's connections of frames.
	stopFrames context.CancelFunc

	core      *core.Core
	startTime time.Time // the core's
	inputs    chan core.Input
	urgent    chan core.Input // pings, taken ahead of inputs
	stopped   chan struct{}
	pending   []core.Input // inputs produced by the loop itself
	flags     map[string]string
	build     codec.BuildInfo
	verbosity *verbosity.Verbosity

	streams streams
	files   files
	gc      *collector
	cont    containerizer.Containerizer
	ops     *containerOps
	link    *masterLink
	pub     publisher
	logq    *asyncLog
	// statsPacer paces /monitor/statistics.
	statsPacer pacer
	// prom is the Prometheus registry of GET /metrics (prometheus.go).
	prom *promMetrics

	store     *checkpoint.Store // nil: nothing is checkpointed
	recovered *core.Recovered   // what the checkpoint held at start
	exitReq   chan struct{}     // closed by Exit
	exitOnce  sync.Once

	ran  atomic.Bool
	idMu sync.Mutex
	id   string
}

// New checks the configuration, works out the agent's resources and
// attributes, creates the work directory and binds the listening socket.
// Nothing is served and the master is not contacted until Run.
func New(cfg Config) (*Agent, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	masters, err := ResolveMasters(cfg.Master)
	if err != nil {
		return nil, fmt.Errorf("agent: --master: %w", err)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	logq := &asyncLog{}
	log = slog.New(logq.handler(log.Handler()))
	if err := os.MkdirAll(cfg.WorkDir, 0o755); err != nil {
		return nil, fmt.Errorf("agent: creating the work directory: %w", err)
	}
	res, err := agentResources(cfg.Resources, cfg.WorkDir)
	if err != nil {
		return nil, err
	}
	res = isolatorResources(res, cfg.Isolators)
	attrs, err := agentAttributes(cfg.Attributes)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.IP, strconv.Itoa(cfg.Port)))
	if err != nil {
		return nil, fmt.Errorf("agent: listening: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ip := advertisedIP(cfg.IP)
	execLn, execSocket := listenExecutorSocket(cfg.RuntimeDir, log)
	endpoint := net.JoinHostPort(ip, strconv.Itoa(port))

	a := &Agent{
		cfg:       cfg,
		masters:   masters,
		log:       log,
		logq:      logq,
		ln:        ln,
		execLn:    execLn,
		ip:        ip,
		port:      port,
		inputs:    make(chan core.Input, 256),
		urgent:    make(chan core.Input, 4),
		flags:     cfg.flagsMap(ip, port),
		build:     buildinfo.Read(),
		verbosity: cfg.Verbosity,
		stopped:   make(chan struct{}),
		exitReq:   make(chan struct{}),
	}
	a.statsPacer.interval = statisticsRate
	if a.verbosity == nil {
		a.verbosity = verbosity.New(nil)
	}
	a.initProm()
	a.cont = containerizer.NewPosix(containerizer.Options{
		WorkDir:    cfg.WorkDir,
		RuntimeDir: cfg.RuntimeDir,
		// The executor binary (gomesos) also supervises every container.
		SupervisorPath: cfg.ExecutorBinary,
		ExecutorHost:   !cfg.NoCommandExecutorHost,
		ExecutorSocket: execSocket,
		OnExit:         func(t containerizer.Termination) { a.deliver(core.ContainerExited{Termination: termination(t)}) },
		Isolators:      cfg.Isolators,
		Logger:         log,
	})
	fetch, err := fetcher.New(fetcher.Config{
		CacheDir:     cfg.FetcherCacheDir,
		CacheSize:    cfg.FetcherCacheSize,
		StallTimeout: cfg.FetcherStallTimeout,
		Logger:       log.With("component", "fetcher"),
	})
	if err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	a.ops = newContainerOps(a.cont, fetch, cfg.WorkDir, log, a.deliver)
	a.ops.containerizers = cfg.Containerizers
	a.gc = newCollector(cfg, log.With("component", "gc"), a.files.detachWithin)
	a.ops.unschedule = a.gc.unscheduleFor
	for _, iso := range cfg.Isolators {
		if iso.Name() == containerizer.IsolatorFilesystemLinux {
			a.ops.bindVolumes = true
		}
	}
	a.pub.init()
	a.startTime = time.Now()
	var seed [8]byte
	_, _ = rand.Read(seed[:])
	info := &mesos.AgentInfo{
		Hostname:   proto.String(cfg.Hostname),
		Port:       proto.Int32(int32(port)),
		Resources:  res,
		Attributes: attrs,
	}
	if err := a.openCheckpoint(info); err != nil {
		ln.Close()
		return nil, err
	}
	a.core = core.New(core.Config{
		WorkDir:                       cfg.WorkDir,
		ExecutorBinary:                cfg.ExecutorBinary,
		Endpoint:                      endpoint,
		PID:                           "slave(1)@" + endpoint,
		BaseEnv:                       os.Environ(),
		RegistrationTimeout:           cfg.ExecutorRegistrationTimeout,
		ShutdownGrace:                 cfg.ExecutorShutdownGracePeriod,
		BackoffFactor:                 cfg.RegistrationBackoffFactor,
		RetryMin:                      cfg.StatusUpdateRetryMin,
		RetryMax:                      cfg.StatusUpdateRetryMax,
		ExecutorReregistrationTimeout: cfg.ExecutorReregistrationTimeout,
		RecoveryTimeout:               cfg.RecoveryTimeout,
		DefaultContainerInfo:          cfg.DefaultContainerInfo,
		AgentInfo:                     info,
		Flags:                         a.flags,
		Build:                         a.build,
	}, a.startTime, binary.LittleEndian.Uint64(seed[:]), log)
	return a, nil
}

// Addr is the agent's "ip:port" as executors and the master reach it (the
// port is the bound one, also when Config.Port was 0).
func (a *Agent) Addr() string { return net.JoinHostPort(a.ip, strconv.Itoa(a.port)) }

// ID is the agent ID the master gave, or "" before registration.
func (a *Agent) ID() string {
	a.idMu.Lock()
	defer a.idMu.Unlock()
	return a.id
}

// Run serves HTTP and works with the master until ctx ends or serving
// fails. On return every executor's processes have been killed and reaped,
// the master has been told the agent is leaving, and the socket is closed.
// Run may be called once.
func (a *Agent) Run(ctx context.Context) error {
	if !a.ran.CompareAndSwap(false, true) {
		return errors.New("agent: Run called twice")
	}
	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
	}
	a.logq.start()
	if a.cfg.Recover == RecoverCleanup {
		return a.cleanup()
	}
	recovery, err := a.recoverContainers()
	if err != nil {
		a.ln.Close()
		if a.execLn != nil {
			a.execLn.Close()
		}
		a.store.Close()
		a.logq.stop()
		return err
	}
	a.pending = append(a.pending, recovery)
	keep := make(map[string]bool, len(recovery.Containers))
	for _, c := range recovery.Containers {
		keep[c.ContainerID] = true
	}
	gcCtx, stopGC := context.WithCancel(context.Background())
	gcDone := make(chan struct{})
	go func() {
		defer close(gcDone)
		a.gc.run(gcCtx, a.recovered.AgentID, keep)
	}()
	defer func() {
		stopGC()
		<-gcDone
	}()
	a.ops.start()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(a.ln) }()
	if a.execLn != nil {
		a.execSrv = a.executorSocketServer()
		var frames context.Context
		frames, a.stopFrames = context.WithCancel(context.Background())
		go a.serveExecutorSocket(frames, a.execLn, a.execSrv)
	}
	a.link = newMasterLink(a.cfg.Master, a.masters, a.log, a.deliver, a.deliverUrgent)
	a.startOversubscription(ctx)
	a.log.Info("agent started", "endpoint", a.Addr(), "master", a.cfg.Master, "work_dir", a.cfg.WorkDir)

	err = a.loop(ctx, serveErr)
	if errors.Is(err, errExit) {
		a.exit(srv)
		return nil
	}
	a.stop(srv)
	return err
}

// Exit makes Run return as the agent does on SIGTERM: the executors of
// checkpointing frameworks keep running, and the checkpoint stays, for the
// next agent on this work directory to recover; the other executors are
// destroyed. The master is not told. (Ending Run's context instead is
// Mesos's shutdown: every executor is killed and the checkpoint removed.)
func (a *Agent) Exit() { a.exitOnce.Do(func() { close(a.exitReq) }) }

var errExit = errors.New("agent: exiting for a restart")

// deliver hands an input to the loop; false once the agent has stopped.
func (a *Agent) deliver(in core.Input) bool {
	select {
	case a.inputs <- in:
		return true
	case <-a.stopped:
		return false
	}
}

// maxBatch bounds how many waiting inputs the loop takes before it next
// publishes a snapshot and looks at its timers.
const maxBatch = 256

// deliverUrgent hands an input to the loop ahead of the others, without
// blocking; false when it could not (a few are already waiting, which for
// pings is as good: one pong answers them all).
func (a *Agent) deliverUrgent(in core.Input) bool {
	select {
	case a.urgent <- in:
		return true
	default:
		return false
	}
}

// loop owns the core. It never waits on anything but its next input or
// timer: everything slow (processes, sandboxes, the master, executors,
// readers of the endpoints) happens on other goroutines, which hear from
// it through non-blocking queues and answer with inputs. Pings from the
// master (urgent) are taken ahead of everything else.
func (a *Agent) loop(ctx context.Context, serveErr <-chan error) error {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	a.pending = append(a.pending, core.Start{})
	for {
		select {
		case <-a.exitReq:
			return errExit
		default:
		}
		for len(a.pending) > 0 {
			// The inputs waiting are stepped together and their
			// checkpoints written in one transaction (one fsync)
			// before any of their outputs is carried out: each
			// step's checkpoint is still on disk before its outputs,
			// and a busy agent does not pay a sync per update.
			var ops []core.CheckpointOp
			var outs []core.Output
			for n := 0; len(a.pending) > 0 && n < maxBatch; n++ {
				in := a.pending[0]
				select {
				case in = <-a.urgent:
				default:
					a.pending = a.pending[1:]
				}
				for _, o := range a.step(in) {
					if c, ok := o.(core.Checkpoint); ok {
						ops = append(ops, c.Ops...)
					} else {
						outs = append(outs, o)
					}
				}
			}
			if len(ops) > 0 {
				a.persist(core.Checkpoint{Ops: ops})
			}
			a.apply(outs)
		}
		a.idMu.Lock()
		a.id = a.core.AgentID()
		a.idMu.Unlock()
		wake := a.pub.publish(a.core)
		// The core keeps its deadlines in a heap: the next one costs
		// nothing like a look at every executor and task.
		deadline := a.core.NextDeadline()
		if !deadline.IsZero() && (wake.IsZero() || deadline.Before(wake)) {
			wake = deadline
		}
		if wake.IsZero() {
			timer.Stop()
		} else {
			timer.Reset(max(time.Until(wake), 0))
		}
		select {
		case <-ctx.Done():
			return nil
		case <-a.exitReq:
			return errExit
		case err := <-serveErr:
			return fmt.Errorf("agent: serving HTTP: %w", err)
		case in := <-a.urgent:
			a.pending = append(a.pending, in)
		case <-a.pub.poke:
			// a reader waits for a snapshot
		case in := <-a.inputs:
			a.pending = append(a.pending, in)
		batch:
			for len(a.pending) < maxBatch {
				select {
				case in := <-a.inputs:
					a.pending = append(a.pending, in)
				default:
					break batch
				}
			}
		case <-timer.C:
			if d := a.core.NextDeadline(); !d.IsZero() && !time.Now().Before(d) {
				a.pending = append(a.pending, core.Tick{})
			}
		}
	}
}

// step feeds one input to the core and returns what it asks, for the
// loop to carry out.
func (a *Agent) step(in core.Input) []core.Output {
	outs := a.core.Step(time.Now(), in)
	switch in.(type) {
	case core.Tick, core.SnapshotRequest:
		if len(outs) > 0 {
			a.pub.changed()
		}
	default:
		a.pub.changed()
	}
	return outs
}

// apply carries out the core's outputs. Nothing here may block: container
// work is queued for containerOps, messages for the master on the link's
// queue, events on each executor's stream, and every reply channel has
// room for its answer.
func (a *Agent) apply(outs []core.Output) {
	for _, o := range outs {
		switch o := o.(type) {
		case core.Checkpoint:
			a.persist(o)
		case core.Connect:
			a.link.connect(o.Gen, o.Msg)
		case core.Disconnect:
			a.link.disconnect(o.Gen)
		case core.Send:
			if gen, ok := a.link.send(o); !ok {
				// The master does not keep up: drop the link and
				// re-register, which tells the master everything anew.
				a.pending = append(a.pending, core.MasterStreamEnded{Gen: gen, Err: errMasterBehind})
			}
		case core.Launch:
			a.ops.launch(o.Spec)
		case core.Destroy:
			a.ops.destroy(o.ContainerID)
		case core.UpdateContainer:
			a.ops.update(o.ContainerID, o.Resources, o.Limits)
		case core.ExecutorEvent:
			if s := a.streams.get(o.Conn); s != nil && !s.send(o.Event) {
				a.log.Warn("an executor is not reading its events; closing its stream (it must subscribe again)",
					"conn", o.Conn, "queued", cap(s.events))
			}
		case core.ExecutorClose:
			if s := a.streams.get(o.Conn); s != nil {
				s.close()
			}
		case core.Answer:
			o.Reply <- o.Result
		case core.SnapshotReply:
			o.Reply <- o.Snapshot
		case core.Attach:
			// Only a sandbox inside the work directory is served, under
			// virtual paths that are already clean (no id in them moved
			// them elsewhere).
			if _, err := containerizer.RelativeToWorkDir(a.cfg.WorkDir, o.Dir); err != nil || !cleanPaths(o.Paths) {
				a.log.Warn("not serving a sandbox outside the work directory", "dir", o.Dir, "paths", o.Paths, "err", err)
				break
			}
			a.files.attach(o.Dir, o.Paths)
		case core.Detach:
			a.files.detach(o.Dirs)
		case core.Collect:
			a.gc.schedule(o.Dirs)
		case core.Volumes:
			a.applyVolumes(o)
		default:
			panic(fmt.Sprintf("agent: unknown output %T", o))
		}
	}
}

// containerSpec is the containerizer's form of a launch.
func containerSpec(s core.LaunchSpec) containerizer.Spec {
	return containerizer.Spec{
		ID:        s.ID,
		Directory: s.Directory,
		Path:      s.Path,
		Args:      s.Args,
		Env:       s.Env,
		Resources: s.Resources,
		Container: s.Container,
		Limits:    s.Limits,
	}
}

// termination is the core's form of a container's end.
func termination(t containerizer.Termination) core.Termination {
	ct := core.Termination{ContainerID: t.ID, Status: t.Status, How: t.String()}
	if l := t.Limitation; l != nil {
		ct.Limitation = &core.Limitation{Reason: l.Reason, Message: l.Message}
		ct.How += " (" + l.Reason.String() + ")"
	}
	return ct
}

// stop tears everything down: the core destroys every container and says
// goodbye to the master; then the edges are closed and every process
// reaped.
func (a *Agent) stop(srv *http.Server) {
	for _, o := range a.core.Step(time.Now(), core.Stop{}) {
		switch o := o.(type) {
		case core.Send:
			a.link.postWithin(o, 2*time.Second)
		default:
			a.apply([]core.Output{o})
		}
	}
	a.pending = nil
	close(a.stopped)
	a.streams.closeAll()
	a.link.close()
	a.ops.close()
	a.cont.DestroyAll()
	a.closeStore()
	a.shutdownHTTP(srv)
	a.log.Info("agent stopped")
	a.logq.stop()
}

func (a *Agent) shutdownHTTP(srv *http.Server) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range []*http.Server{srv, a.execSrv} {
		if s != nil && s.Shutdown(ctx) != nil {
			_ = s.Close()
		}
	}
	if a.stopFrames != nil {
		a.stopFrames()
	}
}

// exitDestroys is how many destroys Exit runs at once.
const exitDestroys = 64

// exit leaves the executors of checkpointing frameworks running, destroys
// the others, and closes everything else (see Exit).
func (a *Agent) exit(srv *http.Server) {
	var destroy []string
	for _, o := range a.core.Step(time.Now(), core.Exit{}) {
		switch o := o.(type) {
		case core.Destroy:
			destroy = append(destroy, o.ContainerID)
		default:
			a.apply([]core.Output{o})
		}
	}
	a.pending = nil
	close(a.stopped)
	a.streams.closeAll()
	a.link.close()
	a.ops.close()
	// The destroys run together: the containerizer shares one kill pass
	// (a scan of /proc) among those that come at once.
	var wg sync.WaitGroup
	slots := make(chan struct{}, exitDestroys)
	for _, id := range destroy {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			if err := a.cont.Destroy(id); err != nil && !errors.Is(err, containerizer.ErrUnknownContainer) {
				a.log.Warn("destroying a container", "container", id, "err", err)
			}
		})
	}
	wg.Wait()
	a.closeStore()
	a.shutdownHTTP(srv)
	a.log.Info("agent exited; the executors of checkpointing frameworks keep running", "destroyed", len(destroy))
	a.logq.stop()
}

// advertisedIP is the address executors and the master are told: the
// configured IP, else the first non-loopback IPv4 address, else loopback.
func advertisedIP(configured string) string {
	if ip := net.ParseIP(configured); ip != nil && !ip.IsUnspecified() {
		return ip.String()
	}
	if configured != "" && net.ParseIP(configured) == nil {
		return configured // a host name
	}
	addrs, err := net.InterfaceAddrs()
	if err == nil {
		for _, addr := range addrs {
			if n, ok := addr.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
				return n.IP.String()
			}
		}
	}
	return "127.0.0.1"
}

// cleanPaths reports whether every virtual path is absolute and clean.
func cleanPaths(paths []string) bool {
	for _, p := range paths {
		if p != path.Clean("/"+p) {
			return false
		}
	}
	return true
}

// persist writes a checkpoint before anything else of its step is done.
// An agent that cannot keep its record cannot keep its promises: it exits.
func (a *Agent) persist(c core.Checkpoint) {
	if a.store == nil {
		return
	}
	if err := a.store.Apply(c.Ops); err != nil {
		a.log.Error("cannot write the checkpoint; exiting", "err", err)
		a.logq.stop()
		fmt.Fprintf(os.Stderr, "gomesos agent: cannot write the checkpoint: %v\n", err)
		os.Exit(1)
	}
}
