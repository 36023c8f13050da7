package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	execpb "github.com/gomesos/gomesos/api/v1/executor"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/master/core"
)

// One agent launches 1,000 long-running command tasks and then kills them
// all, while the master pings it every two seconds and removes it after
// five missed pongs (--agent_ping_timeout=2secs, --max_agent_ping_timeouts=5,
// seven times stricter than Mesos's 15secs and 5; the agent, in turn,
// re-registers after ten seconds without a ping). The margin is for the
// machine, not the agent: with 3,000 processes starting under the race
// detector and other builds (load 25 on two cores), the master's loop and
// the scheduler can fall several seconds behind, and a one-second ping then
// removed the agent although its loop answered in milliseconds (the loop's
// own latency is checked below).
//
// Through both storms the agent keeps answering the master and its
// executors: it is never removed, never re-registers and loses no task;
// every task runs, then ends TASK_KILLED; and no process of any task or
// executor is left, then or after the agent stops. (That a stuck launch
// holds up nothing else is TestLoopGoesOnWhileALaunchIsStuck, in package
// agent; here pings are taken ahead of the loop's queue, so a loop that
// spent a few milliseconds per launch would still pass.) The executors are
// the gomesos binary (built without the race detector), as on a real
// agent; the framework launches a hundred tasks per offer and acknowledges
// from a few goroutines, as a scheduler that keeps up with a thousand
// tasks does.
//
// It takes 20 to 60 seconds with -race on a busy two-core machine (the
// launch 15 to 40, the kill 5 to 20), most of it in the master and the
// scheduler; -short skips it.
func TestThousandCommandTasksLaunchAndKillOnOneAgent(t *testing.T) {
	if testing.Short() {
		t.Skip("launches 1,000 executors; skipped with -short")
	}
	const n = 1000
	c := startCluster(t, clusterOptions{
		agents:         1,
		agentResources: "cpus:64;mem:65536;disk:1024",
		masterOptions:  core.Options{AgentPingTimeout: 2 * time.Second, MaxAgentPingTimeouts: 5},
		executorBinary: gomesosBin,
		// What is under test is the agent's loop, not how fast a loaded
		// machine starts 1,000 executors (each a supervisor, an executor
		// and its sleep): with the race detector and other builds, the
		// last ones can take longer than Mesos's one minute.
		executorRegistrationTimeout: 10 * time.Minute,
		// Nor how a framework slowed down by the race detector and other
		// builds takes a thousand duplicates a second.
		mesosStatusRetry: true,
	})
	agentAddr := c.agents[0].Addr()
	var flags struct {
		Flags map[string]string `json:"flags"`
	}
	getJSON(t, "http://"+agentAddr+"/flags", &flags)
	workDir := flags.Flags["work_dir"]
	if workDir == "" {
		t.Fatal("the agent's /flags has no work_dir")
	}
	// However the test ends, stopping the agent leaves no process behind,
	// not even a task whose executor is gone.
	t.Cleanup(func() {
		c.stop()
		deadline := time.Now().Add(10 * time.Second)
		for left := processesUnder(workDir); len(left) > 0; left = processesUnder(workDir) {
			if time.Now().After(deadline) {
				t.Errorf("%d processes left in sandboxes after the agent stopped, such as %v", len(left), left[:min(len(left), 10)])
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})

	// The framework acknowledges from a few goroutines, as a scheduler that
	// keeps up with a thousand tasks must.
	fw := startFramework(t, c, frameworkOptions{noAutoAck: true})
	updates := fw.ackConcurrently(8)
	mon := watchAgent(t, c, agentAddr)

	// Launch: a hundred tasks on each offer, as fast as offers come.
	const perOffer = 100
	tasks := make([]*mesos.TaskInfo, 0, n)
	start := time.Now()
	for len(tasks) < n {
		o := fw.nextOffer()
		batch := make([]*mesos.TaskInfo, 0, perOffer)
		for i := len(tasks); i < n && len(batch) < perOffer; i++ {
			batch = append(batch, commandTask(fmt.Sprintf("sleep-%04d", i), o, "cpus:0.01;mem:1", "exec sleep 1000"))
		}
		// What is left of the offer comes back at once (no refusal filter).
		if err := fw.client.Launch(ctxT(t), ids(o), batch, &mesos.Filters{RefuseSeconds: ptr(0.0)}); err != nil {
			t.Fatal(err)
		}
		tasks = append(tasks, batch...)
	}
	running := map[string]bool{}
	for len(running) < n {
		st := next(t, updates)
		id := st.GetTaskId().GetValue()
		switch st.GetState() {
		case mesos.TaskState_TASK_STARTING:
		case mesos.TaskState_TASK_RUNNING:
			running[id] = true
		default:
			t.Fatalf("task %s: %s (%s: %s) while launching", id, st.GetState(), st.GetReason(), st.GetMessage())
		}
	}
	launched := time.Since(start)
	// Each task is its sleep; the executors are goroutines of the agent's
	// executor host, which runs outside the sandboxes.
	if procs := processesUnder(workDir); len(procs) < n {
		t.Errorf("%d processes in sandboxes with every task running, want at least %d", len(procs), n)
	}
	launchProbe := mon.reset()

	// Kill: every task, from a few scheduler goroutines at once.
	start = time.Now()
	var wg sync.WaitGroup
	toKill := make(chan *mesos.TaskInfo)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for task := range toKill {
				if err := fw.client.Kill(ctxT(t), task.GetTaskId(), task.GetAgentId()); err != nil {
					t.Errorf("kill %s: %v", task.GetTaskId().GetValue(), err)
				}
			}
		}()
	}
	for _, task := range tasks {
		toKill <- task
	}
	close(toKill)
	killed := map[string]bool{}
	for len(killed) < n {
		st := next(t, updates)
		id := st.GetTaskId().GetValue()
		switch st.GetState() {
		case mesos.TaskState_TASK_KILLED:
			killed[id] = true
		case mesos.TaskState_TASK_KILLING, mesos.TaskState_TASK_STARTING, mesos.TaskState_TASK_RUNNING:
			// Updates are delivered at least once: a RUNNING may come again.
		default:
			t.Fatalf("task %s: %s (%s: %s) while killing", id, st.GetState(), st.GetReason(), st.GetMessage())
		}
	}
	killedIn := time.Since(start)
	wg.Wait()
	waitFor(t, "every executor and task process to be gone", func() bool { return len(processesUnder(workDir)) == 0 })
	gone := time.Since(start)
	waitFor(t, "the agent to have no executor left", func() bool {
		var m map[string]float64
		getJSON(t, "http://"+agentAddr+"/metrics/snapshot", &m)
		return m["slave/executors_running"]+m["slave/executors_registering"]+m["slave/executors_terminating"] == 0
	})
	killProbe := mon.stop()

	t.Logf("%d tasks: all TASK_RUNNING %v after the launch; all TASK_KILLED %v after the first kill, every process gone after %v",
		n, launched.Round(time.Millisecond), killedIn.Round(time.Millisecond), gone.Round(time.Millisecond))
	t.Logf("executor-call round trips through the agent's loop: launch %v; kill %v", launchProbe, killProbe)
	// The round trips are reported, not held to a bound: on a loaded
	// machine the tail is the scheduler's, not the loop's. The master's
	// view above is the test. A loop that waits on processes shows here
	// as a median of seconds.
	for _, p := range []probeStats{launchProbe, killProbe} {
		if p.n == 0 || p.median > time.Second {
			t.Errorf("executor calls through the agent's loop: %v; most must be answered within the master's ping timeout", p)
		}
	}
}

