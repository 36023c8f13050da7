package codec

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// durationUnits are stout's duration units, largest first.
var durationUnits = []struct {
	name string
	size time.Duration
}{
	{"weeks", 7 * 24 * time.Hour},
	{"days", 24 * time.Hour},
	{"hrs", time.Hour},
	{"mins", time.Minute},
	{"secs", time.Second},
	{"ms", time.Millisecond},
	{"us", time.Microsecond},
	{"ns", time.Nanosecond},
}

// ParseDuration reads a Mesos duration: a non-negative decimal number and
// one of the units ns, us, ms, secs, mins, hrs, days or weeks ("5secs",
// "1.5mins", "100ms", "2weeks"), as Mesos's flags and environment variables
// (MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD and the like) carry them. Go
// duration strings ("1m30s") are accepted too, which Mesos does not do.
func ParseDuration(s string) (time.Duration, error) {
	t := strings.TrimSpace(s)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] == '.') {
		i++
	}
	if i > 0 && i < len(t) {
		for _, u := range durationUnits {
			if t[i:] != u.name {
				continue
			}
			v, err := strconv.ParseFloat(t[:i], 64)
			if err != nil {
				return 0, fmt.Errorf("invalid duration %q: %q is not a number", s, t[:i])
			}
			return time.Duration(v * float64(u.size)), nil
		}
	}
	if d, err := time.ParseDuration(t); err == nil {
		if d < 0 {
			return 0, fmt.Errorf("invalid duration %q: must not be negative", s)
		}
		return d, nil
	}
	return 0, fmt.Errorf("invalid duration %q: expecting a number and one of the units 'ns', 'us', 'ms', 'secs', 'mins', 'hrs', 'days' or 'weeks', such as 5secs or 100ms", s)
}

// FormatDuration writes d as Mesos prints a duration: in the largest unit
// the duration reaches, with up to 15 significant digits and no trailing
// zeros ("5secs", "1mins", "1.5hrs", "100ms", "0ns").
func FormatDuration(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	for _, u := range durationUnits {
		if d >= u.size || u.size == time.Nanosecond {
			return sign + strconv.FormatFloat(float64(d)/float64(u.size), 'g', 15, 64) + u.name
		}
	}
	return "0ns"
}
