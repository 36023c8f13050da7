package jsonx

import (
	"encoding/json"
	"testing"
)

func TestFloatRendersLikeMesos(t *testing.T) {
	cases := map[float64]string{2: "2.0", 0.1: "0.1", 23081: "23081.0", 1795480403.96136: "1795480403.96136", 0: "0.0", -3: "-3.0"}
	for in, want := range cases {
		got, err := json.Marshal(Float(in))
		if err != nil || string(got) != want {
			t.Errorf("Float(%v) = %s, %v; want %s", in, got, err, want)
		}
	}
}
