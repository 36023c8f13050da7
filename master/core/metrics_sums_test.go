package core

import (
	"testing"

	"github.com/gomesos/gomesos/resources"
)

// scalarTotals sums what ToScalarQuantities gives of each list (of its
// NonRevocable or Revocable part), exactly: adding the lists one by one
// and taking them out again in another order leaves nothing, also past
// what an int64 of thousandths holds.
func TestScalarTotalsAddAndTakeOutExactly(t *testing.T) {
	scalar := func(name string, v resources.Scalar, revocable bool) resources.Resource {
		return resources.Resource{Name: name, Type: resources.TypeScalar, Scalar: v, Revocable: revocable}
	}
	lists := []resources.Resources{
		{scalar("cpus", 2500, false), scalar("mem", 1024000, false), scalar("cpus", 500, true)},
		{scalar("cpus", 1000, false), {Name: "cpus", Type: resources.TypeScalar, Scalar: 3000, AllocationRole: "web"},
			scalar("mem", 0, false), scalar("gpus", 1000, true), scalar("gpus", 2000, true),
			{Name: "ports", Type: resources.TypeRanges, Ranges: resources.Ranges{{Begin: 31000, End: 32000}}}},
		{scalar("disk", resources.MaxScalar, false), {Name: "disk", Type: resources.TypeScalar, Scalar: 5, AllocationRole: "a"}},
		{scalar("disk", resources.MaxScalar, false), scalar("cpus", 100, false)},
		nil,
	}
	for _, part := range []struct {
		name           string
		all, revocable bool
		of             func(resources.Resources) resources.Resources
	}{
		{"all", true, false, func(rs resources.Resources) resources.Resources { return rs }},
		{"non-revocable", false, false, resources.Resources.NonRevocable},
		{"revocable", false, true, resources.Resources.Revocable},
	} {
		var sum scalarTotals
		want := map[string]float64{}
		for _, rs := range lists {
			sum.add(rs, 1, part.all, part.revocable)
			for name, q := range part.of(rs).ToScalarQuantities() {
				want[name] += q.Float64()
			}
		}
		if len(sum) != len(want) {
			t.Errorf("%s: sums %v, want %v", part.name, sum, want)
		}
		for name, w := range want {
			if got := sum.float(name); got != w {
				t.Errorf("%s: %s sums %v, want %v", part.name, name, got, w)
			}
		}
		for i := len(lists) - 1; i >= 0; i-- {
			sum.add(lists[(i+2)%len(lists)], -1, part.all, part.revocable)
		}
		if len(sum) != 0 {
			t.Errorf("%s: %v left once every list was taken out", part.name, sum)
		}
	}
}
