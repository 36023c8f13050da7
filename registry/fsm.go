package registry

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/hashicorp/raft"
	"google.golang.org/protobuf/proto"

	registrypb "github.com/gomesos/gomesos/api/registry"
)

// snapshotMarshal encodes snapshots: deterministically, and without
// checking proto2's required fields, as every encoding and decoding here
// does. Apply never fails, and a registry an operation left without a
// required field (UPDATE_MASTER with no master_info) must not make every
// later snapshot fail, nor a committed entry fail to apply.
var snapshotMarshal = proto.MarshalOptions{Deterministic: true, AllowPartial: true}

// fsm is the Raft state machine: the registry every committed Batch has
// been applied to, in log order.
type fsm struct {
	mu  sync.Mutex
	tab *table
	// snapshots counts the snapshots persisted.
	snapshots atomic.Int64
}

func newFSM() *fsm { return &fsm{tab: newTable(nil)} }

var _ raft.FSM = (*fsm)(nil)

// Apply applies a committed entry. An entry that does not decode (which
// no Gomesos master writes) changes nothing; the error is the response of
// the Apply that wrote it.
func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	var b registrypb.Batch
	if err := (proto.UnmarshalOptions{AllowPartial: true}).Unmarshal(l.Data, &b); err != nil {
		return fmt.Errorf("registry: log entry %d is no batch: %w", l.Index, err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tab.applyBatch(&b)
	return nil
}

// Snapshot encodes the registry now; Raft persists it later, while the
// state machine goes on.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	data, err := snapshotMarshal.Marshal(f.tab.registry())
	if err != nil {
		return nil, fmt.Errorf("registry: encoding a snapshot: %w", err)
	}
	return &fsmSnapshot{data: data, count: &f.snapshots}, nil
}

// Restore replaces the registry with the snapshot's.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return fmt.Errorf("registry: reading a snapshot: %w", err)
	}
	reg := &registrypb.Registry{}
	if err := (proto.UnmarshalOptions{AllowPartial: true}).Unmarshal(data, reg); err != nil {
		return fmt.Errorf("registry: decoding a snapshot: %w", err)
	}
	tab := newTable(reg)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tab = tab
	return nil
}

// registry returns a copy of the registry.
func (f *fsm) registry() *registrypb.Registry {
	f.mu.Lock()
	defer f.mu.Unlock()
	return proto.Clone(f.tab.registry()).(*registrypb.Registry)
}

// size is the size of the encoded registry.
func (f *fsm) size() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tab.size()
}

type fsmSnapshot struct {
	data  []byte
	count *atomic.Int64
}

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s.data); err != nil {
		sink.Cancel()
		return fmt.Errorf("registry: writing a snapshot: %w", err)
	}
	if err := sink.Close(); err != nil {
		return fmt.Errorf("registry: closing a snapshot: %w", err)
	}
	s.count.Add(1)
	return nil
}

func (s *fsmSnapshot) Release() {}

// admittedAgents is the number of admitted agents.
func (f *fsm) admittedAgents() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.tab.agents.pos)
}
