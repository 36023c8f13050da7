package master

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/gomesos/gomesos/internal/buildinfo"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"time"

	registrypb "github.com/gomesos/gomesos/api/registry"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/internal/verbosity"
	"github.com/gomesos/gomesos/master/allocator"
	"github.com/gomesos/gomesos/master/core"
	"github.com/gomesos/gomesos/registry"
)

// Config configures a Master. Zero values take Mesos's defaults.
type Config struct {
	IP       string // --ip (default 127.0.0.1)
	Port     int    // --port (5050; 0 picks a free port)
	Hostname string // --hostname (default: the IP)
	Cluster  string // --cluster
	core.Options
	// Flags are shown by /master/flags and /master/state, name → value.
	Flags map[string]string
	Build codec.BuildInfo
	// NewAllocator makes the allocator of each term this master leads
	// (default: the hierarchical DRF allocator).
	NewAllocator func() allocator.Allocator
	// OpenRegistry opens the registry once the master listens, given the
	// address it advertises ("host:port"). It returns the store and the
	// handler of the registry's traffic between masters, which the master
	// serves at registry.RaftPath (nil: none). Nil OpenRegistry keeps the
	// registry in memory (--registry=in_memory): a cluster of one.
	OpenRegistry func(self string) (registry.Store, http.Handler, error)
	// RegistryStoreTimeout bounds a registry commit (--registry_store_timeout,
	// 20secs) and RegistryFetchTimeout the recovery of the registry on
	// election (--registry_fetch_timeout, 1mins).
	RegistryStoreTimeout time.Duration
	RegistryFetchTimeout time.Duration
	// TickInterval is how often timers are checked (default 100ms).
	TickInterval time.Duration
	// StreamQueueRecords and StreamQueueBytes bound the records waiting to
	// be written to each framework event stream and each agent connection
	// (defaults DefaultStreamQueueRecords and DefaultStreamQueueBytes). A
	// consumer that falls further behind is disconnected (see sink.go).
	StreamQueueRecords int
	StreamQueueBytes   int
	// Verbosity is the process's log verbosity, which the operator API's
	// GET_LOGGING_LEVEL and SET_LOGGING_LEVEL read and set (nil: one of
	// the master's own, which changes no logger).
	Verbosity *verbosity.Verbosity
	// Pprof (--pprof) serves Go's runtime profiles under /debug/pprof/;
	// off by default (404).
	Pprof bool
	// ReregisterGCPercent (--reregister_gc_percent), when positive, is the
	// least GOGC the process runs with while the agents recovered from the
	// registry re-register after this master is elected (gcstorm.go); 0
	// leaves the garbage collector alone.
	ReregisterGCPercent int
	// StandbyHeapPerAgent (--standby_heap_per_agent), when positive, is
	// the heap a follower keeps touched and free for a takeover, for every
	// agent the registry admits (standby.go); 0 keeps none.
	StandbyHeapPerAgent int64
}

