package allocator

import (
	"fmt"
	"testing"

	"github.com/gomesos/gomesos/resources"
)

// BenchmarkAllocateWithQuota is BenchmarkAllocate with a quota set: a
// guarantee of a role without frameworks (so headroom is held back in
// every cycle) and a limit on the frameworks' role well above what they
// use. Every cycle then examines every agent (see allocateWithQuota): the
// price of quota, which the no-quota cycle does not pay.
func BenchmarkAllocateWithQuota(b *testing.B) {
	for _, agents := range []int{1000, 10000} {
		for _, frameworks := range []int{1, 50} {
			b.Run(fmt.Sprintf("agents=%d/frameworks=%d", agents, frameworks), func(b *testing.B) {
				h := NewBenchHarness(agents, frameworks, 2)
				h.Allocator.UpdateQuota("held", Quota{Guarantees: map[string]resources.Scalar{"cpus": resources.ScalarFromInt(int64(agents))}})
				h.Allocator.UpdateQuota("role-0", Quota{Limits: map[string]resources.Scalar{"cpus": resources.ScalarFromInt(int64(agents) * 100)}})
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
