package registry

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/proto"
	"pgregory.net/rapid"

	registrypb "github.com/gomesos/gomesos/api/registry"
	"github.com/gomesos/gomesos/api/v1/maintenance"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/api/v1/quota"
)

// genOperation draws an operation of any type (unknown ones included, and
// any type added to the enum later) on a few agent ids, with any of the
// fields set, so that a table meets every case Apply has.
func genOperation(t *rapid.T) *registrypb.Operation {
	types := registrypb.Operation_UNKNOWN.Descriptor().Values()
	ids := []string{"", "a", "b", "c", "d"}
	id := func(label string) *mesos.AgentID {
		return agentID(rapid.SampledFrom(ids).Draw(t, label))
	}
	op := &registrypb.Operation{Type: registrypb.Operation_Type(rapid.IntRange(0, types.Len()).Draw(t, "type")).Enum()}
	if rapid.Bool().Draw(t, "has_info") {
		op.AgentInfo = &mesos.AgentInfo{Id: id("info_id"), Hostname: proto.String(rapid.SampledFrom([]string{"h1", "h2"}).Draw(t, "host"))}
	}
	if rapid.Bool().Draw(t, "has_id") {
		op.AgentId = id("id")
	}
	if rapid.Bool().Draw(t, "has_timestamp") {
		op.Timestamp = ts(rapid.Int64Range(0, 3).Draw(t, "ns"))
	}
	for range rapid.IntRange(0, 2).Draw(t, "prunes_unreachable") {
		op.PruneUnreachable = append(op.PruneUnreachable, id("prune_unreachable"))
	}
	for range rapid.IntRange(0, 2).Draw(t, "prunes_gone") {
		op.PruneGone = append(op.PruneGone, id("prune_gone"))
	}
	for range rapid.IntRange(0, 2).Draw(t, "weights") {
		op.Weights = append(op.Weights, &registrypb.Registry_Weight{
			Role:   proto.String(rapid.SampledFrom([]string{"r1", "r2"}).Draw(t, "role")),
			Weight: proto.Float64(float64(rapid.IntRange(1, 3).Draw(t, "weight"))),
		})
	}
	for range rapid.IntRange(0, 2).Draw(t, "quota_configs") {
		qc := &quota.QuotaConfig{Role: proto.String(rapid.SampledFrom([]string{"r1", "r2"}).Draw(t, "quota_role"))}
		if rapid.Bool().Draw(t, "has_guarantee") {
			qc.Guarantees = map[string]*mesos.Value_Scalar{"cpus": {Value: proto.Float64(float64(rapid.IntRange(0, 3).Draw(t, "guarantee")))}}
		}
		if rapid.Bool().Draw(t, "has_limit") {
			qc.Limits = map[string]*mesos.Value_Scalar{"mem": {Value: proto.Float64(float64(rapid.IntRange(0, 3).Draw(t, "limit")))}}
		}
		op.QuotaConfigs = append(op.QuotaConfigs, qc)
	}
	if rapid.Bool().Draw(t, "has_master") {
		op.MasterInfo = &mesos.MasterInfo{Id: proto.String("m"), Ip: proto.Uint32(1), Port: proto.Uint32(5050)}
	}
	if rapid.Bool().Draw(t, "has_drain") {
		op.DrainInfo = &registrypb.DrainInfo{State: registrypb.DrainInfo_DRAINING.Enum()}
	}
	if rapid.Bool().Draw(t, "has_deactivated") {
		op.Deactivated = proto.Bool(rapid.Bool().Draw(t, "deactivated"))
	}
	if rapid.Bool().Draw(t, "has_schedule") {
		op.Schedule = &maintenance.Schedule{}
		for range rapid.IntRange(0, 2).Draw(t, "windows") {
			op.Schedule.Windows = append(op.Schedule.Windows, &maintenance.Window{
				MachineIds:     []*mesos.MachineID{{Hostname: proto.String(rapid.SampledFrom([]string{"h1", "h2"}).Draw(t, "machine"))}},
				Unavailability: &mesos.Unavailability{Start: ts(rapid.Int64Range(0, 3).Draw(t, "start"))},
			})
		}
	}
	if rapid.Bool().Draw(t, "has_machines") {
		op.Machines = &registrypb.Registry_Machines{}
		for range rapid.IntRange(0, 2).Draw(t, "machines") {
			op.Machines.Machines = append(op.Machines.Machines, &registrypb.Registry_Machine{Info: &mesos.MachineInfo{
				Id:   &mesos.MachineID{Ip: proto.String(rapid.SampledFrom([]string{"10.0.0.1", "10.0.0.2"}).Draw(t, "ip"))},
				Mode: mesos.MachineInfo_Mode(rapid.IntRange(1, 3).Draw(t, "mode")).Enum(),
			}})
		}
	}
	return op
}

