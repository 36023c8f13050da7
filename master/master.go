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
	"strconv"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/master/allocator"
	"github.com/gomesos/gomesos/master/core"
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
	// Allocator replaces the default hierarchical DRF allocator.
	Allocator allocator.Allocator
	// TickInterval is how often timers are checked (default 100ms).
	TickInterval time.Duration
	// StreamQueueRecords and StreamQueueBytes bound the records waiting to
	// be written to each framework event stream and each agent connection
	// (defaults DefaultStreamQueueRecords and DefaultStreamQueueBytes). A
	// consumer that falls further behind is disconnected (see sink.go).
	StreamQueueRecords int
	StreamQueueBytes   int
}

// Master drives a core.Core: one goroutine owns it, HTTP handlers feed it, and
// the outputs go to framework event streams and agent connections.
type Master struct {
	cfg  Config
	log  *slog.Logger
	core *core.Core
	ln   net.Listener
	srv  *http.Server

	// allocRuns times allocation passes (the core may not read the clock).
	allocRuns *runWindow

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
}

// New creates a master listening on the configured address. Call Run to
// start serving.
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
	if cfg.Build.Version == "" {
		cfg.Build = buildinfo.Read()
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(cfg.IP, strconv.Itoa(cfg.Port)))
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
	id := uuid.NewString()
	pid := "master@" + net.JoinHostPort(advertiseIP, strconv.Itoa(port))
	info := &mesos.MasterInfo{
		Id:       &id,
		Ip:       new(ipToUint32(advertiseIP)),
		Port:     new(uint32(port)),
		Pid:      &pid,
		Hostname: &hostname,
		Version:  new(cfg.Build.Version),
		Address:  &mesos.Address{Hostname: &hostname, Ip: &advertiseIP, Port: new(int32(port))},
		// No MasterInfo capability is advertised until its feature exists:
		// AGENT_UPDATE (agents changing their resources), AGENT_DRAINING
		// and QUOTA_V2 come with the issues that build them.
	}
	alloc := cfg.Allocator
	if alloc == nil {
		alloc = allocator.New(allocator.Options{AllocationInterval: cfg.AllocationInterval, Seed: time.Now().UnixNano()})
	}
	runs := &runWindow{max: 1000}
	alloc = timedAllocator{Allocator: alloc, runs: runs}
	m := &Master{
		cfg:            cfg,
		log:            cfg.Logger.With("component", "master"),
		core:           core.NewCore(info, cfg.Options, alloc, time.Now()),
		allocRuns:      runs,
		ln:             ln,
		reqs:           make(chan request),
		stopped:        make(chan struct{}),
		frameworkSinks: map[string]*sink{},
		agentSinks:     map[string]*sink{},
	}
	m.snap.Store(m.core.Snapshot())
	m.encoders = newGate(max(1, runtime.GOMAXPROCS(0)-1))
	m.warm = newWarmer()
	m.srv = &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 10 * time.Second}
	return m, nil
}

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

// Info is the master's MasterInfo.
func (m *Master) Info() *mesos.MasterInfo { return m.core.Info() }

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
	m.log.Info("master started", "id", m.core.Info().GetId(), "address", m.Addr())
	ticker := time.NewTicker(m.cfg.TickInterval)
	defer ticker.Stop()
	var err error
loop:
	for {
		select {
		case r := <-m.reqs:
			m.serve(r)
		case now := <-ticker.C:
			m.step(core.Tick{})
			m.commit(true)
			m.warm.published(now)
		case err = <-serveErr:
			break loop
		case <-ctx.Done():
			break loop
		}
	}
	close(m.stopped)
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
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	m.log.Info("master stopped")
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

// freshWait bounds how long a reader waits for the loop to publish.
const freshWait = 250 * time.Millisecond

// latest returns a snapshot that shows every call answered before it was
// asked for: a client that reads the state after its call was answered
// sees the call's effects. The loop publishes it between two batches, in
// microseconds; should the loop be busy longer than freshWait, or stopped,
// the reader gets the last published snapshot instead of waiting.
func (m *Master) latest() *core.Snapshot {
	r := request{fn: func() {}, done: make(chan struct{}), publish: true}
	t := time.NewTimer(freshWait)
	defer t.Stop()
	select {
	case m.reqs <- r:
		select {
		case <-r.done:
		case <-t.C:
		}
	case <-t.C:
	case <-m.stopped:
	}
	return m.snap.Load()
}

func (m *Master) send(r request) error {
	select {
	case m.reqs <- r:
	case <-m.stopped:
		return errStopped
	}
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
	for _, o := range m.core.Outputs() {
		switch o := o.(type) {
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
