package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomesos/gomesos/agent"
	"github.com/gomesos/gomesos/agent/containerizer"
	"github.com/gomesos/gomesos/batch"
	"github.com/gomesos/gomesos/executor/builtin"
	"github.com/gomesos/gomesos/internal/testutil"
	"github.com/gomesos/gomesos/master"
	"github.com/gomesos/gomesos/master/core"
)

// TestMain lets the test binary serve as the containers' supervisor and
// the built-in executors, the batch executor and the peer of bench launch,
// as the gomesos binary does, and as the gomesos command itself when
// runAsGomesos is set in its environment (`bench failover` runs its masters
// as `gomesos master` processes of os.Executable()).
func TestMain(m *testing.M) {
	containerizer.MainIfSupervisor()
	builtin.MainIfExecutor()
	batch.MainIfExecutor()
	master.MainIfBenchLaunchPeer()
	if os.Getenv(runAsGomesos) == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// runAsGomesos, set to 1 in the environment, makes the test binary run as
// gomesos (TestMain).
const runAsGomesos = "GOMESOS_CLI_TEST_AS_GOMESOS"

const waitTimeout = 15 * time.Second

// startCluster runs a real master and one real agent until the test ends,
// and returns the master's address once the agent is registered.
func startCluster(t *testing.T) string {
	t.Helper()
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	m, err := master.New(master.Config{
		IP: "127.0.0.1", Port: 0, TickInterval: 10 * time.Millisecond,
		Options: core.Options{AllocationInterval: 50 * time.Millisecond, HeartbeatInterval: 100 * time.Millisecond,
			AgentPingTimeout: time.Second, MaxAgentPingTimeouts: 5, Logger: discard},
	})
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	a, err := agent.New(agent.Config{
		Master: m.Addr(), IP: "127.0.0.1", WorkDir: t.TempDir(), Resources: "cpus:2;mem:1024;disk:1024;ports:[31000-31999]",
		ExecutorBinary: self, FetcherCacheDir: t.TempDir(), RegistrationBackoffFactor: 10 * time.Millisecond,
		StatusUpdateRetryMin: 200 * time.Millisecond, StatusUpdateRetryMax: time.Second,
		CgroupsRoot: filepath.Join("gomesos-cli-test", filepath.Base(t.TempDir())),
		Logger:      discard,
	})
	if err != nil {
		t.Fatal(err)
	}
	mctx, stopMaster := context.WithCancel(context.Background())
	actx, stopAgent := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		if err := m.Run(mctx); err != nil {
			t.Errorf("master: %v", err)
		}
	}()
	go func() {
		defer wg.Done()
		if err := a.Run(actx); err != nil && actx.Err() == nil {
			t.Errorf("agent: %v", err)
		}
	}()
	t.Cleanup(func() {
		// The agent stops first (killing its tasks), then the master.
		stopAgent()
		stopMaster()
		wg.Wait()
	})
	testutil.WaitFor(t, "the agent to register", waitTimeout, func() bool {
		code, out, _ := runCLI("agents", "--master="+m.Addr())
		return code == 0 && strings.Count(out, "\n") == 2
	})
	return m.Addr()
}

// syncBuffer is a buffer written by one goroutine and read by another.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// runIn runs a command in-process with a context of its own.
func runIn(ctx context.Context, name string, args []string, stdout, stderr io.Writer) int {
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, args, stdout, stderr)
		}
	}
	panic("no command " + name)
}

