package registry

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"google.golang.org/protobuf/proto"

	registrypb "github.com/gomesos/gomesos/api/registry"
)

// The defaults of ReplicatedConfig.
const (
	// A follower that hears nothing from the leader for a heartbeat
	// timeout (a random time between one and two of them) holds an
	// election: 300ms elects a new leader within a second of the old
	// one's death on a LAN; busy or distant masters want more.
	DefaultHeartbeatTimeout   = 300 * time.Millisecond
	DefaultElectionTimeout    = 300 * time.Millisecond
	DefaultLeaderLeaseTimeout = 300 * time.Millisecond
	DefaultCommitTimeout      = 10 * time.Millisecond
	DefaultSnapshotThreshold  = 8192
	DefaultSnapshotInterval   = 30 * time.Second
	DefaultTrailingLogs       = 10240
)

// maxApplyTimeout bounds Apply and Fetch when their context has no
// deadline.
const maxApplyTimeout = 20 * time.Second

// ReplicatedConfig configures a Replicated store. Zero durations and
// counts take the defaults above.
type ReplicatedConfig struct {
	// Dir is the store's directory (the master passes
	// <work_dir>/registry): Raft's log and stable store in raft.db, and
	// snapshots under snapshots/. It is created if missing.
	Dir string
	// Self is this master's HTTP address, "host:port", as its peers dial
	// it: its Raft server ID and address.
	Self string
	// Peers are the addresses of every master of the ensemble, Self
	// included. Empty, or Self alone, is a cluster of one, which elects
	// itself at once. They make the first configuration of a store with
	// no state; a store with state keeps the configuration it has.
	Peers []string
	// StreamLayer carries Raft's connections (NewStreamLayer(Self),
	// mounted at RaftPath on the master's HTTP server). The store closes
	// it when it closes, or when NewReplicated fails.
	StreamLayer *StreamLayer

	// HeartbeatTimeout and ElectionTimeout are how long a follower, and a
	// candidate, wait without a leader before they start an election.
	HeartbeatTimeout, ElectionTimeout time.Duration
	// LeaderLeaseTimeout is how long a leader stays leader without
	// hearing from a quorum.
	LeaderLeaseTimeout time.Duration
	// CommitTimeout is how long a leader waits before it sends an entry
	// it has not yet been able to batch.
	CommitTimeout time.Duration
	// SnapshotThreshold is how many log entries, since the last snapshot,
	// make the next one; SnapshotInterval is how often that is checked.
	SnapshotThreshold uint64
	SnapshotInterval  time.Duration
	// TrailingLogs is how many entries a snapshot leaves in the log, so a
	// follower a little behind catches up without the whole snapshot.
	TrailingLogs uint64

	// Logger receives Raft's output one level down (Raft's INFO is Debug).
	Logger *slog.Logger
}

// Replicated is a Store replicated by Raft among the masters
// (`--registry=replicated_log`): hashicorp/raft with its log and stable
// store in bbolt, snapshots on disk, and its connections over the masters'
// HTTP port through a StreamLayer.
type Replicated struct {
	raft     *raft.Raft
	fsm      *fsm
	logs     *raftboltdb.BoltStore
	layer    *StreamLayer
	observer *raft.Observer
	log      *slog.Logger

	// quiet is how long a follower goes without a word from the leader
	// before Leader names none (half the heartbeat timeout).
	quiet time.Duration
	self  string
	// hurrying is set while connEnded looks into a leader's connection
	// that ended; hurries counts the elections it hurried (hurry.go).
	hurrying atomic.Bool
	hurries  atomic.Int64
	// gone is the leader whose process connEnded found gone, and its last
	// word then: Leader names it no more until it speaks again.
	gone atomic.Pointer[goneLeader]

	lead          chan bool
	stopLead      chan struct{}
	leadDone      chan struct{}
	leaderChanges atomic.Int64

	closeOnce sync.Once
	closeErr  error
}

var _ Store = (*Replicated)(nil)