// Master drives a core.Core: one goroutine owns it, HTTP handlers feed it, and
// the outputs go to framework event streams and agent connections. While
// the master does not lead, its Core is a follower's (leader.go).
type Master struct {
	cfg  Config
	log  *slog.Logger
	core *core.Core // owned by the loop, replaced on every election
	ln   net.Listener
	srv  *http.Server

	// gcStorm is the collector's setting while agents re-register after
	// an election (gcstorm.go); owned by the loop.
	gcStorm gcStorm
	// standby is a follower's reserve of heap for a takeover.
	standby standbyReserve
	// tickPublished is when the ticker last published a snapshot; owned
	// by the loop.
	tickPublished time.Time
	// tickRecovered is how many recovered agents were still to come back
	// then; owned by the loop.
	tickRecovered int

	store       registry.Store
	raft        http.Handler // the registry's traffic between masters
	advertise   string       // "host:port" this master is known by
	advertiseIP string
	hostname    string
	port        int
	startTime   time.Time

	// leads is owned by the loop: whether the Core is a leader's. role is
	// what handlers see (roleFollower, roleRecovering, roleLeading).
	leads      bool
	role       atomic.Int32
	leaderAddr atomic.Pointer[string]
	info       atomic.Pointer[mesos.MasterInfo]
	// fatal is a registry failure that ends the master (owned by the loop).
	fatal     error
	elections atomic.Int64
	recovered atomic.Bool
	fetchTime atomic.Int64 // how long the last registry fetch took, in ns
	// leaderSeen wakes the agents' subscriptions that wait for a leader.
	leaderSeen leaderWatch
	// waitingAgents counts the subscriptions waiting in awaitLeader.
	waitingAgents atomic.Int64

	// allocRuns times allocation passes (the core may not read the clock),
	// storeRuns registry commits.
	allocRuns *runWindow
	storeRuns *runWindow
	// prom is the Prometheus registry of GET /metrics (prometheus.go);
	// queued counts the requests waiting for the loop to take them.
	prom   *promMetrics
	queued atomic.Int64

	// snap is the core's latest published snapshot: the legacy endpoints
	// and the metrics read it, never the core itself. The loop publishes
	// when a reader asks (latest) and on every tick, not after every step:
	// a snapshot then covers many steps, and publishing costs what changed
	// since the last one, so under load it costs far less per step.
	snap atomic.Pointer[core.Snapshot]
	// encoders leaves the loop a processor however many read.
	encoders gate
	// warm keeps the latest snapshot encoded while someone reads views.
	warm *warmer

	reqs    chan request
	batch   []request // owned by the loop
	stopped chan struct{}

	// Owned by the loop goroutine.
	frameworkSinks map[string]*sink
	agentSinks     map[string]*sink
	// operatorSinks are the operator API's event streams, by id, and
	// lastOperatorBeat when they were last sent a HEARTBEAT.
	operatorSinks    map[string]*sink
	lastOperatorBeat time.Time
	// operatorSubscribers counts operatorSinks, for the metrics.
	operatorSubscribers atomic.Int64

	// verbosity is the log verbosity the operator API sets.
	verbosity *verbosity.Verbosity
}

// New creates a master listening on the configured address, and opens its
// registry. Call Run to start serving. A master whose registry leads at
// once (in memory) leads from here; any other leads once elected.
func New(cfg Config) (*Master, error) {
	cfg.Options.SetDefaults()
	if cfg.IP == "" {
		cfg.IP = "127.0.0.1"
	}
	if cfg.TickInterval <= 0 {
		cfg.TickInterval = 100 * time.Millisecond
	}
	if cfg.StreamQueueRecords <= 0 {
		cfg.StreamQueueRecords = DefaultStreamQueueRecords
	}
	if cfg.StreamQueueBytes <= 0 {
		cfg.StreamQueueBytes = DefaultStreamQueueBytes
	}
	if cfg.RegistryStoreTimeout <= 0 {
		cfg.RegistryStoreTimeout = 20 * time.Second
	}
	if cfg.RegistryFetchTimeout <= 0 {
		cfg.RegistryFetchTimeout = time.Minute
	}
	if cfg.Build.Version == "" {
		cfg.Build = buildinfo.Read()
	}
	// No TCP keep-alive probes on accepted connections: each would cost
	// three system calls to set up (a failover's 10,000 agents take 30,000
	// more on the new leader), and they would find nothing the master does
	// not already find. Streams carry heartbeats or pings, whose writes fail
	// on a peer gone (and probes wait for a connection to be idle); Raft
	// has its own heartbeats; an idle keep-alive connection is closed after
	// idleTimeout.
	ln, err := (&net.ListenConfig{KeepAlive: -1}).Listen(context.Background(), "tcp", net.JoinHostPort(cfg.IP, strconv.Itoa(cfg.Port)))
	if err != nil {
		return nil, fmt.Errorf("master: listen on %s:%d: %w", cfg.IP, cfg.Port, err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	hostname := cfg.Hostname
	if hostname == "" {
		hostname = cfg.IP
		if ip := net.ParseIP(cfg.IP); ip == nil || ip.IsUnspecified() {
			if h, err := os.Hostname(); err == nil {
				hostname = h
			}
		}
	}
	advertiseIP := cfg.IP
	if ip := net.ParseIP(cfg.IP); ip != nil && ip.IsUnspecified() {
		advertiseIP = "127.0.0.1"
	}
	m := &Master{
		cfg:            cfg,
		log:            cfg.Logger.With("component", "master"),
		ln:             ln,
		advertise:      net.JoinHostPort(hostname, strconv.Itoa(port)),
		advertiseIP:    advertiseIP,
		hostname:       hostname,
		port:           port,
		startTime:      time.Now(),
		allocRuns:      &runWindow{max: 1000},
		storeRuns:      &runWindow{max: 1000},
		reqs:           make(chan request),
		stopped:        make(chan struct{}),
		standby:        standbyReserve{perAgent: cfg.StandbyHeapPerAgent},
		frameworkSinks: map[string]*sink{},
		agentSinks:     map[string]*sink{},
		operatorSinks:  map[string]*sink{},
		verbosity:      cfg.Verbosity,
	}
	if m.verbosity == nil {
		m.verbosity = verbosity.New(nil)
	}
	m.initProm()
	if cfg.OpenRegistry != nil {
		m.store, m.raft, err = cfg.OpenRegistry(m.advertise)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("master: opening the registry: %w", err)
		}
	} else {
		m.store = registry.NewInMemory(nil)
	}
	m.encoders = newGate(max(1, runtime.GOMAXPROCS(0)-1))
	m.warm = newWarmer()
	m.follow("starting")
	// A store that leads at once (in memory, or a cluster of one that
	// elected itself already) makes the master lead before New returns.
	select {
	case lead, ok := <-m.store.Leadership():
		if ok && lead {
			if err := m.elect(context.Background()); err != nil {
				m.store.Close()
				ln.Close()
				return nil, fmt.Errorf("master: %w", err)
			}
		}
	default:
	}
	m.srv = &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: idleTimeout}
	return m, nil
}