// The operator commands against a real master and agent: a task run by
// execute shows in the tables, its output in task log, its events in
// watch; errors carry the master's message and exit 1.
func TestOperatorCommandsAgainstARealCluster(t *testing.T) {
	addr := startCluster(t)
	mflag := "--master=" + addr

	// watch, from before the task.
	watchCtx, stopWatch := context.WithCancel(context.Background())
	var watched, watchErr syncBuffer
	watchDone := make(chan int, 1)
	go func() { watchDone <- runIn(watchCtx, "watch", []string{mflag}, &watched, &watchErr) }()
	testutil.WaitFor(t, "watch to print SUBSCRIBED", waitTimeout, func() bool {
		return strings.HasPrefix(watched.String(), "SUBSCRIBED agents=1 frameworks=0 tasks=0\n")
	})

	code, out, errOut := runCLI("execute", mflag, "--name=hello-cli", "--command=echo hello-cli; echo oops >&2", "--resources=cpus:0.1;mem:32")
	if code != 0 || !strings.Contains(out, "Received status update TASK_FINISHED for task 'hello-cli'") {
		t.Fatalf("execute: exit %d\n%s\n%s", code, out, errOut)
	}

	// The RUNNING update may reach the master after the task ended (the
	// agent forwards it once STARTING is acknowledged): the event then has
	// the task's latest state, FINISHED, and RUNNING as its status, as
	// Mesos's TASK_UPDATED does.
	testutil.WaitFor(t, "watch to print the task's events", waitTimeout, func() bool {
		w := watched.String()
		running := strings.Contains(w, "state=TASK_RUNNING") || strings.Contains(w, "status=TASK_RUNNING")
		return strings.Contains(w, "TASK_ADDED task=hello-cli ") && running &&
			strings.Contains(w, "TASK_UPDATED task=hello-cli ") && strings.Contains(w, "state=TASK_FINISHED") &&
			strings.Contains(w, "FRAMEWORK_ADDED framework=")
	})
	stopWatch()
	if code := <-watchDone; code != 0 {
		t.Errorf("watch exited %d: %s", code, watchErr.String())
	}

	// Tables.
	code, out, errOut = runCLI("tasks", mflag)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != 0 || len(lines) != 2 || !strings.HasPrefix(lines[0], "ID ") || !strings.Contains(lines[1], "hello-cli") ||
		!strings.HasSuffix(lines[1], "TASK_FINISHED") {
		t.Errorf("tasks: exit %d\n%s%s", code, out, errOut)
	}
	code, out, _ = runCLI("agents", mflag)
	if lines := strings.Split(strings.TrimSpace(out), "\n"); code != 0 || len(lines) != 2 ||
		!strings.Contains(lines[0], "USED CPUS") || !strings.Contains(lines[1], " 2 ") || !strings.Contains(lines[1], " true ") {
		t.Errorf("agents: exit %d\n%s", code, out)
	}
	for _, cmd := range []string{"agents", "frameworks", "tasks", "roles", "weights", "quota", "maintenance"} {
		code, out, errOut := runCLI(cmd, mflag, "--json")
		dec := json.NewDecoder(strings.NewReader(out))
		for dec.More() {
			var doc map[string]any
			if err := dec.Decode(&doc); err != nil {
				t.Errorf("%s --json: %v in\n%s", cmd, err, out)
				break
			}
			if typ, _ := doc["type"].(string); !strings.HasPrefix(typ, "GET_") {
				t.Errorf("%s --json: type %v", cmd, doc["type"])
			}
		}
		if code != 0 || out == "" {
			t.Errorf("%s --json: exit %d, %q %s", cmd, code, out, errOut)
		}
	}
	if code, out, _ := runCLI("tasks", mflag, "--json"); !strings.Contains(out, `"hello-cli"`) || code != 0 {
		t.Errorf("tasks --json lacks the task:\n%s", out)
	}

	// Weights.
	if code, out, errOut := runCLI("weights", "set", mflag, "dev=2.5", "ops=0.5"); code != 0 || !strings.Contains(out, "Weight of role 'dev' set to 2.5") {
		t.Errorf("weights set: exit %d, %q %q", code, out, errOut)
	}
	if code, out, _ := runCLI("weights", mflag); code != 0 || out != "ROLE  WEIGHT\ndev   2.5\nops   0.5\n" {
		t.Errorf("weights: exit %d\n%q", code, out)
	}

	// Quota.
	if code, out, errOut := runCLI("quota", "set", "dev", mflag, "--guarantee=cpus:0.5;mem:64", "--limit=cpus:1"); code != 0 || !strings.Contains(out, "Quota of role 'dev' set") {
		t.Errorf("quota set: exit %d, %q %q", code, out, errOut)
	}
	if code, out, errOut := runCLI("quota", "set", "big", mflag, "--guarantee=cpus:1000"); code != 1 || !strings.Contains(errOut, "exceed cluster capacity") {
		t.Errorf("quota set beyond the cluster: exit %d, %q %q", code, out, errOut)
	}
	if code, _, errOut := runCLI("quota", "set", "dev", mflag, "--limit=cpus:-1"); code != 2 || !strings.Contains(errOut, "--limit") {
		t.Errorf("quota set with a negative limit: exit %d, %q", code, errOut)
	}
	if code, out, _ := runCLI("quota", "get", mflag); code != 0 || out != "ROLE  GUARANTEES       LIMITS\ndev   cpus:0.5;mem:64  cpus:1\n" {
		t.Errorf("quota get: exit %d\n%q", code, out)
	}
	if code, out, errOut := runCLI("quota", "remove", "dev", mflag); code != 0 || !strings.Contains(out, "Quota of role 'dev' removed") {
		t.Errorf("quota remove: exit %d, %q %q", code, out, errOut)
	}
	if code, out, _ := runCLI("quota", mflag); code != 0 || out != "ROLE  GUARANTEES  LIMITS\n" {
		t.Errorf("quota after remove: exit %d\n%q", code, out)
	}

	// task log: the task's stdout, its stderr; --follow ends as the task
	// is terminal.
	if code, out, errOut := runCLI("task", "log", "hello-cli", mflag); code != 0 || out != "hello-cli\n" {
		t.Errorf("task log: exit %d, %q %q", code, out, errOut)
	}
	if code, out, errOut := runCLI("task", "log", mflag, "--stderr", "hello-cli"); code != 0 || !strings.Contains(out, "\noops\n") {
		t.Errorf("task log --stderr: exit %d, %q %q", code, out, errOut)
	}
	if code, out, errOut := runCLI("task", "log", "--follow", "hello-cli", mflag); code != 0 || out != "hello-cli\n" {
		t.Errorf("task log --follow: exit %d, %q %q", code, out, errOut)
	}
	if code, _, errOut := runCLI("task", "log", "nope", mflag); code != 1 || !strings.Contains(errOut, `no task "nope" is known to the master`) {
		t.Errorf("task log of no task: exit %d, %q", code, errOut)
	}

	// Errors: exit 1 and the master's own words.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"teardown", "no-such-framework"}, "No framework found with specified ID"},
		{[]string{"mark-gone", "no-such-agent"}, "Agent 'no-such-agent' not found"},
		// Being built elsewhere: 501 until then, an unknown agent after.
		{[]string{"drain", "no-such-agent", "--max-grace-period=5secs"}, "DRAIN_AGENT: "},
		{[]string{"deactivate", "no-such-agent"}, "DEACTIVATE_AGENT: "},
		{[]string{"reactivate", "no-such-agent"}, "REACTIVATE_AGENT: "},
		{[]string{"maintenance", "down", "no-such-host"}, "START_MAINTENANCE: "},
	} {
		code, out, errOut := runCLI(append(c.args, mflag)...)
		if code != 1 || !strings.Contains(errOut, "gomesos "+c.args[0]) || !strings.Contains(errOut, c.want) || out != "" {
			t.Errorf("gomesos %s: exit %d, stdout %q, stderr %q; want exit 1 and %q", strings.Join(c.args, " "), code, out, errOut, c.want)
		}
	}
}

