package allocator

import (
	"context"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkAllocate is Mesos's DeclineOffers benchmark: every framework
// declines every offer with a long filter, so after a few rounds a cycle is
// mostly filter checks. One op is one allocation cycle (the declines of the
// previous round are not timed).
func BenchmarkAllocate(b *testing.B) {
	for _, agents := range []int{1000, 10000} {
		for _, frameworks := range []int{1, 50, 100} {
			b.Run(fmt.Sprintf("agents=%d/frameworks=%d", agents, frameworks), func(b *testing.B) {
				h := NewBenchHarness(agents, frameworks, 1)
				allocations := 0
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					b.StopTimer()
					for _, o := range h.offers {
						h.Allocator.RecoverResources(o.FrameworkID, o.AgentID, o.Resources, MaxRefuse, h.Now)
					}
					h.Now = h.Now.Add(h.Allocator.interval)
					b.StartTimer()
					h.offers = h.Allocator.Allocate(h.Now)
					allocations += len(h.offers)
				}
				b.ReportMetric(float64(allocations)/float64(b.N), "offers/op")
			})
		}
	}
}

// BenchmarkAllocateAllDeclined times a cycle after every framework has
// declined every agent with a long filter, forcing every agent to be
// examined in full and every framework's filter on it checked: the cost of
// a cycle in a cluster saturated with declines when everything changed
// since the last cycle. (When nothing changed, blocked agents are skipped
// and the cycle costs next to nothing.)
func BenchmarkAllocateAllDeclined(b *testing.B) {
	for _, agents := range []int{1000, 10000} {
		for _, frameworks := range []int{1, 50, 100} {
			b.Run(fmt.Sprintf("agents=%d/frameworks=%d", agents, frameworks), func(b *testing.B) {
				h := NewBenchHarness(agents, frameworks, 1)
				for h.Round() > 0 {
				}
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					h.Allocator.forceFullScan()
					if n := len(h.Allocator.Allocate(h.Now)); n != 0 {
						b.Fatalf("%d allocations, want none", n)
					}
				}
			})
		}
	}
}

