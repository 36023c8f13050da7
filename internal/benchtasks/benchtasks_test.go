package benchtasks

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gomesos/gomesos/agent/containerizer"
	"github.com/gomesos/gomesos/executor/builtin"
	"github.com/gomesos/gomesos/internal/testutil"
)

// TestMain lets the test binary serve as the containers' supervisor and
// the built-in command executor, as the gomesos binary does.
func TestMain(m *testing.M) {
	containerizer.MainIfSupervisor()
	builtin.MainIfExecutor()
	os.Exit(m.Run())
}

// A tiny run launches real tasks, measures every phase, ends with the
// tasks line, and leaves no process (task, executor, supervisor or bare
// sleep) and no goroutine behind.
func TestRunEndsWithTheTasksLineAndLeavesNothing(t *testing.T) {
	testutil.CheckChildren(t)
	testutil.CheckGoroutines(t)
	dir := t.TempDir()
	var out bytes.Buffer
	res, err := Run(context.Background(), Options{Tasks: 3, WorkDir: dir}, &out)
	if err != nil {
		t.Fatalf("%v; output:\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	last := lines[len(lines)-1]
	want := regexp.MustCompile(`^tasks 3 running in \d+\.\d{3}s \(\d+\.\d/s\); bare fork/exec \d+\.\d{3}s; ratio \d+\.\d{2}; -?\d+\.\d{2} MiB per task; stop \d+\.\d{3}s$`)
	if !want.MatchString(last) {
		t.Errorf("last line %q does not match %s", last, want)
	}
	if last != res.Line() {
		t.Errorf("last line %q, result's %q", last, res.Line())
	}
	if res.Tasks != 3 || res.Launch <= 0 || res.Bare <= 0 || res.Stop <= 0 || res.RunningP99 < res.RunningP50 || res.RunningP99 > res.Launch ||
		res.LaunchCPU <= 0 || res.BareCPU <= 0 {
		t.Errorf("result %+v", res)
	}
	if left := processesUnder(dir); len(left) > 0 {
		t.Errorf("processes left in the work directory: %v", left)
	}
}

// A latency run launches its tasks one at a time, each through its own
// offer, reports every figure, ends with the latency line, and leaves no
// process behind.
func TestRunLatencyEndsWithTheLatencyLineAndLeavesNothing(t *testing.T) {
	testutil.CheckChildren(t)
	testutil.CheckGoroutines(t)
	dir := t.TempDir()
	var out bytes.Buffer
	res, err := RunLatency(context.Background(), Options{Latency: 3, WorkDir: dir}, &out)
	if err != nil {
		t.Fatalf("%v; output:\n%s", err, out.String())
	}
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	last := lines[len(lines)-1]
	want := regexp.MustCompile(`^latency 3 single tasks accept-to-running p50=\d+\.\dms p99=\d+\.\dms max=\d+\.\dms \(to starting p50=\d+\.\dms\); bare fork/exec p50=\d+\.\d\dms; load \S+$`)
	if !want.MatchString(last) || last != res.Line() {
		t.Errorf("last line %q, result's %q, want %s", last, res.Line(), want)
	}
	if res.Tasks != 3 || res.P50 <= 0 || res.P99 < res.P50 || res.Max < res.P99 || res.StartingP50 <= 0 || res.StartingP50 > res.Max || res.BareP50 <= 0 {
		t.Errorf("result %+v", res)
	}
	if left := processesUnder(dir); len(left) > 0 {
		t.Errorf("processes left in the work directory: %v", left)
	}
}

// Nothing starts without a task to launch or with isolators that do not
// exist.
func TestRunRefusesBadOptions(t *testing.T) {
	for _, c := range []struct {
		opts Options
		want string
	}{
		{Options{Tasks: 0}, "--tasks"},
		{Options{Tasks: 1, Isolation: "posix/cpu,bogus"}, `unknown isolator "bogus"`},
		{Options{Tasks: 1, Latency: -1}, "--latency"},
		{Options{Latency: 1, Isolation: "bogus"}, `unknown isolator "bogus"`},
	} {
		var out bytes.Buffer
		_, err := Run(context.Background(), c.opts, &out)
		if !errors.Is(err, ErrBadOptions) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: err %v, want ErrBadOptions naming %s", c.opts, err, c.want)
		}
		if out.Len() != 0 {
			t.Errorf("%+v: output %q", c.opts, out.String())
		}
	}
}

func TestLineFormat(t *testing.T) {
	r := Result{Tasks: 1000, Launch: 8e9, Bare: 4e9, MiBPerTask: 1.5, Stop: 25e8}
	want := "tasks 1000 running in 8.000s (125.0/s); bare fork/exec 4.000s; ratio 2.00; 1.50 MiB per task; stop 2.500s"
	if got := r.Line(); got != want {
		t.Errorf("Line() = %q, want %q", got, want)
	}
}

func TestPercentile(t *testing.T) {
	lat := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	if p := percentile(lat, 0.5); p != 5 {
		t.Errorf("p50 %d", p)
	}
	if p := percentile(lat, 0.99); p != 10 {
		t.Errorf("p99 %d", p)
	}
	if p := percentile(nil, 0.99); p != 0 {
		t.Errorf("p99 of nothing %d", p)
	}
}

// BenchmarkLaunch100Tasks runs the whole benchmark at 100 tasks per
// iteration (the executors are this test binary) and reports the launch
// rate, the ratio to a bare fork/exec, memory per task and the stop time.
// Run it alone: go test ./internal/benchtasks/ -run '^$' -bench . -benchtime 1x
func BenchmarkLaunch100Tasks(b *testing.B) {
	const n = 100
	var launch, bare, stop time.Duration
	var mib float64
	for b.Loop() {
		res, err := Run(context.Background(), Options{Tasks: n, WorkDir: b.TempDir()}, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		launch += res.Launch
		bare += res.Bare
		stop += res.Stop
		mib += res.MiBPerTask
	}
	runs := float64(b.N)
	b.ReportMetric(float64(n)*runs/launch.Seconds(), "tasks/s")
	b.ReportMetric(launch.Seconds()/bare.Seconds(), "ratio")
	b.ReportMetric(mib/runs, "MiB/task")
	b.ReportMetric(stop.Seconds()/runs, "stop-s")
}