// validate checks cfg and fills in its defaults.
func (cfg *ReplicatedConfig) validate() error {
	if cfg.Dir == "" {
		return errors.New("registry: no directory for the replicated store")
	}
	if err := checkHostPort(cfg.Self); err != nil {
		return fmt.Errorf("registry: this master's address: %w", err)
	}
	if len(cfg.Peers) == 0 {
		cfg.Peers = []string{cfg.Self}
	}
	seen := map[string]bool{}
	for _, p := range cfg.Peers {
		if err := checkHostPort(p); err != nil {
			return fmt.Errorf("registry: master %q: %w", p, err)
		}
		if seen[p] {
			return fmt.Errorf("registry: master %q is named twice in the masters", p)
		}
		seen[p] = true
	}
	if !seen[cfg.Self] {
		return fmt.Errorf("registry: this master's address %q is not among the masters %v", cfg.Self, cfg.Peers)
	}
	if cfg.StreamLayer == nil {
		return errors.New("registry: no stream layer for the replicated store")
	}
	if a := cfg.StreamLayer.Addr().String(); a != cfg.Self {
		return fmt.Errorf("registry: the stream layer advertises %q, not this master's address %q", a, cfg.Self)
	}
	setDefault(&cfg.HeartbeatTimeout, DefaultHeartbeatTimeout)
	setDefault(&cfg.ElectionTimeout, DefaultElectionTimeout)
	setDefault(&cfg.LeaderLeaseTimeout, DefaultLeaderLeaseTimeout)
	setDefault(&cfg.CommitTimeout, DefaultCommitTimeout)
	setDefault(&cfg.SnapshotThreshold, DefaultSnapshotThreshold)
	setDefault(&cfg.SnapshotInterval, DefaultSnapshotInterval)
	setDefault(&cfg.TrailingLogs, DefaultTrailingLogs)
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// checkHostPort checks that addr is "host:port" with a host and a port
// number.
func checkHostPort(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", addr, err)
	}
	if host == "" {
		return fmt.Errorf("%q has no host", addr)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q has no port number in 1-65535", addr)
	}
	return nil
}

// NewReplicated opens (or creates) the store in cfg.Dir and starts its
// Raft server. A store with no state yet bootstraps with every peer as a
// voter; every master of a new ensemble does so with the same peers, and
// they elect a leader among themselves.
func NewReplicated(cfg ReplicatedConfig) (*Replicated, error) {
	s, err := newReplicated(cfg)
	if err != nil && cfg.StreamLayer != nil {
		cfg.StreamLayer.Close()
	}
	return s, err
}

func newReplicated(cfg ReplicatedConfig) (*Replicated, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("registry: %w", err)
	}
	hlog := newHCLogger(cfg.Logger.With("component", "raft"))

	logs, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(cfg.Dir, "raft.db")})
	if err != nil {
		return nil, fmt.Errorf("registry: opening the raft log in %s: %w", cfg.Dir, err)
	}
	cleanup := func() { logs.Close() }
	snaps, err := raft.NewFileSnapshotStoreWithLogger(cfg.Dir, 2, hlog.Named("snapshot"))
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("registry: opening the snapshots in %s: %w", cfg.Dir, err)
	}
	cached, err := raft.NewLogCache(512, logs)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("registry: %w", err)
	}
	trans := raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  cfg.StreamLayer,
		MaxPool: 3,
		Timeout: 10 * time.Second,
		Logger:  hlog.Named("transport"),
	})
	cleanup = func() {
		trans.Close()
		logs.Close()
	}

	notify := make(chan bool, 1)
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.Self)
	rc.HeartbeatTimeout = cfg.HeartbeatTimeout
	rc.ElectionTimeout = cfg.ElectionTimeout
	rc.LeaderLeaseTimeout = cfg.LeaderLeaseTimeout
	if hurried := cfg.HeartbeatTimeout - time.Millisecond; rc.LeaderLeaseTimeout > hurried && hurried >= 5*time.Millisecond {
		// Raft wants the lease no longer than the heartbeat timeout, which
		// a hurried election lowers by a millisecond (hurry.go).
		rc.LeaderLeaseTimeout = hurried
	}
	rc.CommitTimeout = cfg.CommitTimeout
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.TrailingLogs = cfg.TrailingLogs
	rc.BatchApplyCh = true
	rc.NotifyCh = notify
	rc.Logger = hlog
	rc.NoLegacyTelemetry = true
	if err := raft.ValidateConfig(rc); err != nil {
		cleanup()
		return nil, fmt.Errorf("registry: %w", err)
	}

	existing, err := raft.HasExistingState(cached, logs, snaps)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("registry: reading the raft state in %s: %w", cfg.Dir, err)
	}
	if !existing {
		var conf raft.Configuration
		for _, p := range cfg.Peers {
			conf.Servers = append(conf.Servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p), Address: raft.ServerAddress(p)})
		}
		if err := raft.BootstrapCluster(rc, cached, logs, snaps, trans, conf); err != nil {
			cleanup()
			return nil, fmt.Errorf("registry: bootstrapping the raft cluster %v: %w", cfg.Peers, err)
		}
	} else if len(cfg.Peers) <= 1 {
		if err := moveLoneNode(rc, cached, logs, snaps, trans, cfg.Self); err != nil {
			cleanup()
			return nil, err
		}
	}

	s := &Replicated{
		fsm:      newFSM(),
		logs:     logs,
		layer:    cfg.StreamLayer,
		log:      cfg.Logger,
		quiet:    cfg.HeartbeatTimeout / 2,
		self:     cfg.Self,
		lead:     make(chan bool, 1),
		stopLead: make(chan struct{}),
		leadDone: make(chan struct{}),
	}
	r, err := raft.NewRaft(rc, s.fsm, cached, logs, snaps, trans)
	if err != nil {
		cleanup()
		return nil, fmt.Errorf("registry: starting raft: %w", err)
	}
	s.raft = r
	// The filter counts and lets nothing through: no channel to drain.
	s.observer = raft.NewObserver(nil, false, func(o *raft.Observation) bool {
		if lo, ok := o.Data.(raft.LeaderObservation); ok && lo.LeaderID != "" {
			s.leaderChanges.Add(1)
		}
		return false
	})
	r.RegisterObserver(s.observer)
	cfg.StreamLayer.onPeerGone(s.connEnded)
	go s.relayLeadership(notify, r.State() == raft.Leader)
	return s, nil
}

