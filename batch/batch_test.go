package batch

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gomesos/gomesos/internal/testutil"
)

// writeText writes files of random words to a new directory and returns it
// with the word counts a single process computes.
func writeText(t *testing.T, files, lines int, seed uint64) (string, map[string]int) {
	t.Helper()
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(seed, 1))
	counts := map[string]int{}
	for f := 0; f < files; f++ {
		var b strings.Builder
		for l := 0; l < lines; l++ {
			n := rng.IntN(12)
			for w := 0; w < n; w++ {
				if w > 0 {
					b.WriteString([]string{" ", "  ", "\t"}[rng.IntN(3)])
				}
				b.WriteString("w" + strconv.Itoa(rng.IntN(300)))
			}
			b.WriteByte('\n')
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("in-%02d.txt", f)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		for _, w := range strings.Fields(b.String()) {
			counts[w]++
		}
	}
	return dir, counts
}

// readParts reads the part files of an output directory in order, checking
// that the job marked it complete.
func readParts(t *testing.T, dir string) [][]string {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, "_SUCCESS")); err != nil {
		t.Fatalf("output has no _SUCCESS: %v", err)
	}
	names, err := filepath.Glob(filepath.Join(dir, "part-*"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	var parts [][]string
	for i, name := range names {
		if filepath.Base(name) != fmt.Sprintf("part-%05d", i) {
			t.Fatalf("part files %v are not part-00000 onwards", names)
		}
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		var lines []string
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		f.Close()
		parts = append(parts, lines)
	}
	return parts
}

// checkWordCount compares a wordcount output with counts.
func checkWordCount(t *testing.T, dir string, counts map[string]int, partitions int) {
	t.Helper()
	parts := readParts(t, dir)
	if len(parts) != partitions {
		t.Fatalf("%d part files, want %d", len(parts), partitions)
	}
	got := map[string]int{}
	for i, lines := range parts {
		if !sort.StringsAreSorted(lines) {
			t.Errorf("part %d is not ordered by word", i)
		}
		for _, l := range lines {
			w, c, ok := strings.Cut(l, "\t")
			n, err := strconv.Atoi(c)
			if !ok || err != nil {
				t.Fatalf("part %d: line %q is not word<TAB>count", i, l)
			}
			if _, dup := got[w]; dup {
				t.Fatalf("word %q appears twice in the output", w)
			}
			got[w] = n
		}
	}
	if len(got) != len(counts) {
		t.Errorf("%d words in the output, want %d", len(got), len(counts))
	}
	for w, n := range counts {
		if got[w] != n {
			t.Errorf("count of %q is %d, want %d", w, got[w], n)
		}
	}
}

// Word count over generated text on three agents, with constraints that
// allow two of them, equals the count of one process; the executors ran on
// both allowed agents and no other, and the framework is torn down after.
func TestWordCountOnThreeAgents(t *testing.T) {
	c := startCluster(t, "rack:r1;zone:a", "rack:r2;zone:a", "rack:r3;zone:b")
	input, counts := writeText(t, 5, 400, 1)
	cons, err := ParseConstraints("zone:a")
	if err != nil {
		t.Fatal(err)
	}
	var ev events
	// Two executors on each of the two agents in zone a; the job waits
	// for all four so that both agents get work.
	app := startApp(t, c, Config{CoresMax: 4, ExecutorCores: 1, Constraints: cons, MinRegisteredRatio: 1, Progress: ev.add})
	out := filepath.Join(t.TempDir(), "out")
	if err := RunBuiltin(ctxT(t), app, "wordcount", input, out, JobOptions{Partitions: 3, SplitSize: 4 << 10}); err != nil {
		t.Fatalf("wordcount: %v\n%s", err, &ev)
	}
	checkWordCount(t, out, counts, 3)

	agents := map[string]bool{}
	for _, e := range app.Executors() {
		if e.TasksDone > 0 {
			agents[e.AgentID] = true
		}
	}
	allowed := map[string]bool{c.agents[0].ID(): true, c.agents[1].ID(): true}
	if len(agents) < 2 {
		t.Errorf("tasks ran on executors of %d agent(s), want 2", len(agents))
	}
	for a := range agents {
		if !allowed[a] {
			t.Errorf("an executor ran on agent %s, whose zone is not a", a)
		}
	}
	if n := len(app.Executors()); n > 4 {
		t.Errorf("%d executors for cores_max 4 of 1 core each", n)
	}
	// The driver's page (its webui_url, as the master shows it) lists the
	// job, its two stages and the executors.
	var fws struct {
		Frameworks []struct {
			ID    string
			WebUI string `json:"webui_url"`
		}
	}
	c.getJSON("/master/frameworks", &fws)
	if len(fws.Frameworks) != 1 || fws.Frameworks[0].WebUI != app.WebURL() {
		t.Errorf("the master shows frameworks %+v, want one with webui_url %s", fws.Frameworks, app.WebURL())
	}
	var st webState
	getExecutorJSON(t, strings.TrimPrefix(app.WebURL(), "http://"), "/state", &st)
	if len(st.Jobs) != 1 || st.Jobs[0].State != "done" || len(st.Stages) != 2 || len(st.Executors) == 0 {
		t.Errorf("the driver's /state: %+v", st)
	}
	resp, err := http.Get(app.WebURL() + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"reduceByKey batch.sum", "batch-executor-1"} {
		if !strings.Contains(string(page), want) {
			t.Errorf("the driver's page lacks %q", want)
		}
	}

	id := app.FrameworkID()
	if err := app.Stop(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the framework to be torn down", func() bool { return c.frameworkState(id) == "completed" })
}

// Sort's output is in total order across the part files and holds every
// input line once.
func TestSortIsTotallyOrdered(t *testing.T) {
	c := startCluster(t, "", "")
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 7))
	var want []string
	for f := 0; f < 3; f++ {
		var b strings.Builder
		for i := 0; i < 700; i++ {
			line := fmt.Sprintf("%08x %d", rng.Uint32(), rng.IntN(10))
			want = append(want, line)
			b.WriteString(line + "\n")
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%d", f)), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	sort.Strings(want)
	app := startApp(t, c, Config{CoresMax: 2})
	out := filepath.Join(t.TempDir(), "sorted")
	if err := RunBuiltin(ctxT(t), app, "sort", dir, out, JobOptions{Partitions: 4, SplitSize: 8 << 10}); err != nil {
		t.Fatal(err)
	}
	parts := readParts(t, out)
	if len(parts) != 4 {
		t.Fatalf("%d part files, want 4", len(parts))
	}
	var got []string
	nonEmpty := 0
	for _, p := range parts {
		if len(p) > 0 {
			nonEmpty++
		}
		got = append(got, p...)
	}
	if nonEmpty < 3 {
		t.Errorf("only %d of 4 partitions hold records: the ranges are not balanced", nonEmpty)
	}
	if len(got) != len(want) {
		t.Fatalf("%d lines out, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("line %d is %q, want %q", i, got[i], want[i])
		}
	}
}

// Killing an executor process in the middle of the map stage loses its
// running tasks and its map outputs; both are run again and the answer is
// exact.
func TestKilledExecutorStillGivesTheExactAnswer(t *testing.T) {
	c := startCluster(t, "", "", "")
	input, counts := writeText(t, 4, 500, 2)
	var ev events
	var app *App
	killed := ""
	progress := func(e Event) {
		ev.add(e)
		// After the first map task, kill the executor that ran it: it
		// holds a map output and may be running another task.
		if e.Kind == TaskEnded && killed == "" && e.Stage == 1 {
			for _, x := range app.Executors() {
				if x.ID == e.Executor && x.PID > 0 {
					killed = x.ID
					if err := syscall.Kill(x.PID, syscall.SIGKILL); err != nil {
						t.Errorf("killing executor %s (pid %d): %v", x.ID, x.PID, err)
					}
				}
			}
		}
	}
	app = startApp(t, c, Config{CoresMax: 3, ExecutorCores: 1, Progress: progress})
	out := filepath.Join(t.TempDir(), "out")
	if err := RunBuiltin(ctxT(t), app, "wordcount", input, out, JobOptions{Partitions: 3, SplitSize: 2 << 10}); err != nil {
		t.Fatalf("wordcount: %v\n%s", err, &ev)
	}
	if killed == "" {
		t.Fatalf("no executor was killed\n%s", &ev)
	}
	checkWordCount(t, out, counts, 3)
	if ev.count(ExecutorLost, func(e Event) bool { return e.Executor == killed }) != 1 {
		t.Errorf("the driver did not report executor %s lost\n%s", killed, &ev)
	}
}

// A map output that disappears after the map stage is recomputed by
// running again only the map task that wrote it.
func TestLostMapOutputIsRecomputedFromLineage(t *testing.T) {
	c := startCluster(t, "", "")
	input, counts := writeText(t, 3, 300, 3)
	var ev events
	var app *App
	removed := ""
	progress := func(e Event) {
		ev.add(e)
		if e.Kind == StageEnded && e.Stage == 1 && removed == "" {
			for _, x := range app.Executors() {
				maps, _ := filepath.Glob(filepath.Join(x.Dir, "shuffle", "1", "*"))
				if len(maps) > 0 {
					removed = maps[0]
					if err := os.RemoveAll(removed); err != nil {
						t.Error(err)
					}
					return
				}
			}
		}
	}
	app = startApp(t, c, Config{CoresMax: 2, Progress: progress})
	out := filepath.Join(t.TempDir(), "out")
	if err := RunBuiltin(ctxT(t), app, "wordcount", input, out, JobOptions{Partitions: 2, SplitSize: 2 << 10}); err != nil {
		t.Fatalf("wordcount: %v\n%s", err, &ev)
	}
	if removed == "" {
		t.Fatalf("found no map output to remove\n%s", &ev)
	}
	checkWordCount(t, out, counts, 2)
	splits, err := listSplits(input, 2<<10, nil)
	if err != nil {
		t.Fatal(err)
	}
	mapTasks := ev.count(TaskEnded, func(e Event) bool { return e.Stage == 1 })
	if mapTasks != len(splits)+1 {
		t.Errorf("%d map tasks ran for %d splits, want exactly one more (the lost output's)\n%s", mapTasks, len(splits), &ev)
	}
}

// Test functions: the executors are this test binary, so they know them.
func init() {
	// test.failOnce fails the task that meets the line "boom" the first
	// time only: the marker file it leaves (in the directory given as the
	// argument) tells the retry.
	RegisterFlatMap("test.failOnce", func(dir string) (FlatMapFunc, error) {
		return func(r Record, emit func(Record)) {
			if r.Value == "boom" {
				marker := filepath.Join(dir, "failed-once")
				if _, err := os.Stat(marker); err != nil {
					os.WriteFile(marker, nil, 0o644)
					panic("boom, the first time")
				}
			}
			emit(r)
		}, nil
	})
	RegisterFlatMap("test.failAlways", func(string) (FlatMapFunc, error) {
		return func(r Record, emit func(Record)) {
			if r.Value == "boom" {
				panic("boom, every time")
			}
			emit(r)
		}, nil
	})
	// test.kv makes "key value" lines records.
	RegisterMap("test.kv", func(_ string, r Record) Record {
		k, v, _ := strings.Cut(r.Value, " ")
		return Record{Key: k, Value: v}
	})
}

// A task that fails is retried, on another executor, and the job
// succeeds; one that fails TaskMaxFailures times fails the job with the
// task's error.
func TestFailedTasksAreRetried(t *testing.T) {
	c := startCluster(t, "", "")
	in := t.TempDir()
	if err := os.WriteFile(filepath.Join(in, "a"), []byte("one\nboom\ntwo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in, "b"), []byte("three\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	app := startApp(t, c, Config{CoresMax: 2, TaskMaxFailures: 2})
	recs, err := app.Collect(ctxT(t), TextFile(in).FlatMap("test.failOnce", t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.Value)
	}
	if strings.Join(got, ",") != "one,boom,two,three" {
		t.Errorf("collected %v", got)
	}
	_, err = app.Collect(ctxT(t), TextFile(in).FlatMap("test.failAlways", ""))
	if err == nil || !strings.Contains(err.Error(), "failed 2 times") || !strings.Contains(err.Error(), "boom, every time") {
		t.Errorf("a task failing every time: %v; want the job to fail after 2 failures with the task's error", err)
	}
}

// Join pairs the values of equal keys across two datasets.
func TestJoin(t *testing.T) {
	c := startCluster(t, "")
	left, right := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(left, "l"), []byte("a 1\nb 2\na 3\nc 4\n"), 0o644)
	os.WriteFile(filepath.Join(right, "r"), []byte("a x\nc y\nd z\nc w\n"), 0o644)
	app := startApp(t, c, Config{CoresMax: 1})
	recs, err := app.Collect(ctxT(t), TextFile(left).Map("test.kv", "").Join(TextFile(right).Map("test.kv", ""), 2))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range recs {
		got = append(got, r.Key+"="+r.Value)
	}
	sort.Strings(got)
	want := "a=1\tx a=3\tx c=4\tw c=4\ty"
	if strings.Join(got, " ") != want {
		t.Errorf("join gave %q, want %q", strings.Join(got, " "), want)
	}
}

// KMeans finds the centers of three clusters, iterating over points the
// executors keep in memory: every split ends up cached on one executor,
// which runs its tasks from then on.
func TestKMeansOverCachedInput(t *testing.T) {
	c := startCluster(t, "", "")
	in := t.TempDir()
	rng := rand.New(rand.NewPCG(5, 5))
	centers := [][2]float64{{0, 0}, {10, 10}, {0, 10}}
	var b strings.Builder
	for i := 0; i < 900; i++ {
		c := centers[i%3]
		fmt.Fprintf(&b, "%f %f\n", c[0]+rng.NormFloat64()*0.5, c[1]+rng.NormFloat64()*0.5)
	}
	os.WriteFile(filepath.Join(in, "points"), []byte(b.String()), 0o644)
	var ev events
	// With a locality wait, a task waits for the executor that caches its
	// partition: each split is then cached once.
	app := startApp(t, c, Config{CoresMax: 2, LocalityWait: patience, Progress: ev.add})
	out := filepath.Join(t.TempDir(), "km")
	if err := RunBuiltin(ctxT(t), app, "kmeans", in, out, JobOptions{K: 3, Iterations: 10, Partitions: 2, SplitSize: 4 << 10}); err != nil {
		t.Fatal(err)
	}
	parts := readParts(t, out)
	if len(parts) != 1 || len(parts[0]) != 3 {
		t.Fatalf("kmeans output %v, want 3 centers", parts)
	}
	for _, want := range centers {
		found := false
		for _, l := range parts[0] {
			_, coords, _ := strings.Cut(l, "\t")
			v, err := parseVector(coords)
			if err != nil {
				t.Fatal(err)
			}
			if (v[0]-want[0])*(v[0]-want[0])+(v[1]-want[1])*(v[1]-want[1]) < 0.1 {
				found = true
			}
		}
		if !found {
			t.Errorf("no center near %v in %v", want, parts[0])
		}
	}
	splits, _ := listSplits(in, 4<<10, nil)
	cached := 0
	for _, x := range app.Executors() {
		if x.Addr == "" || x.Lost {
			continue
		}
		var held map[int][]int
		getExecutorJSON(t, x.Addr, "/cache", &held)
		for _, ps := range held {
			cached += len(ps)
		}
	}
	if cached != len(splits) {
		t.Errorf("%d partitions cached, want each of the %d splits once", cached, len(splits))
	}
	if n := ev.count(JobStarted, nil); n < 3 {
		t.Errorf("%d jobs ran, want a sample and at least two iterations", n)
	}
}

func getExecutorJSON(t *testing.T, addr, path string, v any) {
	t.Helper()
	resp, err := http.Get("http://" + addr + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// Dynamic allocation: executors come as tasks wait, are released after
// the idle timeout (their processes end), and come back when work returns.
func TestIdleExecutorsAreReleasedAndComeBack(t *testing.T) {
	c := startCluster(t, "", "")
	input, counts := writeText(t, 3, 200, 4)
	var ev events
	app := startApp(t, c, Config{CoresMax: 2, DynamicAllocation: true, SchedulerBacklogTimeout: 50 * time.Millisecond,
		ExecutorIdleTimeout: 300 * time.Millisecond, Progress: ev.add})
	out1 := filepath.Join(t.TempDir(), "out")
	if err := RunBuiltin(ctxT(t), app, "wordcount", input, out1, JobOptions{Partitions: 2, SplitSize: 2 << 10}); err != nil {
		t.Fatalf("first job: %v\n%s", err, &ev)
	}
	checkWordCount(t, out1, counts, 2)
	waitFor(t, "every executor to be released", func() bool {
		for _, e := range app.Executors() {
			if !e.Lost {
				return false
			}
		}
		return true
	})
	first := app.Executors()
	for _, e := range first {
		if e.PID > 0 {
			waitFor(t, fmt.Sprintf("released executor %s's process to end", e.ID), func() bool { return testutil.ProcessGone(e.PID) })
		}
	}
	released := ev.count(ExecutorReleased, nil)
	if released == 0 || ev.count(ExecutorLost, nil) != 0 {
		t.Errorf("%d executors released and %d lost, want releases only\n%s", released, ev.count(ExecutorLost, nil), &ev)
	}
	out2 := filepath.Join(t.TempDir(), "out")
	if err := RunBuiltin(ctxT(t), app, "wordcount", input, out2, JobOptions{Partitions: 2, SplitSize: 2 << 10}); err != nil {
		t.Fatalf("second job: %v\n%s", err, &ev)
	}
	checkWordCount(t, out2, counts, 2)
	if len(app.Executors()) <= len(first) {
		t.Errorf("no new executor came for the second job\n%s", &ev)
	}
}

// The ramp adds 1, 2, 4, ... executors each backlog interval while tasks
// wait, up to what they need.
func TestDynamicAllocationRampsExponentially(t *testing.T) {
	a := &App{cfg: Config{DynamicAllocation: true, SchedulerBacklogTimeout: time.Second, ExecutorCores: 1}, execs: map[string]*execState{}, log: testLogger(t)}
	for i := 0; i < 10; i++ {
		a.pending = append(a.pending, &taskReq{})
	}
	now := time.Unix(1000, 0)
	var targets []int
	for step := 0; step < 6; step++ {
		a.ramp(now)
		targets = append(targets, a.target)
		now = now.Add(time.Second)
	}
	if fmt.Sprint(targets) != "[0 1 3 7 10 10]" {
		t.Errorf("targets %v, want [0 1 3 7 10 10]", targets)
	}
	// Once nothing waits, the next backlog starts again from one.
	a.pending = nil
	a.ramp(now)
	if a.toAdd != 1 {
		t.Errorf("after the backlog, the next step adds %d, want 1", a.toAdd)
	}
}