// execute --count=N prints plain lines when stdout is not a terminal.
func TestExecuteCountPrintsPlainLinesOffATerminal(t *testing.T) {
	addr := startCluster(t)
	code, out, errOut := runCLI("execute", "--master="+addr, "--name=multi", "--command=true", "--count=2", "--resources=cpus:0.1;mem:32")
	if code != 0 || !strings.Contains(out, "Received status update TASK_FINISHED for task 'multi-1'") ||
		!strings.Contains(out, "Received status update TASK_FINISHED for task 'multi-2'") || strings.Contains(out, "\r") {
		t.Errorf("execute --count=2: exit %d\n%s\n%s", code, out, errOut)
	}
}

// task log --follow prints a running task's output as it comes and ends
// once the task is terminal and its output drained; watch --json prints
// one JSON event a line.
func TestTaskLogFollowsARunningTask(t *testing.T) {
	addr := startCluster(t)
	mflag := "--master=" + addr

	watchCtx, stopWatch := context.WithCancel(context.Background())
	var watched syncBuffer
	watchDone := make(chan int, 1)
	go func() { watchDone <- runIn(watchCtx, "watch", []string{mflag, "--json"}, &watched, io.Discard) }()

	gate := filepath.Join(t.TempDir(), "gate")
	var execOut syncBuffer
	execDone := make(chan int, 1)
	go func() {
		execDone <- runIn(context.Background(), "execute", []string{mflag, "--name=follow-me", "--resources=cpus:0.1;mem:32",
			"--command=echo one; while [ ! -e " + gate + " ]; do sleep 0.05; done; echo two"}, &execOut, io.Discard)
	}()
	testutil.WaitFor(t, "the task to run", waitTimeout, func() bool {
		return strings.Contains(execOut.String(), "Received status update TASK_RUNNING for task 'follow-me'")
	})

	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var logged, logErr syncBuffer
	logDone := make(chan int, 1)
	go func() {
		logDone <- runIn(ctx, "task", []string{"log", "follow-me", "--follow", mflag}, &logged, &logErr)
	}()
	testutil.WaitFor(t, "task log --follow to print the first line", waitTimeout, func() bool { return logged.String() == "one\n" })
	select {
	case code := <-logDone:
		t.Fatalf("task log --follow ended (exit %d, %s) while the task runs", code, logErr.String())
	default:
	}
	if err := os.WriteFile(gate, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code := <-execDone; code != 0 {
		t.Fatalf("execute exited %d:\n%s", code, execOut.String())
	}
	if code := <-logDone; code != 0 || logged.String() != "one\ntwo\n" {
		t.Errorf("task log --follow: exit %d, %q, %q", code, logged.String(), logErr.String())
	}

	testutil.WaitFor(t, "watch --json to print the task's end", waitTimeout, func() bool {
		return strings.Contains(watched.String(), `"TASK_FINISHED"`)
	})
	stopWatch()
	<-watchDone
	lines := strings.Split(strings.TrimSpace(watched.String()), "\n")
	for i, l := range lines {
		var ev struct {
			Type string `json:"type"`
		}
		if err := json.Unmarshal([]byte(l), &ev); err != nil || ev.Type == "" || ev.Type == "HEARTBEAT" {
			t.Errorf("watch --json line %d: %v, type %q: %s", i, err, ev.Type, l)
		}
		if i == 0 && ev.Type != "SUBSCRIBED" {
			t.Errorf("watch --json: first event %s", ev.Type)
		}
	}
}