// moveLoneNode lets a cluster of one keep its registry when its address
// changed (another --port or --hostname): its configuration, one server
// under the old address, becomes one under self. A store that was one of
// several is refused: started alone, it would make a second cluster.
func moveLoneNode(rc *raft.Config, logs raft.LogStore, stable raft.StableStore, snaps raft.SnapshotStore, trans raft.Transport, self string) error {
	// GetConfiguration marks the config it is given to start nothing: it
	// gets a copy.
	probe := *rc
	conf, err := raft.GetConfiguration(&probe, newFSM(), logs, stable, snaps, trans)
	if err != nil {
		return fmt.Errorf("registry: reading the raft configuration: %w", err)
	}
	switch {
	case len(conf.Servers) > 1:
		var peers []string
		for _, sv := range conf.Servers {
			peers = append(peers, string(sv.Address))
		}
		return fmt.Errorf("registry: this registry belongs to the masters %s: start this master with --masters listing them", strings.Join(peers, ","))
	case len(conf.Servers) == 1 && string(conf.Servers[0].ID) != self:
		moved := raft.Configuration{Servers: []raft.Server{{Suffrage: raft.Voter, ID: raft.ServerID(self), Address: raft.ServerAddress(self)}}}
		recover := *rc
		if err := raft.RecoverCluster(&recover, newFSM(), logs, stable, snaps, trans, moved); err != nil {
			return fmt.Errorf("registry: moving the registry of %s to %s: %w", conf.Servers[0].Address, self, err)
		}
	}
	return nil
}

// relayLeadership passes Raft's leadership changes on to s.lead, never
// blocking Raft: a master slow to receive sees only the latest value, and
// never the same value twice in a row.
func (s *Replicated) relayLeadership(notify <-chan bool, leading bool) {
	defer close(s.leadDone)
	defer close(s.lead)
	want := leading
	s.lead <- want // the buffer is empty
	sent := want
	for {
		var out chan<- bool
		if want != sent {
			out = s.lead
		}
		select {
		case v := <-notify:
			want = v
		case out <- want:
			sent = want
		case <-s.stopLead:
			// A store that closes stops leading, whether or not Raft
			// said so on its way down.
			if sent {
				select {
				case <-s.lead: // the true was never received: take it back
				default:
					s.lead <- false // the buffer is empty: true was received
				}
			}
			return
		}
	}
}

// Leadership delivers this store's leadership changes, starting with
// whether it leads when it starts (false, as a rule: an election takes a
// heartbeat timeout). The last value before Close closes the channel is
// false.
func (s *Replicated) Leadership() <-chan bool { return s.lead }

// Leader is the address of the leader this store knows of and has heard
// from lately. A follower that has had no word from the leader for half a
// heartbeat timeout (the leader sends one every tenth) names none, though
// Raft waits the whole timeout before it holds an election: the leader is
// likely gone, and whoever looks for it (an agent, a scheduler) had better
// wait for the next one than be sent to a dead one.
func (s *Replicated) Leader() string {
	addr, _ := s.raft.LeaderWithID()
	if addr == "" {
		return ""
	}
	if s.raft.State() != raft.Leader {
		last := s.raft.LastContact()
		if time.Since(last) > s.quiet {
			return ""
		}
		if g := s.gone.Load(); g != nil && g.addr == string(addr) && !last.After(g.lastContact) {
			return "" // its process is gone (hurry.go)
		}
	}
	return string(addr)
}

// timeout is what is left of ctx, or maxApplyTimeout.
func timeout(ctx context.Context) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	d, ok := ctx.Deadline()
	if !ok {
		return maxApplyTimeout, nil
	}
	left := time.Until(d)
	if left <= 0 {
		return 0, context.DeadlineExceeded
	}
	return min(left, maxApplyTimeout), nil
}