func TestBenchReportsCycleTimes(t *testing.T) {
	var out strings.Builder
	res, err := Bench(context.Background(), 100, 5, 1, time.Now, func() time.Duration { return processCPU(t) }, &out)
	if err != nil {
		t.Fatal(err)
	}
	// Each of the 100 agents has something left for each of the 5
	// frameworks to decline, one framework per round.
	if res.Rounds != 20 || res.FirstRound != 100 || res.Allocations != 500 {
		t.Fatalf("result %+v, want 20 rounds, 100 allocations in the first and 500 in all", res)
	}
	if res.P50 <= 0 || res.P99 < res.P50 || res.Max < res.P99 {
		t.Fatalf("cycle times p50 %v p99 %v max %v", res.P50, res.P99, res.Max)
	}
	if res.CPUP50 < 0 || res.CPUP99 < res.CPUP50 || res.CPUMax < res.CPUP99 || res.CPUMax == 0 {
		t.Fatalf("cycle CPU p50 %v p99 %v max %v", res.CPUP50, res.CPUP99, res.CPUMax)
	}
	if !strings.Contains(out.String(), "100 agents, 5 frameworks") || !strings.Contains(out.String(), "; cycle CPU p50 ") {
		t.Fatalf("output %q", out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if last := lines[len(lines)-1]; !passLine.MatchString(last) || !strings.HasSuffix(last, " agents=100 frameworks=5") {
		t.Fatalf("last line %q, want the allocation pass line", last)
	}
	if res.Pass.Allocations != 100 || res.Pass.P50 <= 0 || res.Pass.P99 < res.Pass.P50 {
		t.Fatalf("full pass %+v", res.Pass)
	}
}

var passLine = regexp.MustCompile(`^allocation pass p50=[0-9]+\.[0-9]{2}ms p99=[0-9]+\.[0-9]{2}ms agents=[0-9]+ frameworks=[0-9]+$`)

// In a full pass every agent goes to some framework, the frameworks
// spread evenly (each took nothing yet, so DRF hands agents round robin),
// and every role gets its share.
func TestPassHarnessOffersEveryAgentFairly(t *testing.T) {
	h := NewPassHarness(60, 6, 3)
	for pass := range 3 {
		if n := h.Pass(); n != 60 {
			t.Fatalf("pass %d: %d allocations, want 60", pass, n)
		}
		perFramework := map[string]int{}
		perRole := map[string]int{}
		agents := map[string]bool{}
		for _, o := range h.offers {
			perFramework[o.FrameworkID]++
			perRole[o.Role]++
			if agents[o.AgentID] {
				t.Fatalf("pass %d: agent %s offered twice", pass, o.AgentID)
			}
			agents[o.AgentID] = true
		}
		for i := range 6 {
			if n := perFramework[fmt.Sprintf("framework-%d", i)]; n != 10 {
				t.Fatalf("pass %d: framework-%d got %d agents, want 10 (%v)", pass, i, n, perFramework)
			}
		}
		for i := range 3 {
			if n := perRole[fmt.Sprintf("role-%d", i)]; n != 20 {
				t.Fatalf("pass %d: role-%d got %d agents, want 20 (%v)", pass, i, n, perRole)
			}
		}
		if err := h.Allocator.CheckInvariants(); err != nil {
			t.Fatal(err)
		}
		h.Recover()
		if s := h.Allocator.Stats(); len(s.Allocated) != 0 {
			t.Fatalf("pass %d: after the declines %v is still allocated", pass, s.Allocated)
		}
	}
}

// BenchmarkFullPass times one allocation cycle in which every agent is
// free and every framework wants resources (see FullPass). The declines
// between passes are not timed. 50,000 agents are skipped with -short.
//
//	go test ./master/allocator/ -run '^$' -bench BenchmarkFullPass
func BenchmarkFullPass(b *testing.B) {
	for _, agents := range []int{1000, 10000, 50000} {
		for _, frameworks := range []int{10, 100, 1000} {
			b.Run(fmt.Sprintf("agents=%d/frameworks=%d", agents, frameworks), func(b *testing.B) {
				if agents > 10000 && testing.Short() {
					b.Skip("50,000 agents skipped with -short")
				}
				h := NewPassHarness(agents, frameworks, 1)
				var cpu time.Duration
				b.ReportAllocs()
				b.ResetTimer()
				for range b.N {
					start := processCPU(b)
					if n := h.Pass(); n != agents {
						b.Fatalf("%d allocations, want %d", n, agents)
					}
					cpu += processCPU(b) - start
					b.StopTimer()
					h.Recover()
					b.StartTimer()
				}
				// On a shared machine the wall time of a pass says more
				// about the neighbours than about the pass; the CPU the
				// process spent in it (the collector's included) does not.
				b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
			})
		}
	}
}

// TestBenchTable prints Bench's report for the benchmark grid when
// GOMESOS_BENCH is set:
//
//	GOMESOS_BENCH=1 go test ./master/allocator/ -run TestBenchTable -v
func TestBenchTable(t *testing.T) {
	if os.Getenv("GOMESOS_BENCH") == "" {
		t.Skip("set GOMESOS_BENCH=1 to run")
	}
	for _, agents := range []int{1000, 10000} {
		for _, frameworks := range []int{1, 50, 100} {
			if _, err := Bench(context.Background(), agents, frameworks, 1, time.Now, func() time.Duration { return processCPU(t) }, os.Stdout); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// processCPU is the user and system CPU time the process has used.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// A cancelled context stops the benchmark before its next cycle, as
// Ctrl-C stops `gomesos bench allocator`.
func TestBenchStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var out strings.Builder
	if _, err := Bench(ctx, 10, 2, 1, time.Now, nil, &out); !errors.Is(err, context.Canceled) {
		t.Fatalf("Bench with a cancelled context: %v, want context.Canceled", err)
	}
	if _, err := FullPass(ctx, 10, 2, 1, time.Now); !errors.Is(err, context.Canceled) {
		t.Fatalf("FullPass with a cancelled context: %v, want context.Canceled", err)
	}
	if out.Len() != 0 {
		t.Fatalf("output %q, want none", out.String())
	}
}