// idleTimeout closes a client's keep-alive connection that has been idle
// that long.
const idleTimeout = 2 * time.Minute

// ipToUint32 packs an IPv4 address the way MasterInfo.ip carries it: the
// address bytes in network order read as a little-endian integer.
func ipToUint32(s string) uint32 {
	ip := net.ParseIP(s).To4()
	if ip == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(ip)
}

// Addr is the address the master listens on.
func (m *Master) Addr() string { return m.ln.Addr().String() }

// URL is the master's base URL.
func (m *Master) URL() string { return "http://" + m.Addr() }

// Info is the master's MasterInfo: the current term's while it leads.
func (m *Master) Info() *mesos.MasterInfo { return m.info.Load() }

// Leading reports whether the master leads (and has recovered its
// registry).
func (m *Master) Leading() bool { return m.role.Load() == roleLeading }

// Leader is the address of the leading master ("host:port"), "" while
// none is known.
func (m *Master) Leader() string {
	if p := m.leaderAddr.Load(); p != nil {
		return *p
	}
	return ""
}

// Advertise is the address ("host:port") this master is known by.
func (m *Master) Advertise() string { return m.advertise }

// Run serves until ctx is done, then closes every stream and returns.
func (m *Master) Run(ctx context.Context) error {
	serveErr := make(chan error, 1)
	go func() { serveErr <- m.srv.Serve(m.ln) }()
	warmerDone := make(chan struct{})
	go func() {
		defer close(warmerDone)
		m.runWarmer(m.stopped)
	}()
	defer func() { <-warmerDone }()
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		m.watchLeader(m.stopped)
	}()
	defer func() { <-watchDone }()
	m.log.Info("master started", "address", m.Addr(), "leading", m.leads)
	ticker := time.NewTicker(m.cfg.TickInterval)
	defer ticker.Stop()
	leadership := m.store.Leadership()
	var err error
