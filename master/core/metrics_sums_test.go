package core

import (
	"testing"

	"github.com/gomesos/gomesos/resources"
)

// scalarSums gives, for each list, what ToScalarQuantities of its
// NonRevocable and Revocable parts gives, reusing its slices from one
// list to the next.
func TestScalarSumsAsToScalarQuantities(t *testing.T) {
	scalar := func(name string, v resources.Scalar, revocable bool) resources.Resource {
		return resources.Resource{Name: name, Type: resources.TypeScalar, Scalar: v, Revocable: revocable}
	}
	lists := []resources.Resources{
		{scalar("cpus", 2500, false), scalar("mem", 1024000, false), scalar("cpus", 500, true)},
		{scalar("cpus", 1000, false), {Name: "cpus", Type: resources.TypeScalar, Scalar: 3000, AllocationRole: "web"},
			scalar("mem", 0, false), scalar("gpus", 1000, true), scalar("gpus", 2000, true),
			{Name: "ports", Type: resources.TypeRanges, Ranges: resources.Ranges{{Begin: 31000, End: 32000}}}},
		{scalar("disk", resources.MaxScalar, false), {Name: "disk", Type: resources.TypeScalar, Scalar: 5, AllocationRole: "a"}},
		nil,
	}
	var s scalarSums
	for i, rs := range lists {
		gotNon, gotRev := map[string]float64{}, map[string]float64{}
		s.sum(rs)
		s.into(gotNon, gotRev)
		wantNon, wantRev := map[string]float64{}, map[string]float64{}
		for name, q := range rs.NonRevocable().ToScalarQuantities() {
			wantNon[name] += q.Float64()
		}
		for name, q := range rs.Revocable().ToScalarQuantities() {
			wantRev[name] += q.Float64()
		}
		if !equalSums(gotNon, wantNon) || !equalSums(gotRev, wantRev) {
			t.Errorf("list %d: sums %v and revocable %v, want %v and %v", i, gotNon, gotRev, wantNon, wantRev)
		}
	}
}

func equalSums(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
