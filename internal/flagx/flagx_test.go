package flagx

import (
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

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

func TestRateAndPercent(t *testing.T) {
	var interval time.Duration
	r := Rate{Interval: &interval}
	if err := r.Set("1/10mins"); err != nil || interval != 10*time.Minute {
		t.Fatalf("1/10mins: %v, %v", interval, err)
	}
	if err := r.Set("4/1mins"); err != nil || interval != 15*time.Second {
		t.Fatalf("4/1mins: %v, %v", interval, err)
	}
	for _, bad := range []string{"10mins", "0/1mins", "x/1mins", "1/forever", "1/0secs"} {
		if err := r.Set(bad); err == nil {
			t.Errorf("rate %q accepted", bad)
		}
	}
	var f float64
	p := Percent{F: &f}
	if err := p.Set("50%"); err != nil || f != 0.5 {
		t.Fatalf("50%%: %v, %v", f, err)
	}
	for _, bad := range []string{"150%", "-1%", "lots"} {
		if err := p.Set(bad); err == nil {
			t.Errorf("percentage %q accepted", bad)
		}
	}
}