// wait waits for f, or for ctx to end.
func wait(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// raftError maps Raft's errors saying this store does not (or no longer)
// lead to ErrNotLeader, keeping the cause.
func (s *Replicated) raftError(what string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipLost),
		errors.Is(err, raft.ErrLeadershipTransferInProgress), errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%w: %s: %w", ErrNotLeader, what, err)
	case errors.Is(err, raft.ErrEnqueueTimeout) && s.raft.State() != raft.Leader:
		return fmt.Errorf("%w: %s: %w", ErrNotLeader, what, err)
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("registry: %s: %w: %w", what, context.DeadlineExceeded, err)
	}
	return fmt.Errorf("registry: %s: %w", what, err)
}

// Apply commits ops as one log entry and waits until a quorum has it and
// this store applied it.
func (s *Replicated) Apply(ctx context.Context, ops []*registrypb.Operation) error {
	// Like InMemory, and like Apply, the store takes operations without
	// checking proto2's required fields.
	data, err := (proto.MarshalOptions{AllowPartial: true}).Marshal(&registrypb.Batch{Operations: ops})
	if err != nil {
		return fmt.Errorf("registry: encoding %d operations: %w", len(ops), err)
	}
	d, err := timeout(ctx)
	if err != nil {
		return err
	}
	if s.raft.State() != raft.Leader {
		return s.raftError("apply", raft.ErrNotLeader)
	}
	f := s.raft.Apply(data, d)
	if err := wait(ctx, f); err != nil {
		return s.raftError("apply", err)
	}
	if err, ok := f.Response().(error); ok {
		return err
	}
	return nil
}

// Fetch waits until this leader has applied every committed entry (a
// barrier) and returns a copy of the registry.
func (s *Replicated) Fetch(ctx context.Context) (*registrypb.Registry, error) {
	d, err := timeout(ctx)
	if err != nil {
		return nil, err
	}
	if s.raft.State() != raft.Leader {
		return nil, s.raftError("fetch", raft.ErrNotLeader)
	}
	if err := wait(ctx, s.raft.Barrier(d)); err != nil {
		return nil, s.raftError("fetch", err)
	}
	return s.fsm.registry(), nil
}

// Local returns a copy of the registry as this store has applied it, on
// any store, leader or not: what a follower has replicated so far.
func (s *Replicated) Local() *registrypb.Registry { return s.fsm.registry() }

// Snapshot takes a snapshot now and compacts the log (down to
// TrailingLogs entries).
func (s *Replicated) Snapshot() error {
	if err := s.raft.Snapshot().Error(); err != nil {
		return fmt.Errorf("registry: snapshot: %w", err)
	}
	return nil
}

// Stats are the store's figures.
func (s *Replicated) Stats() Stats {
	st := Stats{
		State:             s.raft.State().String(),
		LeaderChanges:     s.leaderChanges.Load(),
		RegistrySizeBytes: s.fsm.size(),
		AppliedIndex:      s.raft.AppliedIndex(),
		CommitIndex:       s.raft.CommitIndex(),
		Snapshots:         s.fsm.snapshots.Load(),
		HurriedElections:  s.hurries.Load(),
		LastContact:       s.raft.LastContact(),
	}
	if f := s.raft.GetConfiguration(); f.Error() == nil {
		st.Peers = len(f.Configuration().Servers)
	}
	st.Term, _ = strconv.ParseUint(s.raft.Stats()["term"], 10, 64)
	st.FirstLogIndex, _ = s.logs.FirstIndex()
	st.LastLogIndex, _ = s.logs.LastIndex()
	return st
}

// Close shuts Raft down, closes its transport and its log, and closes the
// Leadership channel. It leaves the state on disk, and may be called more
// than once.
func (s *Replicated) Close() error {
	s.closeOnce.Do(func() {
		s.raft.DeregisterObserver(s.observer)
		errs := []error{s.raft.Shutdown().Error()}
		// Raft closed the transport, and the transport the layer; the
		// layer closes the connections still open.
		errs = append(errs, s.layer.Close(), s.logs.Close())
		close(s.stopLead)
		<-s.leadDone
		if err := errors.Join(errs...); err != nil {
			s.closeErr = fmt.Errorf("registry: closing the replicated store: %w", err)
		}
	})
	return s.closeErr
}

// AdmittedAgents is the number of agents admitted in the registry as this
// store has applied it, leader or not. A follower sizes what it keeps
// ready for a takeover by it (the master's standby reserve).
func (s *Replicated) AdmittedAgents() int { return s.fsm.admittedAgents() }
