package allocator

import (
	"fmt"
	"os"
	"strings"
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
				h := NewBenchHarness(agents, frameworks)
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
				h := NewBenchHarness(agents, frameworks)
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
	res, err := Bench(100, 5, time.Now, &out)
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
	if !strings.Contains(out.String(), "100 agents, 5 frameworks") {
		t.Fatalf("output %q", out.String())
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
			if _, err := Bench(agents, frameworks, time.Now, os.Stdout); err != nil {
				t.Fatal(err)
			}
		}
	}
}
