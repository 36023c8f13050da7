package registry

import (
	"context"
	"fmt"
	"log/slog"
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
