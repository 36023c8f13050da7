package registry

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	registrypb "github.com/gomesos/gomesos/api/registry"
)

// BenchmarkReplicatedApply measures commit latency on loopback: one Apply
// at a time (ns/op is the latency of one commit, bolt's fsync included),
// with one operation or a batch of 64, on a cluster of 1 and of 3; and
// many Applies at once, which Raft batches into fewer entries.
func BenchmarkReplicatedApply(b *testing.B) {
	for _, size := range []int{1, 3} {
		for _, batch := range []int{1, 64} {
			b.Run(fmt.Sprintf("nodes=%d/ops=%d", size, batch), func(b *testing.B) {
				benchApply(b, size, batch, false)
			})
		}
		b.Run(fmt.Sprintf("nodes=%d/ops=1/parallel", size), func(b *testing.B) {
			benchApply(b, size, 1, true)
		})
	}
}

func benchApply(b *testing.B, size, batch int, parallel bool) {
	nodes := newCluster(b, size, func(cfg *ReplicatedConfig) {
		// The defaults, as a master runs, but quiet.
		*cfg = ReplicatedConfig{Dir: cfg.Dir, Self: cfg.Self, Peers: cfg.Peers, StreamLayer: cfg.StreamLayer, Logger: newTestLogger(b, slog.LevelWarn)}
	})
	leader := waitLeader(b, nodes)
	var next atomic.Int64
	ops := func() []*registrypb.Operation {
		out := make([]*registrypb.Operation, batch)
		for i := range out {
			out[i] = opAdmit(fmt.Sprintf("agent-%d", next.Add(1)), "agent.example.com")
		}
		return out
	}
	ctx := context.Background()
	b.ResetTimer()
	if parallel {
		b.SetParallelism(16)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := leader.store.Apply(ctx, ops()); err != nil {
					b.Error(err)
					return
				}
			}
		})
	} else {
		for b.Loop() {
			if err := leader.store.Apply(ctx, ops()); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "ops/s")
}

// BenchmarkReplicatedRegister10k registers 10,000 agents on a cluster of
// three, each agent's admission its own Apply from 100 at a time (as
// agents registering together do), then snapshots the registry: ns/op is
// the time for all of it.
func BenchmarkReplicatedRegister10k(b *testing.B) {
	const agents, workers = 10000, 100
	for b.Loop() {
		b.StopTimer()
		nodes := newCluster(b, 3, func(cfg *ReplicatedConfig) {
			*cfg = ReplicatedConfig{Dir: cfg.Dir, Self: cfg.Self, Peers: cfg.Peers, StreamLayer: cfg.StreamLayer, Logger: newTestLogger(b, slog.LevelWarn)}
		})
		leader := waitLeader(b, nodes)
		b.StartTimer()
		var next atomic.Int64
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				for i := next.Add(1); i <= agents; i = next.Add(1) {
					if err := leader.store.Apply(context.Background(), []*registrypb.Operation{opAdmit(fmt.Sprintf("agent-%d", i), "agent.example.com")}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		}
		wg.Wait()
		if err := leader.store.Snapshot(); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		st := leader.store.Stats()
		b.ReportMetric(float64(st.RegistrySizeBytes), "registry-bytes")
		b.ReportMetric(float64(st.LastLogIndex), "log-entries")
		for _, n := range nodes {
			n.stop()
		}
		b.StartTimer()
	}
}