// The indexed table and Apply agree on every sequence of operations, step
// by step, and a table rebuilt from the registry (as a snapshot restores
// it) goes on agreeing.
func TestTableAppliesAsApply(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		want := &registrypb.Registry{}
		tab := newTable(nil)
		n := rapid.IntRange(1, 60).Draw(t, "ops")
		for i := range n {
			op := genOperation(t)
			Apply(want, op)
			tab.apply(op)
			if got := tab.registry(); !proto.Equal(got, want) {
				t.Fatalf("after operation %d (%v):\ntable %v\nApply %v", i, op, got, want)
			}
			if got, want := tab.size(), proto.Size(want); got != want {
				t.Fatalf("after operation %d (%v): the table says the registry takes %d bytes, it takes %d", i, op, got, want)
			}
			if rapid.IntRange(0, 9).Draw(t, "restore") == 0 {
				data, err := snapshotMarshal.Marshal(tab.registry())
				if err != nil {
					t.Fatal(err)
				}
				reg := &registrypb.Registry{}
				if err := (proto.UnmarshalOptions{AllowPartial: true}).Unmarshal(data, reg); err != nil {
					t.Fatal(err)
				}
				tab = newTable(reg)
			}
		}
	})
}

// Holes left by removals are compacted without changing the order.
func TestOrderedSetCompacts(t *testing.T) {
	s := newOrderedSet(func(*int) int { return 2 })
	vals := make([]int, 100)
	for i := range vals {
		vals[i] = i
		s.put(fmt.Sprint(i), &vals[i])
	}
	for i := 0; i < 100; i += 3 {
		s.remove(fmt.Sprint(i))
	}
	for i := 1; i < 100; i += 3 {
		s.remove(fmt.Sprint(i))
	}
	if len(s.items) >= 100 {
		t.Errorf("%d slots for %d values: no compaction", len(s.items), len(s.pos))
	}
	got := s.list()
	if len(got) != 33 || s.bytes != 2*33 {
		t.Fatalf("%d values left in %d bytes, want 33 in 66", len(got), s.bytes)
	}
	for i, v := range got {
		if *v != 3*i+2 || s.get(fmt.Sprint(*v)) != v {
			t.Fatalf("value %d is %d, want %d (or the index lost it)", i, *v, 3*i+2)
		}
	}
}

// churn admits n agents, marks them all unreachable, then prunes them.
func churn(n int, apply func(*registrypb.Operation)) {
	for i := range n {
		apply(opAdmit(fmt.Sprintf("agent-%d", i), "h"))
	}
	for i := range n {
		apply(opOn(registrypb.Operation_MARK_AGENT_UNREACHABLE, fmt.Sprintf("agent-%d", i), int64(i)))
	}
	for i := range n {
		apply(&registrypb.Operation{Type: registrypb.Operation_PRUNE.Enum(), PruneUnreachable: []*mesos.AgentID{agentID(fmt.Sprintf("agent-%d", i))}})
	}
}

// BenchmarkChurn10k compares the table with Apply on a registry of 10,000
// agents.
func BenchmarkChurn10k(b *testing.B) {
	b.Run("table", func(b *testing.B) {
		for b.Loop() {
			tab := newTable(nil)
			churn(10000, tab.apply)
		}
	})
	b.Run("Apply", func(b *testing.B) {
		for b.Loop() {
			reg := &registrypb.Registry{}
			churn(10000, func(op *registrypb.Operation) { Apply(reg, op) })
		}
	})
}
