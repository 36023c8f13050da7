package flagx

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

func TestParseDurationMesosForms(t *testing.T) {
	cases := map[string]time.Duration{
		"5secs": 5 * time.Second, "15mins": 15 * time.Minute, "100ms": 100 * time.Millisecond,
		"1.5mins": 90 * time.Second, "2weeks": 14 * 24 * time.Hour, "1m30s": 90 * time.Second, "3days": 72 * time.Hour,
	}
	for in, want := range cases {
		got, err := ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "5", "secs", "-1secs", "fivesecs", "-3s"} {
		if _, err := ParseDuration(bad); err == nil {
			t.Errorf("ParseDuration(%q) succeeded, want error", bad)
		}
	}
}

func TestFormatDurationRoundTrips(t *testing.T) {
	for _, d := range []time.Duration{5 * time.Second, 15 * time.Minute, 100 * time.Millisecond, 1500 * time.Millisecond} {
		s := FormatDuration(d)
		back, err := ParseDuration(s)
		if err != nil || back != d {
			t.Errorf("%v -> %q -> %v, %v", d, s, back, err)
		}
	}
	if got := FormatDuration(5 * time.Second); got != "5secs" {
		t.Errorf("FormatDuration(5s) = %q, want 5secs", got)
	}
}

func TestEnvironmentDefaultsAndCommandLineWins(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	port := fs.Int("port", 5050, "port")
	wd := fs.String("work_dir", "", "dir")
	if err := Parse(fs, []string{"--port=6000"}, []string{"MESOS_PORT=7000", "MESOS_WORK_DIR=/tmp/w"}); err != nil {
		t.Fatal(err)
	}
	if *port != 6000 || *wd != "/tmp/w" {
		t.Fatalf("port=%d work_dir=%q; want 6000 and /tmp/w", *port, *wd)
	}
	fs2 := flag.NewFlagSet("x", flag.ContinueOnError)
	fs2.SetOutput(io.Discard)
	fs2.Int("port", 5050, "port")
	err := Parse(fs2, nil, []string{"MESOS_PORT=abc"})
	if err == nil || !strings.Contains(err.Error(), "MESOS_PORT") {
		t.Fatalf("bad env value: err = %v, want one naming MESOS_PORT", err)
	}
}
