package benchtasks

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/scheduler"
)

// latencyAllocationInterval is the master's allocation interval in a
// latency run: each task waits for an offer of its own, and that wait is
// not what is measured, so it is kept short.
const latencyAllocationInterval = 20 * time.Millisecond

// LatencyResult is what a latency run measured.
type LatencyResult struct {
	Tasks int
	// P50, P99 and Max are of the ACCEPT-to-TASK_RUNNING latencies of the
	// tasks, each launched alone on an otherwise idle cluster.
	P50, P99, Max time.Duration
	// StartingP50 is the median ACCEPT-to-TASK_STARTING latency: the
	// rest of the way to TASK_RUNNING is the acknowledgement of
	// TASK_STARTING (the agent forwards a task's next update once the
	// framework has acknowledged the one before, as Mesos's does).
	StartingP50 time.Duration
	// BareP50 is the median time a bare fork/exec of `sh -c 'sleep'`
	// took in the same run, for comparison.
	BareP50 time.Duration
	// Load is the machine's load average over a minute at the end.
	Load string
}

// Line is the line a latency run ends with.
func (r LatencyResult) Line() string {
	return fmt.Sprintf("latency %d single tasks accept-to-running p50=%.1fms p99=%.1fms max=%.1fms (to starting p50=%.1fms); bare fork/exec p50=%.2fms; load %s",
		r.Tasks, ms(r.P50), ms(r.P99), ms(r.Max), ms(r.StartingP50), ms(r.BareP50), r.Load)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// RunLatency launches opts.Latency single tasks one after another on a
// local cluster, each once the one before runs and through an offer of its
// own, and reports the ACCEPT-to-TASK_RUNNING latencies; the tasks keep
// running until the framework is torn down at the end. It prints progress
// and then LatencyResult.Line as the last line to out.
func RunLatency(ctx context.Context, opts Options, out io.Writer) (res LatencyResult, err error) {
	if opts.Latency < 1 {
		return res, fmt.Errorf("%w: --latency must be at least 1", ErrBadOptions)
	}
	res.Tasks = opts.Latency
	opts, log, iso, err := prepare(opts)
	if err != nil {
		return res, err
	}
	settleDisk()
	bare, err := bareLatency(min(opts.Latency, 100))
	if err != nil {
		return res, err
	}
	res.BareP50 = bare
	workDir := opts.WorkDir
	if workDir == "" {
		dir, err := os.MkdirTemp("", "gomesos-bench-tasks")
		if err != nil {
			return res, fmt.Errorf("benchtasks: %w", err)
		}
		defer removeSettled(dir)
		workDir = dir
	}
	workDir, err = filepath.Abs(workDir)
	if err != nil {
		return res, fmt.Errorf("benchtasks: %w", err)
	}
	c, err := startCluster(ctx, opts, opts.Latency, latencyAllocationInterval, iso, workDir, log)
	if err != nil {
		return res, err
	}
	defer func() {
		c.stop()
		if left := processesUnder(workDir); len(left) > 0 && err == nil {
			err = fmt.Errorf("benchtasks: %d task processes left after the cluster stopped", len(left))
		}
	}()
	if opts.Pprof {
		fmt.Fprintf(out, "pprof: http://%s/debug/pprof/ (master), http://%s/debug/pprof/ (agent)\n", c.master.Addr(), c.agent.Addr())
	}
	fw, err := startFramework(ctx, c.master.Addr(), log)
	if err != nil {
		return res, err
	}
	defer fw.stop()

	lat := make([]time.Duration, 0, opts.Latency)
	var starting []time.Duration
	for i := range opts.Latency {
		offer, err := fw.nextOffer(ctx, opts.Timeout)
		if err != nil {
			return res, err
		}
		tasks, err := buildTasksFrom(i, 1, offer)
		if err != nil {
			return res, err
		}
		launchCtx, cancel := context.WithTimeout(ctx, opts.Timeout)
		start := time.Now()
		fw.expect(1, start)
		// What is left of the offer comes back at the next allocation.
		err = fw.client.Launch(launchCtx, []*mesos.OfferID{offer.GetId()}, tasks, scheduler.RefuseFor(0))
		if err == nil {
			var l []time.Duration
			l, err = fw.awaitRunning(launchCtx)
			if err == nil {
				lat = append(lat, l...)
				starting = append(starting, fw.startedWithin()...)
			}
		}
		cancel()
		if err != nil {
			return res, fmt.Errorf("benchtasks: task %d of %d: %w", i+1, opts.Latency, err)
		}
	}
	slices.Sort(lat)
	res.P50, res.P99, res.Max = percentile(lat, 0.50), percentile(lat, 0.99), lat[len(lat)-1]
	slices.Sort(starting)
	res.StartingP50 = percentile(starting, 0.50)

	stopCtx, cancelStop := context.WithTimeout(ctx, opts.Timeout)
	defer cancelStop()
	if err := fw.client.Teardown(stopCtx); err != nil {
		return res, fmt.Errorf("benchtasks: teardown: %w", err)
	}
	for len(processesUnder(workDir)) > 0 {
		if stopCtx.Err() != nil {
			return res, fmt.Errorf("benchtasks: task processes still alive %s after the teardown", opts.Timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
	fw.stop()
	c.stop()
	res.Load = loadAverage()
	fmt.Fprintln(out, res.Line())
	return res, nil
}

// bareLatency is the median time of n fork/execs of `sh -c 'sleep 1000'`,
// each alone (the one before is killed and reaped first).
func bareLatency(n int) (time.Duration, error) {
	took := make([]time.Duration, 0, n)
	for range n {
		c := exec.Command("sh", "-c", "sleep 1000")
		c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		start := time.Now()
		if err := c.Start(); err != nil {
			return 0, fmt.Errorf("benchtasks: bare fork/exec: %w", err)
		}
		took = append(took, time.Since(start))
		_ = syscall.Kill(-c.Process.Pid, syscall.SIGKILL)
		_ = c.Wait()
	}
	slices.Sort(took)
	return percentile(took, 0.5), nil
}

// loadAverage is the first field of /proc/loadavg, or "?".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) > 0 {
		return f[0]
	}
	return "?"
}
