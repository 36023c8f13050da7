package batch

// Tests of issue 11's parts on real clusters: delay scheduling, executor
// timeouts, the shuffle service, driver failover, role weights and the
// shipped executor binary.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomesos/gomesos/internal/testutil"
)

// writeLocations writes input's _locations file: file i is local to
// agents[i%len(agents)].
func writeLocations(t *testing.T, input string, agents ...string) {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(input, "in-*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	b.WriteString("# file<TAB>agents\n")
	for i, n := range names {
		fmt.Fprintf(&b, "%s\t%s\n", filepath.Base(n), agents[i%len(agents)])
	}
	if err := os.WriteFile(filepath.Join(input, LocationsFile), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// mapTasks returns the TaskEnded events of the stage reading the input.
func mapTasks(ev *events) []Event {
	ev.mu.Lock()
	defer ev.mu.Unlock()
	var out []Event
	for _, e := range ev.all {
		if e.Kind == TaskEnded && !strings.HasPrefix(e.StageName, "reduceByKey") {
			out = append(out, e)
		}
	}
	return out
}

// Delay scheduling on a real cluster: the input's files are local to two
// of three agents. With a long locality wait, the driver declines the
// third agent's offers and every map task runs on the agent its file is
// local to; with no wait, executors go on every agent and the map tasks
// run on whichever has a free slot, the third agent's too.
func TestDelaySchedulingRunsMapTasksWhereTheirSplitsAre(t *testing.T) {
	c := startCluster(t, "", "", "")
	waitFor(t, "the agents to learn their ids", func() bool {
		return c.agents[0].ID() != "" && c.agents[1].ID() != "" && c.agents[2].ID() != ""
	})
	input, counts := writeText(t, 6, 300, 7)
	local := []string{c.agents[1].ID(), c.agents[2].ID()}
	writeLocations(t, input, local...)
	prefer := func(p int) string { return local[p%2] }

	for _, wait := range []time.Duration{time.Minute, 0} {
		var ev events
		// Three one-core executors. With no wait, all are wanted before
		// tasks start (so the third agent gets one); with the wait, none
		// before the job's tasks say where they would run (an executor
		// taken at the start goes anywhere).
		cfg := Config{CoresMax: 3, ExecutorCores: 1, LocalityWait: wait, Progress: ev.add}
		if wait == 0 {
			cfg.MinRegisteredRatio = 1
		}
		app := startApp(t, c, cfg)
		out := filepath.Join(t.TempDir(), "out")
		if err := RunBuiltin(ctxT(t), app, "wordcount", input, out, JobOptions{Partitions: 2}); err != nil {
			t.Fatalf("wait %s: wordcount: %v\n%s", wait, err, &ev)
		}
		checkWordCount(t, out, counts, 2)
		maps := mapTasks(&ev)
		if len(maps) != 6 {
			t.Fatalf("wait %s: %d map tasks ended, want 6\n%s", wait, len(maps), &ev)
		}
		remote := 0
		for _, m := range maps {
			if m.Agent != prefer(m.Partition) {
				remote++
				if m.Locality != "any" {
					t.Errorf("wait %s: map task %d ran on agent %s, not its file's %s, but reports locality %q", wait, m.Partition, m.Agent, prefer(m.Partition), m.Locality)
				}
			} else if m.Locality != "local" {
				t.Errorf("wait %s: map task %d ran where its file is but reports locality %q", wait, m.Partition, m.Locality)
			}
		}
		onThird := false
		for _, e := range app.Executors() {
			if e.AgentID == c.agents[0].ID() {
				onThird = true
			}
		}
		if wait > 0 {
			if remote > 0 {
				t.Errorf("wait %s: %d of 6 map tasks ran away from their files\n%s", wait, remote, &ev)
			}
			if onThird {
				t.Errorf("wait %s: an executor was launched on the agent no file is local to", wait)
			}
		} else {
			if !onThird {
				t.Errorf("wait 0: no executor on the third agent: the driver waited for the agents it prefers")
			}
			if remote == 0 {
				t.Errorf("wait 0: every map task ran where its file is, none on the third agent's executor\n%s", &ev)
			}
		}
		if err := app.Stop(ctxT(t)); err != nil {
			t.Fatal(err)
		}
	}
}

// An executor that stops answering (SIGSTOP) in the middle of the map stage
// is lost once its pings go unanswered for the executor timeout: its tasks
// and map outputs are run again elsewhere and the answer is exact.
func TestHungExecutorIsLostAndItsTasksRunElsewhere(t *testing.T) {
	c := startCluster(t, "", "")
	input, counts := writeText(t, 6, 400, 5)
	var ev events
	var app *App
	stopped := make(chan ExecutorStatus, 1)
	progress := func(e Event) {
		ev.add(e)
		// After the first map task, stop the executor that ran it: it
		// holds a map output and is likely running another task.
		if e.Kind == TaskEnded && e.Stage == 1 && len(stopped) == 0 && ev.count(TaskEnded, nil) == 1 {
			for _, x := range app.Executors() {
				if x.ID == e.Executor && x.PID > 0 {
					if err := syscall.Kill(x.PID, syscall.SIGSTOP); err != nil {
						t.Errorf("stopping executor %s (pid %d): %v", x.ID, x.PID, err)
					}
					stopped <- x
				}
			}
		}
	}
	app = startApp(t, c, Config{CoresMax: 2, ExecutorCores: 1, MinRegisteredRatio: 1, ExecutorTimeout: 1500 * time.Millisecond, Progress: progress})
	// Runs before the app stops: the stopped process must go on to be
	// killed.
	t.Cleanup(func() {
		select {
		case x := <-stopped:
			syscall.Kill(x.PID, syscall.SIGCONT)
			stopped <- x
		default:
		}
	})
	out := filepath.Join(t.TempDir(), "out")
	if err := RunBuiltin(ctxT(t), app, "wordcount", input, out, JobOptions{Partitions: 2, SplitSize: 2 << 10}); err != nil {
		t.Fatalf("wordcount: %v\n%s", err, &ev)
	}
	checkWordCount(t, out, counts, 2)
	var x ExecutorStatus
	select {
	case x = <-stopped:
		stopped <- x
	default:
		t.Fatalf("no executor was stopped\n%s", &ev)
	}
	lost := ev.count(ExecutorLost, func(e Event) bool {
		return e.Executor == x.ID && e.Err != nil && strings.Contains(e.Err.Error(), "did not answer")
	})
	if lost != 1 {
		t.Errorf("the driver did not report the stopped executor %s lost for its silence\n%s", x.ID, &ev)
	}
}

// With the shuffle service, an executor released after the map stage keeps
// its map outputs: a later job over the same shuffle runs only its reduce
// tasks, on new executors, reading the outputs through the services.
func TestShuffleServiceKeepsReleasedExecutorsOutputs(t *testing.T) {
	c := startCluster(t, "", "")
	input, counts := writeText(t, 3, 300, 6)
	var ev events
	app := startApp(t, c, Config{CoresMax: 2, ExecutorCores: 1, MinRegisteredRatio: 1, ShuffleService: true,
		ExecutorIdleTimeout: 300 * time.Millisecond, Progress: ev.add})
	ds := TextFile(input).WithSplitSize(2<<10).FlatMap("batch.words", "").ReduceByKey("batch.sum", "", 2)
	check := func(job string, recs []Record) {
		t.Helper()
		got := map[string]string{}
		for _, r := range recs {
			got[r.Key] = r.Value
		}
		if len(got) != len(counts) {
			t.Errorf("%s: %d words, want %d", job, len(got), len(counts))
		}
		for w, n := range counts {
			if got[w] != fmt.Sprint(n) {
				t.Errorf("%s: count of %q is %q, want %d", job, w, got[w], n)
			}
		}
	}
	recs, err := app.Collect(ctxT(t), ds)
	if err != nil {
		t.Fatalf("first job: %v\n%s", err, &ev)
	}
	check("first job", recs)
	mapsBefore := len(mapTasks(&ev))
	waitFor(t, "every executor to be released", func() bool {
		for _, e := range app.Executors() {
			if !e.Lost {
				return false
			}
		}
		return true
	})
	for _, e := range app.Executors() {
		if e.PID > 0 {
			waitFor(t, "a released executor's process to end", func() bool { return testutil.ProcessGone(e.PID) })
		}
	}
	recs, err = app.Collect(ctxT(t), ds)
	if err != nil {
		t.Fatalf("second job: %v\n%s", err, &ev)
	}
	check("second job", recs)
	if n := len(mapTasks(&ev)) - mapsBefore; n != 0 {
		t.Errorf("the second job ran %d map tasks: released executors' outputs were recomputed\n%s", n, &ev)
	}
	if ev.count(ExecutorLost, nil) != 0 || ev.count(ExecutorReleased, nil) == 0 {
		t.Errorf("want executors released and none lost\n%s", &ev)
	}
}

// A driver that dies (Abandon: no teardown) is replaced within the
// failover timeout by one subscribing with its framework id: the new
// driver reconciles, its executors announce themselves again, and it runs
// the next job on them without launching others.
func TestDriverFailoverTakesOverExecutors(t *testing.T) {
	c := startCluster(t, "", "")
	input, counts := writeText(t, 3, 200, 8)
	cfg := Config{CoresMax: 2, ExecutorCores: 1, MinRegisteredRatio: 1, FailoverTimeout: time.Minute}
	app1 := startApp(t, c, cfg)
	out1 := filepath.Join(t.TempDir(), "out")
	if err := RunBuiltin(ctxT(t), app1, "wordcount", input, out1, JobOptions{Partitions: 2, SplitSize: 2 << 10}); err != nil {
		t.Fatalf("first driver: %v", err)
	}
	checkWordCount(t, out1, counts, 2)
	before := app1.Executors()
	id := app1.FrameworkID()
	app1.Abandon()

	var ev events
	cfg.FrameworkID, cfg.Progress = id, ev.add
	app2 := startApp(t, c, cfg)
	if app2.FrameworkID() != id {
		t.Fatalf("the new driver subscribed as %s, want the failed-over %s", app2.FrameworkID(), id)
	}
	waitFor(t, "the earlier driver's executors to register with the new one", func() bool {
		got := map[string]ExecutorStatus{}
		for _, e := range app2.Executors() {
			got[e.ID] = e
		}
		for _, e := range before {
			if g, ok := got[e.ID]; !ok || g.Addr == "" || g.PID != e.PID || g.Lost {
				return false
			}
		}
		return true
	})
	out2 := filepath.Join(t.TempDir(), "out")
	if err := RunBuiltin(ctxT(t), app2, "wordcount", input, out2, JobOptions{Partitions: 2, SplitSize: 2 << 10}); err != nil {
		t.Fatalf("second driver: %v\n%s", err, &ev)
	}
	checkWordCount(t, out2, counts, 2)
	after := app2.Executors()
	if len(after) != len(before) {
		t.Errorf("the new driver has %d executors, want the earlier driver's %d and no other\n%s", len(after), len(before), &ev)
	}
	done := 0
	for _, e := range after {
		done += e.TasksDone
	}
	if done == 0 {
		t.Errorf("the taken-over executors ran no task\n%s", &ev)
	}
	if c.frameworkState(id) != "active" {
		t.Errorf("the framework is %q at the master, want active", c.frameworkState(id))
	}
}

// Two applications in two roles of weights 1 and 2, both with work
// waiting when the agents come: the master's weighted DRF gives the heavier
// role twice the executors (cores) of the lighter.
func TestTwoAppsShareTheClusterByRoleWeight(t *testing.T) {
	c := startCluster(t)
	req, err := http.NewRequest(http.MethodPut, c.master.URL()+"/weights", strings.NewReader(`[{"role":"light","weight":1},{"role":"heavy","weight":2}]`))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("PUT /weights: %s", resp.Status)
	}
	input, counts := writeText(t, 4, 300, 9)
	apps := map[string]*App{}
	evs := map[string]*events{}
	errs := make(chan error, 2)
	for _, role := range []string{"light", "heavy"} {
		evs[role] = &events{}
		// Two executors fill an agent, memory too: no remainder of an
		// agent is offered, whose memory would count in the share of the
		// role it went to until it declined it.
		app := startApp(t, c, Config{Role: role, ExecutorCores: 1, ExecutorMemory: 512, Progress: evs[role].add})
		apps[role] = app
		out := filepath.Join(t.TempDir(), "out-"+role)
		go func() {
			err := RunBuiltin(ctxT(t), app, "wordcount", input, out, JobOptions{Partitions: 2, SplitSize: 1 << 10})
			if err == nil {
				checkWordCount(t, out, counts, 2)
			}
			errs <- err
		}()
	}
	waitFor(t, "both apps to have tasks waiting", func() bool {
		for _, a := range apps {
			a.mu.Lock()
			n := len(a.pending)
			a.mu.Unlock()
			if n == 0 {
				return false
			}
		}
		return true
	})
	for range 3 {
		c.addAgent("")
	}
	cores := func(a *App) (n int) {
		for _, e := range a.Executors() {
			if !e.Lost {
				n++
			}
		}
		return n
	}
	waitFor(t, "the agents' 6 cores to go to executors", func() bool {
		return cores(apps["light"])+cores(apps["heavy"]) == 6
	})
	if l, h := cores(apps["light"]), cores(apps["heavy"]); l != 2 || h != 4 {
		var fws json.RawMessage
		c.getJSON("/master/frameworks", &fws)
		t.Errorf("role light (weight 1) holds %d cores and role heavy (weight 2) %d, want 2 and 4\nlight: %v\n%s\nheavy: %v\n%s\nmaster: %s",
			l, h, apps["light"].Executors(), evs["light"], apps["heavy"].Executors(), evs["heavy"], fws)
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// With ShipAlways, the agents fetch the executor binary from the driver's
// web page into each sandbox and run that copy.
func TestExecutorIsShippedThroughTheFetcher(t *testing.T) {
	c := startCluster(t, "", "")
	input, counts := writeText(t, 2, 200, 10)
	app := startApp(t, c, Config{CoresMax: 2, ExecutorCores: 1, MinRegisteredRatio: 1, ShipExecutor: ShipAlways})
	out := filepath.Join(t.TempDir(), "out")
	if err := RunBuiltin(ctxT(t), app, "wordcount", input, out, JobOptions{Partitions: 2, SplitSize: 2 << 10}); err != nil {
		t.Fatalf("wordcount: %v", err)
	}
	checkWordCount(t, out, counts, 2)
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	execs := app.Executors()
	if len(execs) == 0 {
		t.Fatal("no executor")
	}
	for _, e := range execs {
		info, err := os.Stat(filepath.Join(e.Dir, shippedName))
		if err != nil || info.Mode()&0o111 == 0 {
			t.Errorf("executor %s's sandbox has no executable %s (%v)", e.ID, shippedName, err)
		}
		exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", e.PID))
		if err != nil {
			t.Fatal(err)
		}
		if exe == self {
			t.Errorf("executor %s runs the driver's binary %s, not a shipped copy", e.ID, exe)
		}
	}
}

func TestShippingGoesToRemoteAgentsOnly(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ship, err := newShipper(self, "http://driver:1")
	if err != nil {
		t.Fatal(err)
	}
	a := &App{cfg: Config{ShipExecutor: ShipRemote, ExecutorCommand: "/opt/gomesos"}, ship: ship, log: testLogger(t)}
	remote := a.command("203.0.113.7", nil)
	if len(remote.GetUris()) != 1 || remote.GetUris()[0].GetValue() != a.ship.url || !remote.GetUris()[0].GetExecutable() {
		t.Errorf("a remote agent's command %v does not fetch the binary", remote)
	}
	for _, host := range []string{"127.0.0.1", "localhost"} {
		if local := a.command(host, nil); len(local.GetUris()) != 0 || local.GetValue() != "/opt/gomesos" {
			t.Errorf("agent %s on this machine: command %v, want the binary's path", host, local)
		}
	}
	a.cfg.ShipExecutor = ShipAlways
	if len(a.command("127.0.0.1", nil).GetUris()) != 1 {
		t.Error("ShipAlways did not ship to a local agent")
	}
	a.ship = nil // ShipNever, or a bare name found on the agents' PATH
	if c := a.command("203.0.113.7", nil); len(c.GetUris()) != 0 {
		t.Errorf("without a shipper: command %v fetches", c)
	}
}

// An idle executor that stops answering (SIGSTOP) is found by the driver's
// pings and lost, without a task being sent to it.
func TestHungIdleExecutorIsLost(t *testing.T) {
	c := startCluster(t, "")
	input, counts := writeText(t, 1, 100, 11)
	var ev events
	app := startApp(t, c, Config{CoresMax: 1, ExecutorCores: 1, ExecutorTimeout: time.Second, Progress: ev.add})
	out := filepath.Join(t.TempDir(), "out")
	if err := RunBuiltin(ctxT(t), app, "wordcount", input, out, JobOptions{Partitions: 1}); err != nil {
		t.Fatalf("wordcount: %v", err)
	}
	checkWordCount(t, out, counts, 1)
	x := app.Executors()[0]
	if err := syscall.Kill(x.PID, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// Runs before the app stops: the stopped process must go on to be
	// killed.
	t.Cleanup(func() { syscall.Kill(x.PID, syscall.SIGCONT) })
	waitFor(t, "the stopped idle executor to be lost", func() bool {
		return ev.count(ExecutorLost, func(e Event) bool {
			return e.Executor == x.ID && strings.Contains(e.Err.Error(), "did not answer")
		}) == 1
	})
}
