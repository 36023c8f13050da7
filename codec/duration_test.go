package codec

import (
	"testing"
	"time"
)

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"5secs": 5 * time.Second, "1.5mins": 90 * time.Second, "100ms": 100 * time.Millisecond,
		"2weeks": 14 * 24 * time.Hour, "0ns": 0, "3days": 72 * time.Hour, "250us": 250 * time.Microsecond,
		"2.5hrs": 150 * time.Minute, " 10secs ": 10 * time.Second, "1m30s": 90 * time.Second,
		"7ns": 7, "0.5secs": 500 * time.Millisecond, "3.25mins": 195 * time.Second, "5s": 5 * time.Second,
	} {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "secs", "5", "5sec", "-1secs", "-5s", "1.2.3secs", "five mins", "5 secs", "5minutes"} {
		if d, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", bad, d)
		}
	}
}

// The figures are the ones a real Mesos agent prints in /flags
// (shared/mesos-samples/agent_flags.json) and its usual defaults.
func TestFormatDurationAsMesos(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "0ns", time.Second: "1secs", time.Minute: "1mins", 15 * time.Second: "15secs",
		6 * time.Hour: "6hrs", 7 * 24 * time.Hour: "1weeks", 15 * time.Minute: "15mins",
		90 * time.Second: "1.5mins", 100 * time.Millisecond: "100ms", 1500 * time.Microsecond: "1.5ms",
		3 * time.Nanosecond: "3ns", 36 * time.Hour: "1.5days", -5 * time.Second: "-5secs",
		20 * time.Second / 3: "6.666666666secs", // 6666666666ns
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}

func TestFormatDurationRoundTrips(t *testing.T) {
	for _, d := range []time.Duration{0, 1, 999, time.Microsecond, 1500 * time.Millisecond, 90 * time.Minute, 10 * 24 * time.Hour} {
		back, err := ParseDuration(FormatDuration(d))
		if err != nil || back != d {
			t.Errorf("%v -> %q -> %v, %v", d, FormatDuration(d), back, err)
		}
	}
}
