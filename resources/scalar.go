package resources

import (
	"errors"
	"math"
	"strconv"
)

// Scalar is a fixed-point quantity with three decimal digits: it counts
// thousandths. Mesos rounds every scalar to three decimals before doing
// arithmetic on it, so with Scalar 0.1+0.2 is exactly 0.3.
type Scalar int64

// ScalarUnit is the Scalar for the value 1.
const ScalarUnit Scalar = 1000

// MaxScalar is the largest representable Scalar (about 9.2e15).
const MaxScalar Scalar = math.MaxInt64

// ScalarFromFloat rounds f to the nearest thousandth (halves away from zero,
// as Mesos does). NaN becomes 0; values out of range saturate.
func ScalarFromFloat(f float64) Scalar {
	v := math.Round(f * 1000)
	switch {
	case v != v: // NaN
		return 0
	case v >= math.MaxInt64:
		return MaxScalar
	case v <= math.MinInt64:
		return math.MinInt64
	}
	return Scalar(v)
}

// ScalarFromInt returns the Scalar for the whole number n, saturating.
func ScalarFromInt(n int64) Scalar {
	if n > math.MaxInt64/1000 {
		return MaxScalar
	}
	if n < math.MinInt64/1000 {
		return math.MinInt64
	}
	return Scalar(n * 1000)
}

// Float64 returns s as a float64 (the nearest double to s/1000).
func (s Scalar) Float64() float64 { return float64(s) / 1000 }

// Milli returns the number of thousandths.
func (s Scalar) Milli() int64 { return int64(s) }

// String formats s in the shortest exact decimal form: "2", "0.1", "1024.5".
func (s Scalar) String() string { return string(s.AppendText(nil)) }

// AppendText appends the String form of s to b.
func (s Scalar) AppendText(b []byte) []byte {
	return appendScalar(b, s, false)
}

// appendScalar writes s exactly; with forceFraction an integral value gets a
// ".0" suffix, as Mesos's JSON writer prints doubles.
func appendScalar(b []byte, s Scalar, forceFraction bool) []byte {
	u := uint64(s)
	if s < 0 {
		b = append(b, '-')
		u = -u
	}
	b = strconv.AppendUint(b, u/1000, 10)
	frac := u % 1000
	if frac == 0 {
		if forceFraction {
			b = append(b, ".0"...)
		}
		return b
	}
	digits := [3]byte{byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
	n := 3
	for digits[n-1] == '0' {
		n--
	}
	b = append(b, '.')
	return append(b, digits[:n]...)
}

// Errors returned by ParseScalar.
var (
	errNotNumber = errors.New("is not a number")
	errNotFinite = errors.New("is not finite")
	errNegative  = errors.New("must not be negative")
	errTooLarge  = errors.New("is too large")
	errTooSmall  = errors.New("is not zero but rounds to zero (scalars have three decimals)")
)

// ParseScalar parses a non-negative decimal number such as "4", "1024.5" or
// "1e3" and rounds it to three decimals. NaN, infinities, hexadecimal forms,
// negative values and non-zero values that round to zero are errors.
func ParseScalar(text string) (Scalar, error) {
	f, err := parseDecimal(text)
	if err != nil {
		return 0, err
	}
	return scalarFromValidFloat(f)
}

func scalarFromValidFloat(f float64) (Scalar, error) {
	if f != f || math.IsInf(f, 0) {
		return 0, errNotFinite
	}
	if f < 0 {
		return 0, errNegative
	}
	if f*1000 >= math.MaxInt64 {
		return 0, errTooLarge
	}
	s := ScalarFromFloat(f)
	if s == 0 && f != 0 {
		return 0, errTooSmall
	}
	return s, nil
}

// parseDecimal accepts only plain decimal notation: an optional sign, digits
// with an optional fraction, and an optional exponent.
func parseDecimal(text string) (float64, error) {
	if !isDecimal(text) {
		return 0, errNotNumber
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		// Only range errors remain possible here.
		return 0, errTooLarge
	}
	return f, nil
}

func isDecimal(s string) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	digits := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			digits++
		}
	}
	if digits == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}