loop:
	for {
		select {
		case r := <-m.reqs:
			m.serve(r)
		case now := <-ticker.C:
			if m.leads {
				m.step(core.Tick{})
				m.operatorHeartbeat(now)
			} else if leader := m.store.Leader(); leader != m.Leader() {
				m.followLeader(leader)
			}
			// While agents recovered from the registry come back
			// (by the thousand after a failover), the tick publishes
			// every stormPublishEvery: each publication copies the
			// changed records and their trees' paths, most of which
			// the next would copy again. A reader still gets a
			// snapshot showing everything answered before it asked
			// (latest publishes for it). The storm's last stretch is
			// published at every tick (stormEnding), so that the
			// readers who come when it ends find little left to
			// publish: they waited some 40 ms at 10,000 agents, with
			// a core idle.
			left := m.core.Recovered()
			if !m.leads || left == 0 || now.Sub(m.tickPublished) >= stormPublishEvery || stormEnding(left, m.tickRecovered) {
				m.commit(true)
				m.tickPublished, m.tickRecovered = now, left
				m.warm.published(now)
			} else {
				m.commit(false)
			}
			m.settleGC(now)
			if !m.leads {
				m.keepStandby()
			}
		case lead, ok := <-leadership:
			switch {
			case !ok:
				leadership = nil
				if m.leads {
					m.follow("the registry closed")
				}
			case lead && !m.leads:
				err = m.elect(ctx)
			case !lead && m.leads:
				m.follow("the registry store lost the leadership")
			}
		case err = <-serveErr:
			break loop
		case <-ctx.Done():
			break loop
		}
		if err == nil {
			err = m.fatal
		}
		if err != nil {
			break
		}
	}
	close(m.stopped)
	m.gcStorm.restore()
	if _, release := m.standby.handOver(); release != nil {
		release()
	}
	for _, s := range m.frameworkSinks {
		s.close()
	}
	for _, s := range m.agentSinks {
		s.close()
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if e := m.srv.Shutdown(shutdownCtx); e != nil {
		m.srv.Close()
	}
	if cerr := m.store.Close(); cerr != nil {
		m.log.Warn("closing the registry", "error", cerr)
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	m.log.Info("master stopped", "error", err)
	return err
}

// errStopped is returned by do once the master has stopped.
var errStopped = errors.New("master is stopping")

// request is a function to run on the loop; done is closed once it ran and
// its outputs were carried out, and, when publish is set, once a snapshot
// showing its effects (and those of every request before it) is published.
type request struct {
	fn      func()
	done    chan struct{}
	publish bool
}

// maxBatch bounds the requests served between two snapshots.
const maxBatch = 64

// do runs fn on the loop goroutine and waits for it and its outputs.
func (m *Master) do(fn func()) error { return m.send(request{fn: fn, done: make(chan struct{})}) }

// doLeading is do for a request only the leader serves: fn runs only if
// the master still leads when its turn comes, and errNotLeading says it
// did not.
func (m *Master) doLeading(fn func()) error {
	lost := false
	err := m.do(func() {
		if !m.leads {
			lost = true
			return
		}
		fn()
	})
	if err == nil && lost {
		err = errNotLeading
	}
	return err
}

// stormPublishEvery spaces the tick's publications while recovered agents
// re-register (Run).
const stormPublishEvery = 500 * time.Millisecond

// stormEnding reports whether the recovered agents still to come back
// (left) are no more than came back since the tick last published (when
// before were left): at that pace, the storm ends within
// stormPublishEvery.
func stormEnding(left, before int) bool { return left <= before-left }

// freshWait bounds how long a reader waits for the loop to publish.
const freshWait = 250 * time.Millisecond

// latest returns a snapshot that shows every call answered before it was
// asked for: a client that reads the state after its call was answered
// sees the call's effects. The loop publishes it between two batches, in
// microseconds; should the loop be busy longer than freshWait, or stopped,
// the reader gets the last published snapshot instead of waiting.
func (m *Master) latest() *core.Snapshot { return m.latestWithin(freshWait) }

// latestWithin is latest waiting no longer than wait for the loop.
func (m *Master) latestWithin(wait time.Duration) *core.Snapshot {
	r := request{fn: func() {}, done: make(chan struct{}), publish: true}
	t := time.NewTimer(wait)
	defer t.Stop()
	m.queued.Add(1)
	select {
	case m.reqs <- r:
		m.queued.Add(-1)
		select {
		case <-r.done:
		case <-t.C:
		}
	case <-t.C:
		m.queued.Add(-1)
	case <-m.stopped:
		m.queued.Add(-1)
	}
	return m.snap.Load()
}

func (m *Master) send(r request) error {
	m.queued.Add(1)
	select {
	case m.reqs <- r:
	case <-m.stopped:
		m.queued.Add(-1)
		return errStopped
	}
	m.queued.Add(-1)
	<-r.done
	return nil
}

// serve runs a request and those already waiting behind it (up to
// maxBatch), commits them together, then answers them. A snapshot is
// published when one of them asks for it.
func (m *Master) serve(first request) {
	m.batch = append(m.batch[:0], first)
	first.fn()
	publish := first.publish
	for len(m.batch) < maxBatch {
		var r request
		select {
		case r = <-m.reqs:
		default:
		}
		if r.fn == nil {
			break
		}
		r.fn()
		publish = publish || r.publish
		m.batch = append(m.batch, r)
	}
	m.commit(publish)
	for i, r := range m.batch {
		close(r.done)
		m.batch[i] = request{}
	}
	// While the recovered agents come back, the records of the tasks they
	// brought are made now, while the requests just answered go on (their
	// handlers write, the agents send more), rather than all at the tick's
	// next publication, which stopped the loop for tens of milliseconds
	// with every request waiting on it, and a core idle.
	if m.leads && m.core.Recovered() > 0 {
		m.core.PublishAhead()
	}
}

// commit carries out the outputs of the latest steps (and of the steps
// those feed back), then publishes the core's state when asked to.
// Whoever hears of a change (an event, a message, an answer) and then reads
// the state goes through latest, so finds the change there.
func (m *Master) commit(publish bool) {
	for m.dispatch() {
	}
	if publish {
		m.snap.Store(m.core.Snapshot())
	}
}

// step feeds the core one input. It runs on the loop goroutine; the
// input's outputs are carried out at the next commit.
func (m *Master) step(in core.Input) core.Result {
	return m.core.Step(time.Now(), in)
}

// dispatch carries out the core's outputs. It reports whether it fed the
// core more inputs, whose outputs are to be committed in turn.
func (m *Master) dispatch() (stepped bool) {
	// Consumers found behind are told to the core after this batch, each
	// as the stream or connection closing.
	var behind []core.Input
	outputs := m.core.Outputs()
	// Every registry operation among the outputs is committed, in one
	// batch, before anything that follows the first of them is carried
	// out (core.Persist).
	first := slices.IndexFunc(outputs, func(o core.Output) bool { _, ok := o.(core.Persist); return ok })
	for i, o := range outputs {
		if i == first {
			var ops []*registrypb.Operation
			for _, o := range outputs[i:] {
				if p, ok := o.(core.Persist); ok {
					ops = append(ops, p.Ops...)
				}
			}
			if err := m.persist(ops); err != nil {
				m.registryFailed(err)
				return false
			}
		}
		switch o := o.(type) {
		case core.Abort:
			m.log.Error("giving up the leadership", "reason", o.Message)
			if m.fatal == nil {
				m.fatal = errors.New(o.Message)
			}
			m.follow(o.Message)
			return false
		case core.SendEvent:
			if s := m.frameworkSinks[o.Stream]; s != nil {
				b, err := codec.Marshal(s.enc, o.Event)
				if err != nil {
					m.log.Error("encoding event", "error", err)
					continue
				}
				if !s.push(b) {
					m.fellBehind(s, o.Stream)
					delete(m.frameworkSinks, o.Stream)
					behind = append(behind, core.StreamClosed{Stream: o.Stream})
				}
			}
		case core.CloseStream:
			if s := m.frameworkSinks[o.Stream]; s != nil {
				s.close()
				delete(m.frameworkSinks, o.Stream)
			}
		case core.SendAgent:
			if s := m.agentSinks[o.Conn]; s != nil {
				b, err := codec.Marshal(codec.Protobuf, o.Msg)
				if err != nil {
					m.log.Error("encoding agent message", "error", err)
					continue
				}
				if !s.push(b) {
					m.fellBehind(s, o.Conn)
					delete(m.agentSinks, o.Conn)
					behind = append(behind, core.AgentClosed{Conn: o.Conn})
				}
			}
		case core.OperatorEvent:
			m.sendOperatorEvent(o.Event)
		case core.CloseAgent:
			if s := m.agentSinks[o.Conn]; s != nil {
				s.close()
				delete(m.agentSinks, o.Conn)
			}
		}
	}
	for _, in := range behind {
		m.step(in)
	}
	return len(behind) > 0
}

// newSink is a sink bounded as configured.
func (m *Master) newSink(enc codec.Encoding) *sink {
	return newSink(enc, m.cfg.StreamQueueRecords, m.cfg.StreamQueueBytes)
}

// fellBehind drops the sink of a consumer that is not keeping up, saying
// who it is and which bound it hit.
func (m *Master) fellBehind(s *sink, stream string) {
	st := s.stats()
	m.log.Warn("stream consumer fell behind; disconnecting it",
		s.kind, s.id, "stream", stream,
		"queued_records", st.Records, "queued_bytes", st.Bytes,
		"max_records", s.maxRecords, "max_bytes", s.maxBytes)
	s.drop()
}
