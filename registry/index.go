package registry

import (
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	registrypb "github.com/gomesos/gomesos/api/registry"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// table is a registry kept with an index by agent id, so that an
// operation costs O(1) (amortized) instead of the scan of a list that
// Apply makes: registering 10,000 agents one by one through Apply is
// quadratic, and shows. Its operations have Apply's semantics exactly (a
// property test compares the two); the weights and the master, small and
// not indexed, are handed to Apply itself.
type table struct {
	agents      orderedSet[*registrypb.Registry_Agent]
	unreachable orderedSet[*registrypb.Registry_UnreachableAgent]
	gone        orderedSet[*registrypb.Registry_GoneAgent]
	// hasAgents, hasUnreachable and hasGone say whether the registry's
	// list messages are present (Apply creates them on first use and
	// keeps them when they empty), so that registry() equals Apply's
	// result as a message, not only as content.
	hasAgents, hasUnreachable, hasGone bool
	// rest holds the registry's other fields (master, weights, quotas, and
	// fields unknown to this build).
	rest *registrypb.Registry
}

// newTable indexes reg, which it takes over.
func newTable(reg *registrypb.Registry) *table {
	if reg == nil {
		reg = &registrypb.Registry{}
	}
	t := &table{
		agents:         newOrderedSet(entrySize[*registrypb.Registry_Agent]),
		unreachable:    newOrderedSet(entrySize[*registrypb.Registry_UnreachableAgent]),
		gone:           newOrderedSet(entrySize[*registrypb.Registry_GoneAgent]),
		hasAgents:      reg.Agents != nil,
		hasUnreachable: reg.Unreachable != nil,
		hasGone:        reg.Gone != nil,
	}
	for _, a := range reg.GetAgents().GetAgents() {
		t.agents.put(a.GetInfo().GetId().GetValue(), a)
	}
	for _, u := range reg.GetUnreachable().GetAgents() {
		t.unreachable.put(u.GetId().GetValue(), u)
	}
	for _, g := range reg.GetGone().GetAgents() {
		t.gone.put(g.GetId().GetValue(), g)
	}
	reg.Agents, reg.Unreachable, reg.Gone = nil, nil, nil
	t.rest = reg
	return t
}

// registry returns the registry the table holds. It shares the table's
// messages: clone or marshal it before the table changes again.
func (t *table) registry() *registrypb.Registry {
	reg := &registrypb.Registry{}
	proto.Merge(reg, t.rest) // a shallow copy would copy the message's internal state
	reg.Master, reg.Weights, reg.QuotaConfigs = t.rest.Master, t.rest.Weights, t.rest.QuotaConfigs
	if t.hasAgents {
		reg.Agents = &registrypb.Registry_Agents{Agents: t.agents.list()}
	}
	if t.hasUnreachable {
		reg.Unreachable = &registrypb.Registry_UnreachableAgents{Agents: t.unreachable.list()}
	}
	if t.hasGone {
		reg.Gone = &registrypb.Registry_GoneAgents{Agents: t.gone.list()}
	}
	return reg
}

// size is proto.Size(t.registry()), kept as the lists change: the
// metrics report it, and sizing 10,000 agents' entries at every read took
// milliseconds.
func (t *table) size() int {
	n := proto.Size(t.rest)
	for _, l := range []struct {
		has   bool
		bytes int
	}{{t.hasAgents, t.agents.bytes}, {t.hasUnreachable, t.unreachable.bytes}, {t.hasGone, t.gone.bytes}} {
		if l.has {
			n += 1 + protowire.SizeVarint(uint64(l.bytes)) + l.bytes // fields 2, 7 and 8
		}
	}
	return n
}

// entrySize is what an entry of a list message's repeated field 1 takes
// encoded: its tag, its length, itself.
func entrySize[T proto.Message](v T) int {
	n := proto.Size(v)
	return 1 + protowire.SizeVarint(uint64(n)) + n
}

// applyBatch applies every operation of b in order.
func (t *table) applyBatch(b *registrypb.Batch) {
	for _, op := range b.GetOperations() {
		t.apply(op)
	}
}

// apply is Apply(t.registry(), op).
func (t *table) apply(op *registrypb.Operation) {
	switch op.GetType() {
	case registrypb.Operation_ADMIT_AGENT, registrypb.Operation_UPDATE_AGENT:
		t.admit(op.GetAgentInfo())
	case registrypb.Operation_MARK_AGENT_UNREACHABLE:
		id := op.GetAgentId().GetValue()
		t.agents.remove(id)
		t.hasUnreachable = true
		t.unreachable.remove(id)
		t.unreachable.put(id, &registrypb.Registry_UnreachableAgent{
			Id: agentID(id), Timestamp: proto.Clone(timestampOf(op)).(*mesos.TimeInfo),
		})
	case registrypb.Operation_MARK_AGENT_REACHABLE:
		t.unreachable.remove(op.GetAgentInfo().GetId().GetValue())
		t.admit(op.GetAgentInfo())
	case registrypb.Operation_MARK_AGENT_GONE:
		id := op.GetAgentId().GetValue()
		t.agents.remove(id)
		t.unreachable.remove(id)
		t.hasGone = true
		if t.gone.get(id) == nil {
			t.gone.put(id, &registrypb.Registry_GoneAgent{
				Id: agentID(id), Timestamp: proto.Clone(timestampOf(op)).(*mesos.TimeInfo),
			})
		}
	case registrypb.Operation_REMOVE_AGENT:
		t.agents.remove(op.GetAgentId().GetValue())
	case registrypb.Operation_PRUNE:
		for _, id := range op.GetPruneUnreachable() {
			t.unreachable.remove(id.GetValue())
		}
		for _, id := range op.GetPruneGone() {
			t.gone.remove(id.GetValue())
		}
	case registrypb.Operation_UPDATE_AGENT_STATE:
		id := op.GetAgentId().GetValue()
		if a := t.agents.get(id); a != nil {
			a.DrainInfo = nil
			if op.DrainInfo != nil {
				a.DrainInfo = proto.Clone(op.DrainInfo).(*registrypb.DrainInfo)
			}
			a.Deactivated = nil
			if op.GetDeactivated() {
				a.Deactivated = proto.Bool(true)
			}
			t.agents.resize(id)
		}
	default:
		// The weights, the quotas, the master, maintenance, and operations unknown
		// to this build: nothing indexed changes.
		Apply(t.rest, op)
	}
}

func (t *table) admit(info *mesos.AgentInfo) {
	id := info.GetId().GetValue()
	if id == "" {
		return
	}
	t.hasAgents = true
	info = proto.Clone(info).(*mesos.AgentInfo)
	if a := t.agents.get(id); a != nil {
		a.Info = info
		t.agents.resize(id)
		return
	}
	t.agents.put(id, &registrypb.Registry_Agent{Info: info})
}

// orderedSet keeps values by key in the order they were put, with O(1)
// lookup, append and removal: a removal leaves a hole that a later
// compaction closes, once holes are half the slice. It keeps the sum of
// its values' sizes (sizeOf) in bytes: a value changed in place is
// resized.
type orderedSet[T comparable] struct {
	items  []T
	keys   []string
	sizes  []int
	pos    map[string]int
	holes  int
	sizeOf func(T) int
	bytes  int
}

func newOrderedSet[T comparable](sizeOf func(T) int) orderedSet[T] {
	return orderedSet[T]{pos: map[string]int{}, sizeOf: sizeOf}
}

// resize sizes key's value again, after it changed in place.
func (s *orderedSet[T]) resize(key string) {
	if i, ok := s.pos[key]; ok {
		n := s.sizeOf(s.items[i])
		s.bytes += n - s.sizes[i]
		s.sizes[i] = n
	}
}

// get returns key's value, the zero T when there is none.
func (s *orderedSet[T]) get(key string) T {
	var zero T
	if i, ok := s.pos[key]; ok {
		return s.items[i]
	}
	return zero
}

// put replaces key's value in place, or appends it.
func (s *orderedSet[T]) put(key string, v T) {
	n := s.sizeOf(v)
	if i, ok := s.pos[key]; ok {
		s.items[i] = v
		s.bytes += n - s.sizes[i]
		s.sizes[i] = n
		return
	}
	s.pos[key] = len(s.items)
	s.items = append(s.items, v)
	s.keys = append(s.keys, key)
	s.sizes = append(s.sizes, n)
	s.bytes += n
}

// remove forgets key, if it is there.
func (s *orderedSet[T]) remove(key string) {
	i, ok := s.pos[key]
	if !ok {
		return
	}
	var zero T
	delete(s.pos, key)
	s.bytes -= s.sizes[i]
	s.items[i], s.keys[i], s.sizes[i] = zero, "", 0
	s.holes++
	if s.holes > 16 && s.holes*2 > len(s.items) {
		s.compact()
	}
}

func (s *orderedSet[T]) compact() {
	var zero T
	items, keys, sizes := s.items[:0], s.keys[:0], s.sizes[:0]
	for i, v := range s.items {
		if v != zero {
			s.pos[s.keys[i]] = len(items)
			items = append(items, v)
			keys = append(keys, s.keys[i])
			sizes = append(sizes, s.sizes[i])
		}
	}
	clear(s.items[len(items):])
	clear(s.keys[len(keys):])
	s.items, s.keys, s.sizes, s.holes = items, keys, sizes, 0
}

// list returns the values in order.
func (s *orderedSet[T]) list() []T {
	var zero T
	out := make([]T, 0, len(s.pos))
	for _, v := range s.items {
		if v != zero {
			out = append(out, v)
		}
	}
	return out
}
