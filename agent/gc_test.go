package agent

import (
	"context"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// Mesos: the sandbox of an executor that ended, its executor directory and
// the directory of the framework that left are removed --gc_delay later,
// and no longer served under /files; gc/* count it.
func TestGCRemovesSandboxesAfterGCDelay(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	const delay = 2 * time.Second
	a := startAgent(t, fm, func(c *Config) { c.GCDelay = delay })
	agentID := a.registered(t)

	var metrics map[string]float64
	getJSON(t, a, "/metrics/snapshot", &metrics)
	if got, want := metrics["slave/executor_directory_max_allowed_age_secs"], 0.9*delay.Seconds(); got <= 0 || got > want+1e-9 {
		t.Errorf("executor_directory_max_allowed_age_secs = %v, want at most %v and more than 0", got, want)
	}

	fm.send(runTask(commandTask("hello", agentID, "echo hello")))
	fm.ackUntilTerminal("hello")
	var state stateJSONForTest
	eventually(t, "the framework to complete", func() bool {
		getJSON(t, a, "/state", &state)
		return len(state.Frameworks) == 0 && len(state.CompletedFrameworks) == 1
	})
	sandbox := state.CompletedFrameworks[0].CompletedExecutors[0].Directory
	fwDir := filepath.Join(a.cfg.WorkDir, "slaves", agentID, "frameworks", "fw-1")
	if _, err := os.Stat(filepath.Join(sandbox, "stdout")); err != nil {
		t.Fatalf("the sandbox is gone at once: %v", err)
	}
	eventually(t, "the framework's directory to be removed", func() bool {
		_, err := os.Stat(fwDir)
		return os.IsNotExist(err)
	})
	var read struct{}
	if code := getJSON(t, a, "/files/read?offset=0&path="+url.QueryEscape(filepath.Join(sandbox, "stdout")), &read); code != 404 {
		t.Errorf("/files/read of a removed sandbox: %d, want 404", code)
	}
	eventually(t, "gc metrics", func() bool {
		getJSON(t, a, "/metrics/snapshot", &metrics)
		return metrics["gc/path_removals_pending"] == 0 && metrics["gc/path_removals_succeeded"] >= 1
	})
	if metrics["gc/path_removals_failed"] != 0 {
		t.Errorf("gc/path_removals_failed = %v", metrics["gc/path_removals_failed"])
	}

	// The framework comes back: its new task runs in a new sandbox.
	fm.send(runTask(commandTask("again", agentID, "echo again")))
	if got := fm.ackUntilTerminal("again"); !slices.Contains(got, mesos.TaskState_TASK_FINISHED) {
		t.Fatalf("second task: %v", got)
	}
}

func testCollector(t *testing.T, delay time.Duration) (*collector, string) {
	t.Helper()
	work := t.TempDir()
	g := newCollector(Config{WorkDir: work, GCDelay: delay, GCDiskHeadroom: 0.1, DiskWatchInterval: time.Hour},
		slog.New(slog.DiscardHandler), nil)
	return g, work
}

func mkdirs(t *testing.T, dirs ...string) {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

// A launch takes back the scheduled directories above its sandbox (the
// executor's and the framework's), not its siblings.
func TestGCLaunchUnschedulesItsAncestors(t *testing.T) {
	g, work := testCollector(t, time.Hour)
	close(g.scanned)
	fw := filepath.Join(work, "slaves", "a", "frameworks", "f")
	ex := filepath.Join(fw, "executors", "e")
	old := filepath.Join(ex, "runs", "r1")
	other := filepath.Join(fw, "executors", "x")
	mkdirs(t, old, other)
	g.schedule([]string{old, ex, other, fw})
	g.unscheduleFor(filepath.Join(ex, "runs", "r2"))
	g.mu.Lock()
	var left []string
	for d := range g.due {
		left = append(left, d)
	}
	g.mu.Unlock()
	slices.Sort(left)
	if want := []string{old, other}; !slices.Equal(left, want) {
		t.Errorf("scheduled after the launch: %v, want %v", left, want)
	}
}

// The fuller the disk, the younger a directory may be removed: at usage u
// the allowed age is gc_delay × (1 − headroom − u), and directories older
// than that go at once.
func TestGCDiskUsageShortensTheAllowedAge(t *testing.T) {
	const delay = 100 * time.Hour
	g, work := testCollector(t, delay)
	close(g.scanned)
	old := filepath.Join(work, "old")
	young := filepath.Join(work, "young")
	mkdirs(t, old, young)
	now := time.Now()
	g.scheduleAt(old, now.Add(-60*time.Hour))
	g.scheduleAt(young, now.Add(-10*time.Hour))

	g.usage = func(string) (float64, error) { return 0.4, nil } // allowed age 50h
	g.checkDisk()
	if got := time.Duration(g.maxAge.Load()); got != 50*time.Hour {
		t.Errorf("allowed age at 40%% = %v, want 50h", got)
	}
	if exists(old) || !exists(young) {
		t.Errorf("at 40%%: old exists %v (want false), young exists %v (want true)", exists(old), exists(young))
	}
	if g.succeeded.Load() != 1 || g.pending() != 1 {
		t.Errorf("succeeded %d pending %d, want 1 and 1", g.succeeded.Load(), g.pending())
	}

	g.usage = func(string) (float64, error) { return 0.95, nil } // past the headroom
	g.checkDisk()
	if got := g.maxAge.Load(); got != 0 {
		t.Errorf("allowed age at 95%% = %v, want 0", time.Duration(got))
	}
	if exists(young) || g.pending() != 0 {
		t.Errorf("at 95%%: young exists %v, pending %d; want removed", exists(young), g.pending())
	}
}

// A directory falls due gc_delay after it was scheduled, and run removes
// it then.
func TestGCRunRemovesWhenDue(t *testing.T) {
	g, work := testCollector(t, 200*time.Millisecond)
	removed := make(chan string, 16)
	g.removed = func(d string) { removed <- d }
	start := time.Now()
	dir := filepath.Join(work, "slaves", "a", "frameworks", "f")
	mkdirs(t, filepath.Join(dir, "executors", "e", "runs", "r"))
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { defer close(stopped); g.run(ctx, "a", nil) }()
	defer func() { cancel(); <-stopped }()
	// The framework's dead executor was left over: all of it is scheduled
	// by its modification time, which is now.
	for {
		select {
		case d := <-removed:
			if d != dir {
				continue
			}
		case <-time.After(patience):
			t.Fatal("the framework's directory was not removed")
		}
		break
	}
	// (The filesystem's clock may run a tick behind time.Now.)
	if waited := time.Since(start); waited < 150*time.Millisecond {
		t.Errorf("removed after %v, well before its 200ms gc_delay", waited)
	}
	if exists(dir) {
		t.Errorf("framework directory %s still exists", dir)
	}
}

// What earlier agents left is scheduled at start: other agents' whole
// directories, and in this agent's the runs of containers that are not
// running, the executors without a running one and the frameworks without
// a running executor; live sandboxes and their parents are not.
func TestGCSchedulesLeftovers(t *testing.T) {
	g, work := testCollector(t, time.Hour)
	slaves := filepath.Join(work, "slaves")
	oldAgent := filepath.Join(slaves, "old")
	fw := filepath.Join(slaves, "me", "frameworks", "f")
	liveEx := filepath.Join(fw, "executors", "live")
	deadEx := filepath.Join(fw, "executors", "dead")
	deadFw := filepath.Join(slaves, "me", "frameworks", "g")
	mkdirs(t, filepath.Join(oldAgent, "frameworks"),
		filepath.Join(liveEx, "runs", "c1"), filepath.Join(liveEx, "runs", "c0"),
		filepath.Join(deadEx, "runs", "c2"),
		filepath.Join(deadFw, "executors", "e", "runs", "c3"))
	if err := os.Symlink("c1", filepath.Join(liveEx, "runs", "latest")); err != nil {
		t.Fatal(err)
	}
	g.scheduleLeftovers("me", map[string]bool{"c1": true})
	var got []string
	for d := range g.due {
		got = append(got, d)
	}
	slices.Sort(got)
	want := []string{
		oldAgent,
		deadEx, filepath.Join(deadEx, "runs", "c2"),
		filepath.Join(liveEx, "runs", "c0"),
		deadFw, filepath.Join(deadFw, "executors", "e"), filepath.Join(deadFw, "executors", "e", "runs", "c3"),
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("scheduled:\n%v\nwant\n%v", got, want)
	}
}

func TestUnescapeMountPath(t *testing.T) {
	for in, want := range map[string]string{`/a\040b`: "/a b", `/plain`: "/plain", `/x\134y`: `/x\y`, `/end\04`: `/end\04`} {
		if got := unescapeMountPath(in); got != want {
			t.Errorf("unescapeMountPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// Bad values of the gc flags are refused, naming the flag.
func TestGCConfigValidation(t *testing.T) {
	for _, c := range []Config{{GCDiskHeadroom: 1.5}, {GCDiskHeadroom: -0.1}, {GCDelay: -time.Second}, {DiskWatchInterval: -time.Second}} {
		c.Master = "127.0.0.1:5050"
		c.WorkDir = t.TempDir()
		if _, err := c.withDefaults(); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	c, err := Config{Master: "127.0.0.1:5050", WorkDir: t.TempDir()}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if c.GCDelay != DefaultGCDelay || c.GCDiskHeadroom != DefaultGCDiskHeadroom || c.DiskWatchInterval != DefaultDiskWatchInterval {
		t.Errorf("defaults: %v %v %v", c.GCDelay, c.GCDiskHeadroom, c.DiskWatchInterval)
	}
}

// A scheduled directory is touched, so that its modification time says
// when it was scheduled (what an agent started later goes by).
func TestGCTouchesScheduledDirectories(t *testing.T) {
	g, work := testCollector(t, time.Hour)
	dir := filepath.Join(work, "run")
	mkdirs(t, dir)
	old := time.Now().Add(-48 * time.Hour)
	if err := os.Chtimes(dir, old, old); err != nil {
		t.Fatal(err)
	}
	g.schedule([]string{dir, filepath.Join(work, "gone")})
	g.touchScheduled()
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if age := time.Since(st.ModTime()); age > time.Minute {
		t.Errorf("modification time %v ago after scheduling, want now", age)
	}
}
