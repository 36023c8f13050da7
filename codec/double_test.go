package codec

import (
	"encoding/json"
	"math"
	"testing"
)

// The legacy endpoints' numbers: Mesos's /metrics/snapshot writes 2.0, not
// 2 (shared/mesos-samples/master_metrics_snapshot.json).
func TestDoubleMarshalsLikeMesos(t *testing.T) {
	cases := map[float64]string{
		2: "2.0", 0.1: "0.1", 23081: "23081.0", 1795480403.96136: "1795480403.96136", 0: "0.0", -3: "-3.0",
		1e21: "1e21", 1e-7: "1e-7", math.Inf(1): `"Infinity"`,
	}
	for in, want := range cases {
		got, err := json.Marshal(map[string]Double{"v": Double(in)})
		if err != nil || string(got) != `{"v":`+want+`}` {
			t.Errorf("Double(%v) = %s, %v; want %s", in, got, err, want)
		}
	}
}
