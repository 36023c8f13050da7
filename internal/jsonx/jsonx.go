// Package jsonx holds the small JSON helpers the legacy Mesos endpoints
// need: numbers rendered the way Mesos's rapidjson writer renders doubles.
package jsonx

import (
	"math"
	"strconv"
)

// Float is a float64 that marshals with a decimal point even when it is
// integral (2.0, not 2), as Mesos renders doubles in its JSON endpoints.
type Float float64

// MarshalJSON implements json.Marshaler.
func (f Float) MarshalJSON() ([]byte, error) { return AppendFloat(nil, float64(f)), nil }

// AppendFloat appends f in Mesos's rendering. NaN and infinities, which JSON
// cannot carry, become 0.0.
func AppendFloat(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(b, "0.0"...)
	}
	start := len(b)
	if a := math.Abs(f); a != 0 && (a < 1e-6 || a >= 1e21) {
		b = strconv.AppendFloat(b, f, 'g', -1, 64)
	} else {
		b = strconv.AppendFloat(b, f, 'f', -1, 64)
	}
	for _, c := range b[start:] {
		if c == '.' || c == 'e' || c == 'E' {
			return b
		}
	}
	return append(b, ".0"...)
}
