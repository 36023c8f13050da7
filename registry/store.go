package registry

import (
	"context"
	"errors"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	registrypb "github.com/gomesos/gomesos/api/registry"
)

// ErrNotLeader is returned by Store.Apply and Store.Fetch on a store that
// does not lead (or no longer does).
var ErrNotLeader = errors.New("registry: this master is not the leader")

// Store keeps the registry and says who leads. Every method is safe for
// concurrent use.
type Store interface {
	// Fetch returns the committed registry, once this store leads and has
	// applied everything committed before it was elected (a Raft
	// barrier). The master calls it on election, bounded by
	// --registry_fetch_timeout through ctx.
	Fetch(ctx context.Context) (*registrypb.Registry, error)
	// Apply commits ops, in order, as one entry, and returns once they are
	// durable (on a quorum of the masters, for a replicated store). It
	// fails with ErrNotLeader, or with ctx's error (the master bounds it by
	// --registry_store_timeout); ops may then have been committed or not.
	Apply(ctx context.Context, ops []*registrypb.Operation) error
	// Leadership delivers true when this store becomes the leader and false
	// when it stops being it, in order, never two equal values in a row;
	// the first value is false unless the store leads from the start. The
	// channel is closed by Close.
	Leadership() <-chan bool
	// Leader is the address ("host:port", the master's HTTP address) of the
	// master believed to lead, "" when none is known.
	Leader() string
	// Stats are the store's figures for /metrics/snapshot.
	Stats() Stats
	// Close stops the store; a replicated store leaves its state on disk.
	Close() error
}

// Stats are a store's figures, named after what they measure.
type Stats struct {
	// State is the Raft state: "Leader", "Follower", "Candidate" or
	// "Shutdown" ("Leader" for an in-memory store).
	State string
	// Peers is the number of masters in the configuration (the ensemble).
	Peers int
	// LeaderChanges counts the times this store saw the leader change.
	LeaderChanges int64
	// RegistrySizeBytes is the size of the encoded registry.
	RegistrySizeBytes int
	// AppliedIndex and CommitIndex are the Raft indexes (0 in memory).
	AppliedIndex, CommitIndex uint64
	// Snapshots counts the snapshots taken since the store started.
	Snapshots int64
	// Term is the Raft term (0 in memory).
	Term uint64
	// FirstLogIndex and LastLogIndex bound the Raft log on disk: the
	// first moves up as snapshots compact the log (0 in memory).
	FirstLogIndex, LastLogIndex uint64
	// HurriedElections counts the elections this follower started at
	// once because the leader's process was gone (0 in memory).
	HurriedElections int64
	// LastContact is when a follower last heard from a leader (zero in
	// memory and before any contact; on a leader, it is stale).
	LastContact time.Time
}

// InMemory is a Store that keeps the registry in memory (`--registry=
// in_memory`): a cluster of one that leads from its start and forgets
// everything when the process ends.
type InMemory struct {
	mu     sync.Mutex
	reg    *registrypb.Registry
	lead   chan bool
	closed bool
}

// NewInMemory returns an in-memory store holding reg (an empty registry
// when reg is nil).
func NewInMemory(reg *registrypb.Registry) *InMemory {
	if reg == nil {
		reg = &registrypb.Registry{}
	}
	s := &InMemory{reg: proto.Clone(reg).(*registrypb.Registry), lead: make(chan bool, 1)}
	s.lead <- true
	return s
}

// Fetch returns a copy of the registry.
func (s *InMemory) Fetch(ctx context.Context) (*registrypb.Registry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrNotLeader
	}
	return proto.Clone(s.reg).(*registrypb.Registry), nil
}

// Apply applies ops at once. It keeps the AgentInfo of an operation that
// admits or updates an agent as it is, not a clone: the caller must not
// change it after (the master's core never changes an AgentInfo it hands
// over; it replaces an agent's info).
func (s *InMemory) Apply(ctx context.Context, ops []*registrypb.Operation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrNotLeader
	}
	for _, op := range ops {
		applyKeeping(s.reg, op)
	}
	return nil
}

// Leadership delivers true once.
func (s *InMemory) Leadership() <-chan bool { return s.lead }

// Leader is "": an in-memory store has no address of its own, and the
// master that holds it leads.
func (s *InMemory) Leader() string { return "" }

// Stats reports the registry's size.
func (s *InMemory) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{State: "Leader", Peers: 1, RegistrySizeBytes: proto.Size(s.reg)}
}

// Close makes the store refuse further calls.
func (s *InMemory) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.lead)
	}
	return nil
}

// RaftPath is where a master serves the registry's traffic between masters
// (Raft's RPCs, over HTTP connections upgraded to raw streams).
const RaftPath = "/internal/raft"
