package batch

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomesos/gomesos/agent"
	"github.com/gomesos/gomesos/agent/containerizer"
	"github.com/gomesos/gomesos/executor/builtin"
	"github.com/gomesos/gomesos/internal/testutil"
	"github.com/gomesos/gomesos/master"
	"github.com/gomesos/gomesos/master/core"
)

// TestMain lets the test binary serve as the agents' container supervisor
// and as the batch executor: the driver in the test launches this binary.
func TestMain(m *testing.M) {
	containerizer.MainIfSupervisor()
	builtin.MainIfExecutor()
	MainIfExecutor()
	os.Exit(m.Run())
}

// patience bounds every wait in these tests.
const patience = 90 * time.Second

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, what, patience, cond)
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("BATCH_VERBOSE") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// cluster is a master and agents in this process, over real HTTP; the
// agents run executors as real processes.
type cluster struct {
	t      *testing.T
	master *master.Master
	agents []*agent.Agent
	cancel []context.CancelFunc
	wg     sync.WaitGroup
}

// startCluster starts a master and one agent per attributes string.
func startCluster(t *testing.T, attributes ...string) *cluster {
	t.Helper()
	// Registered first so that it runs last: no executor may outlive the
	// cluster.
	testutil.CheckChildren(t)
	m, err := master.New(master.Config{Port: 0, TickInterval: 10 * time.Millisecond, Options: core.Options{
		AllocationInterval: 50 * time.Millisecond,
		Logger:             testLogger(t).With("component", "master"),
	}})
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, master: m}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = append(c.cancel, cancel)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		if err := m.Run(ctx); err != nil {
			t.Errorf("master: %v", err)
		}
	}()
	for _, attrs := range attributes {
		c.addAgent(attrs)
	}
	t.Cleanup(c.stop)
	waitFor(t, "agents to register", func() bool {
		var slaves struct{ Slaves []any }
		c.getJSON("/master/slaves", &slaves)
		return len(slaves.Slaves) == len(attributes)
	})
	return c
}

// addAgent starts one more agent with attributes attrs (it registers in
// the background).
func (c *cluster) addAgent(attrs string) {
	t := c.t
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	i := len(c.agents)
	a, err := agent.New(agent.Config{
		Master:                    c.master.Addr(),
		IP:                        "127.0.0.1",
		WorkDir:                   t.TempDir(),
		Resources:                 "cpus:2;mem:1024;disk:1024;ports:[31000-31999]",
		Attributes:                attrs,
		ExecutorBinary:            self,
		FetcherCacheDir:           t.TempDir(),
		RegistrationBackoffFactor: 10 * time.Millisecond,
		StatusUpdateRetryMin:      200 * time.Millisecond,
		StatusUpdateRetryMax:      time.Second,
		Logger:                    testLogger(t).With("component", "agent", "n", i),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = append(c.cancel, cancel)
	c.agents = append(c.agents, a)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		if err := a.Run(ctx); err != nil && ctx.Err() == nil {
			t.Errorf("agent: %v", err)
		}
	}()
}

func (c *cluster) stop() {
	for i := len(c.cancel) - 1; i >= 0; i-- {
		c.cancel[i]()
	}
	c.wg.Wait()
}

func (c *cluster) getJSON(path string, v any) {
	c.t.Helper()
	resp, err := http.Get(c.master.URL() + path)
	if err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		c.t.Fatalf("GET %s: %s: %s", path, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		c.t.Fatalf("GET %s: %v", path, err)
	}
}

// frameworkState is the master's view of a framework: "active" or
// "completed" (torn down), or "" when it does not know it.
func (c *cluster) frameworkState(id string) string {
	var fws struct {
		Frameworks          []struct{ ID string }
		CompletedFrameworks []struct{ ID string } `json:"completed_frameworks"`
	}
	c.getJSON("/master/frameworks", &fws)
	for _, f := range fws.Frameworks {
		if f.ID == id {
			return "active"
		}
	}
	for _, f := range fws.CompletedFrameworks {
		if f.ID == id {
			return "completed"
		}
	}
	return ""
}

// startApp starts a driver against c and stops it when the test ends.
func startApp(t *testing.T, c *cluster, cfg Config) *App {
	t.Helper()
	cfg.Masters = []string{c.master.Addr()}
	if cfg.ExecutorMemory == 0 {
		cfg.ExecutorMemory = 64
	}
	if cfg.Logger == nil {
		cfg.Logger = testLogger(t).With("component", "driver")
	}
	cfg.Name = "batch-" + t.Name()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	a, err := Start(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		a.Stop(ctx)
	})
	return a
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	t.Cleanup(cancel)
	return ctx
}

// events records a driver's events for a test to look at.
type events struct {
	mu  sync.Mutex
	all []Event
}

func (e *events) add(ev Event) {
	e.mu.Lock()
	e.all = append(e.all, ev)
	e.mu.Unlock()
}

func (e *events) count(kind EventKind, match func(Event) bool) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, ev := range e.all {
		if ev.Kind == kind && (match == nil || match(ev)) {
			n++
		}
	}
	return n
}

func (e *events) String() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b strings.Builder
	for _, ev := range e.all {
		fmt.Fprintf(&b, "%s job=%d stage=%d(%s) p=%d %d/%d exec=%s agent=%s %s err=%v\n", ev.Kind, ev.Job, ev.Stage, ev.StageName, ev.Partition, ev.Done, ev.Total, ev.Executor, ev.Agent, ev.Locality, ev.Err)
	}
	return b.String()
}