// ackConcurrently acknowledges the framework's updates from workers
// goroutines, and passes every update on.
func (fw *framework) ackConcurrently(workers int) <-chan *mesos.TaskStatus {
	out := make(chan *mesos.TaskStatus, cap(fw.updates))
	acks := make(chan *mesos.TaskStatus, cap(fw.updates))
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for st := range acks {
				if err := fw.client.Acknowledge(ctx, st); err != nil && ctx.Err() == nil {
					fw.t.Errorf("acknowledge %s %s: %v", st.GetTaskId().GetValue(), st.GetState(), err)
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(acks)
		for {
			select {
			case st := <-fw.updates:
				if len(st.GetUuid()) > 0 {
					acks <- st
				}
				out <- st
			case <-ctx.Done():
				return
			}
		}
	}()
	fw.t.Cleanup(func() {
		cancel()
		wg.Wait()
	})
	return out
}

// next returns the next update, failing the test after patience.
func next(t *testing.T, updates <-chan *mesos.TaskStatus) *mesos.TaskStatus {
	t.Helper()
	select {
	case st := <-updates:
		return st
	case <-time.After(patience):
		t.Fatal("timed out waiting for a status update")
		return nil
	}
}

// processesUnder lists the processes (pid and command) whose working
// directory is dir or below: the agent runs every executor and task in its
// sandbox.
func processesUnder(dir string) []string {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err != nil || (cwd != dir && !strings.HasPrefix(cwd, dir+"/")) {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
			if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && (stat[i+2] == 'Z' || stat[i+2] == 'X') {
				continue
			}
		}
		cmd, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		out = append(out, fmt.Sprintf("%d (%s)", pid, strings.ReplaceAll(strings.TrimRight(string(cmd), "\x00"), "\x00", " ")))
	}
	return out
}

