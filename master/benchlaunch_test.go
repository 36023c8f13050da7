package master_test

import (
	"context"
	"io"
	"os"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/gomesos/gomesos/internal/testutil"
	"github.com/gomesos/gomesos/master"
)

// TestMain lets the test binary serve as the peer of BenchLaunch (its
// simulated agents and frameworks), as the gomesos binary does.
func TestMain(m *testing.M) {
	master.MainIfBenchLaunchPeer()
	os.Exit(m.Run())
}

// BenchmarkLaunch runs 100,000 short tasks on 1,000 simulated agents
// through the master (10 frameworks, played by a child process), and
// reports the throughput and the master process's peak RSS per live task:
//
//	go test ./master/ -run '^$' -bench BenchmarkLaunch -benchtime 1x
func BenchmarkLaunch(b *testing.B) {
	for b.Loop() {
		res, err := master.BenchLaunch(context.Background(), master.BenchLaunchOptions{Agents: 1000, Tasks: 100000}, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		b.Log(res.Line())
		b.ReportMetric(res.TasksPerSec(), "tasks/s")
		b.ReportMetric(float64(res.RSS)/(1<<20), "rss-MiB")
		b.ReportMetric(float64(res.RSS)/float64(max(res.PeakLive, 1)), "rss-B/live-task")
		b.ReportMetric(float64(res.Steps)/res.Launched.Seconds(), "inputs/s")
	}
}

// A small BenchLaunch runs every task to its end through the master,
// sharing them among the frameworks, and ends with the launch line.
func TestBenchLaunchSmoke(t *testing.T) {
	testutil.CheckGoroutines(t)
	var out strings.Builder
	res, err := master.BenchLaunch(context.Background(), master.BenchLaunchOptions{
		Agents: 7, Tasks: 301, Frameworks: 3, Slots: 4, Workers: 2,
	}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if res.Tasks != 301 || res.PeakLive < 1 || res.PeakLive > 301 || res.RSS == 0 || res.Offers == 0 {
		t.Errorf("BenchLaunch = %+v", res)
	}
	// Every task took at least a launch, two updates and two
	// acknowledgements through the loop.
	if res.Steps < 4*301 {
		t.Errorf("%d inputs to the loop for 301 tasks; want at least 4 each", res.Steps)
	}
	last := regexp.MustCompile(`\nlaunched 301 tasks on 7 agents in \d+\.\d{3}s \(\d+ tasks/s\), master rss \d+\.\d MiB\n\z`)
	if !last.MatchString(out.String()) {
		t.Errorf("output does not end with the launch line:\n%s", out.String())
	}
}

// The simulated agents and frameworks run in a child process (this test
// binary, see TestMain): its CPU time and peak RSS are its own, not the
// master's, and the output says where they ran.
func TestBenchLaunchRunsThePeerApart(t *testing.T) {
	testutil.CheckGoroutines(t)
	var out strings.Builder
	res, err := master.BenchLaunch(context.Background(), master.BenchLaunchOptions{
		Agents: 5, Tasks: 200, Frameworks: 2, Slots: 3, Workers: 2,
	}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if res.PeerCPU <= 0 || (runtime.GOOS == "linux" && res.PeerRSS == 0) || res.HeapAgents == 0 || res.HeapLive == 0 || res.HeapPeak < res.HeapLive {
		t.Errorf("BenchLaunch = %+v; want the peer's CPU and RSS, and the master's heap figures", res)
	}
	if !strings.Contains(out.String(), "agents and frameworks in a child process") {
		t.Errorf("output does not say the agents ran in a child process:\n%s", out.String())
	}

	// In process, over pipes, the same launch runs to its end too.
	out.Reset()
	res, err = master.BenchLaunch(context.Background(), master.BenchLaunchOptions{
		Agents: 5, Tasks: 200, Frameworks: 2, Slots: 3, Workers: 2, InProcess: true,
	}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if res.PeerCPU != 0 || res.PeerRSS != 0 || res.Steps < 4*200 || !strings.Contains(out.String(), "agents and frameworks in this process") {
		t.Errorf("in process: BenchLaunch = %+v, output:\n%s", res, out.String())
	}
}