// agentWatch checks, while a test runs, that the master keeps the agent
// (no removal, no re-registration, no lost task, the agent active) and times
// executor calls through the agent's loop.
type agentWatch struct {
	t    *testing.T
	mu   sync.Mutex
	rtts []time.Duration
	quit chan struct{}
	done chan struct{}
}

type probeStats struct {
	n           int
	median, p99 time.Duration
	max         time.Duration
}

func (p probeStats) String() string {
	return fmt.Sprintf("%d calls, median %v, p99 %v, max %v", p.n, p.median.Round(time.Microsecond),
		p.p99.Round(time.Microsecond), p.max.Round(time.Microsecond))
}

func watchAgent(t *testing.T, c *cluster, agentAddr string) *agentWatch {
	w := &agentWatch{t: t, quit: make(chan struct{}), done: make(chan struct{})}
	probe, err := proto.Marshal(&execpb.Call{
		Type:        execpb.Call_MESSAGE.Enum(),
		FrameworkId: &mesos.FrameworkID{Value: ptr("no-such-framework")},
		ExecutorId:  &mesos.ExecutorID{Value: ptr("probe")},
		Message:     &execpb.Call_Message{Data: []byte("probe")},
	})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 30 * time.Second}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-w.quit:
				return
			case <-tick.C:
			}
			start := time.Now()
			resp, err := client.Post("http://"+agentAddr+"/api/v1/executor", codec.MediaProtobuf, bytes.NewReader(probe))
			if err != nil {
				t.Errorf("executor call to the agent: %v", err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			rtt := time.Since(start)
			if resp.StatusCode != http.StatusBadRequest {
				t.Errorf("executor call for an unknown framework: %s, want 400", resp.Status)
			}
			w.mu.Lock()
			w.rtts = append(w.rtts, rtt)
			w.mu.Unlock()
		}
	}()
	go func() {
		defer wg.Done()
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			w.checkMaster(c)
			select {
			case <-w.quit:
				w.checkMaster(c)
				return
			case <-tick.C:
			}
		}
	}()
	go func() {
		wg.Wait()
		close(w.done)
	}()
	t.Cleanup(func() { w.stop() })
	return w
}

// checkMaster fails the test if the master has given up on the agent in
// any way.
func (w *agentWatch) checkMaster(c *cluster) {
	var m map[string]float64
	getJSON(w.t, c.master.URL()+"/metrics/snapshot", &m)
	for _, k := range []string{"master/slave_removals", "master/slave_removals/reason_unhealthy",
		"master/slave_reregistrations", "master/slave_unreachable_scheduled", "master/tasks_lost",
		"master/tasks_failed", "master/tasks_dropped", "master/tasks_gone"} {
		if v, ok := m[k]; !ok || v != 0 {
			w.t.Errorf("master %s = %v, want 0", k, v)
		}
	}
	if m["master/slaves_active"] != 1 || m["master/slaves_connected"] != 1 {
		w.t.Errorf("master: slaves_active %v, slaves_connected %v; want 1 and 1", m["master/slaves_active"], m["master/slaves_connected"])
	}
}

// reset returns the round trips timed so far and starts again.
func (w *agentWatch) reset() probeStats {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := stats(w.rtts)
	w.rtts = nil
	return s
}

// stop ends the watch and returns the round trips since the last reset.
func (w *agentWatch) stop() probeStats {
	select {
	case <-w.quit:
	default:
		close(w.quit)
	}
	<-w.done
	return w.reset()
}

func stats(rtts []time.Duration) probeStats {
	if len(rtts) == 0 {
		return probeStats{}
	}
	s := slices.Clone(rtts)
	slices.Sort(s)
	return probeStats{n: len(s), median: s[len(s)/2], p99: s[len(s)*99/100], max: s[len(s)-1]}
}
