// Package e2e runs whole Gomesos clusters over real HTTP with real
// processes: a master and agents in the test process (or as gomesos
// processes), frameworks through the public scheduler SDK, tasks as real
// child processes in their sandboxes.
package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomesos/gomesos/agent"
	"github.com/gomesos/gomesos/agent/containerizer"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/executor/builtin"
	"github.com/gomesos/gomesos/internal/testutil"
	"github.com/gomesos/gomesos/master"
	"github.com/gomesos/gomesos/master/core"
	"github.com/gomesos/gomesos/resources"
	"github.com/gomesos/gomesos/scheduler"
)

// gomesosBin is the gomesos binary built for the tests that run it as a
// process, statically linked.
var gomesosBin string

// TestMain lets the test binary serve as the containers' supervisor, the
// built-in executors and the custom executor of the tests, and builds the
// gomesos binary once.
func TestMain(m *testing.M) {
	containerizer.MainIfSupervisor()
	builtin.MainIfExecutor()
	if os.Getenv(customExecutorEnv) != "" {
		os.Exit(runCustomExecutor())
	}
	dir, err := os.MkdirTemp("", "gomesos-e2e-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	gomesosBin = filepath.Join(dir, "gomesos")
	// Static (no cgo), so that the same binary also runs alone in the
	// containers of the partition test; cgo only adds NVML, which no test
	// here reaches.
	build := exec.Command("go", "build", "-o", gomesosBin, "github.com/gomesos/gomesos/cmd/gomesos")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building gomesos:", err)
		os.Exit(1)
	}
	cgroupsRoot := useOwnCgroupsRoot()
	code := m.Run()
	removeCgroupsRoot(cgroupsRoot)
	os.RemoveAll(dir)
	os.Exit(code)
}

// patience bounds every wait.
const patience = 60 * time.Second

// waitFor waits until cond holds, failing the test after patience.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, what, patience, cond)
}

type testLogWriter struct{ t testing.TB }

func (w testLogWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("E2E_VERBOSE") == "" {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(testLogWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// cluster is a master and agents running in this process.
type cluster struct {
	t      *testing.T
	master *master.Master
	proxy  *tcpProxy
	// stopMaster stops the master alone and waits for it.
	stopMaster func()
	agents     []*agent.Agent
	// executorBinary is what addAgent gives agents to run executors with;
	// "" for the test binary.
	executorBinary string
	// executorRegistrationTimeout is the agents' --executor_registration_timeout
	// (Mesos's 1mins when zero).
	executorRegistrationTimeout time.Duration
	// statusRetryMin and statusRetryMax bound addAgent's agents' status
	// update retry interval.
	statusRetryMin, statusRetryMax time.Duration
	cancel                         []context.CancelFunc
	wg                             sync.WaitGroup
}

type clusterOptions struct {
	agents         int
	agentResources string
	masterOptions  core.Options
	// viaProxy makes the agents reach the master through a TCP proxy the
	// test can cut.
	viaProxy bool
	// executorBinary runs the built-in executors; by default the test
	// binary itself.
	executorBinary string
	// executorRegistrationTimeout is the agents'
	// --executor_registration_timeout; zero keeps Mesos's default.
	executorRegistrationTimeout time.Duration
	// mesosStatusRetry gives the agents Mesos's status update retry
	// interval (10 s doubling to 10 min) instead of the tests' short one
	// (200 ms to 1 s), which resends every update a slow framework has
	// not acknowledged within a second: with a thousand tasks that is a
	// thousand duplicates a second for the framework to take.
	mesosStatusRetry bool
}

func startCluster(t *testing.T, opts clusterOptions) *cluster {
	t.Helper()
	// Registered first, so checked last: after the cluster stopped, no
	// executor it started may be left.
	testutil.CheckChildren(t)
	mo := opts.masterOptions
	if mo.AllocationInterval == 0 {
		mo.AllocationInterval = 100 * time.Millisecond
	}
	mo.Logger = testLogger(t).With("component", "master")
	m, err := master.New(master.Config{Port: 0, Options: mo, TickInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	c := &cluster{t: t, master: m}
	if opts.viaProxy {
		c.proxy = startProxy(t, m.Addr())
	}
	c.runMaster()
	c.executorBinary = opts.executorBinary
	c.executorRegistrationTimeout = opts.executorRegistrationTimeout
	c.statusRetryMin, c.statusRetryMax = 200*time.Millisecond, time.Second
	if opts.mesosStatusRetry {
		c.statusRetryMin, c.statusRetryMax = agent.DefaultStatusUpdateRetryMin, agent.DefaultStatusUpdateRetryMax
	}
	for i := 0; i < opts.agents; i++ {
		c.addAgent(opts.agentResources)
	}
	t.Cleanup(c.stop)
	waitFor(t, "agents to register", func() bool {
		var slaves struct{ Slaves []any }
		c.getJSON("/master/slaves", &slaves)
		return len(slaves.Slaves) == opts.agents
	})
	return c
}

// runMaster runs c.master until the cluster stops or stopMaster is called.
func (c *cluster) runMaster() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	c.stopMaster = func() {
		cancel()
		<-done
	}
	c.cancel = append(c.cancel, cancel)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(done)
		if err := c.master.Run(ctx); err != nil {
			c.t.Errorf("master: %v", err)
		}
	}()
}

// restartMaster stops the master and starts a new one (a new master id, no
// memory of the old one's agents or frameworks) on the same address.
func (c *cluster) restartMaster(opts core.Options) {
	c.t.Helper()
	addr := c.master.Addr()
	c.stopMaster()
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	if opts.AllocationInterval == 0 {
		opts.AllocationInterval = 100 * time.Millisecond
	}
	opts.Logger = testLogger(c.t).With("component", "master")
	m, err := master.New(master.Config{IP: host, Port: p, Options: opts, TickInterval: 10 * time.Millisecond})
	if err != nil {
		c.t.Fatal(err)
	}
	c.master = m
	c.runMaster()
}

func (c *cluster) addAgent(res string) *agent.Agent {
	c.t.Helper()
	if res == "" {
		res = "cpus:2;mem:1024;disk:1024;ports:[31000-31999]"
	}
	self, err := os.Executable()
	if err != nil {
		c.t.Fatal(err)
	}
	if c.executorBinary != "" {
		self = c.executorBinary
	}
	masterAddr := c.master.Addr()
	if c.proxy != nil {
		masterAddr = c.proxy.addr()
	}
	a, err := agent.New(agent.Config{
		Master:                      masterAddr,
		IP:                          "127.0.0.1",
		WorkDir:                     c.t.TempDir(),
		Resources:                   res,
		ExecutorBinary:              self,
		ExecutorRegistrationTimeout: c.executorRegistrationTimeout,
		FetcherCacheDir:             c.t.TempDir(),
		RegistrationBackoffFactor:   10 * time.Millisecond,
		StatusUpdateRetryMin:        c.statusRetryMin,
		StatusUpdateRetryMax:        c.statusRetryMax,
		Logger:                      testLogger(c.t).With("component", "agent", "n", len(c.agents)),
	})
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = append(c.cancel, cancel)
	c.agents = append(c.agents, a)
	c.wg.Add(1)
	done := make(chan struct{})
	go func() {
		defer c.wg.Done()
		defer close(done)
		if err := a.Run(ctx); err != nil && ctx.Err() == nil {
			c.t.Errorf("agent: %v", err)
		}
	}()
	// Cleanups run last-registered first: an agent added once the cluster
	// runs stops before its directories (registered above, after the
	// cluster's own stop) are removed, or its executors' ends would write
	// into a removed tree.
	c.t.Cleanup(func() {
		cancel()
		<-done
	})
	return a
}

func (c *cluster) stop() {
	for i := len(c.cancel) - 1; i >= 0; i-- {
		c.cancel[i]()
	}
	c.wg.Wait()
}

func (c *cluster) getJSON(path string, v any) {
	c.t.Helper()
	getJSON(c.t, c.master.URL()+path, v)
}

func getJSON(t testing.TB, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s: %s", url, resp.Status, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("GET %s: %v in %s", url, err, body)
	}
}

// framework is a scheduler driven through the public SDK, whose events the
// test reads from channels.
type framework struct {
	t       *testing.T
	client  *scheduler.Client
	offers  chan *mesos.Offer
	updates chan *mesos.TaskStatus
	events  chan *schedpb.Event // everything else but heartbeats
	done    chan error
	cancel  context.CancelFunc
	autoAck bool
	// stopOnce makes stop safe to call from the test and from cleanup.
	stopOnce sync.Once
}

// stop drops the framework's subscription stream (without TEARDOWN) and
// waits for its Run to end.
func (fw *framework) stop() {
	fw.stopOnce.Do(func() {
		fw.cancel()
		<-fw.done
	})
}

type frameworkOptions struct {
	enc          codec.Encoding
	checkpoint   bool
	capabilities []mesos.FrameworkInfo_Capability_Type
	noAutoAck    bool
	// failoverTimeout is FrameworkInfo.failover_timeout, in seconds.
	failoverTimeout float64
	// frameworkID subscribes as this existing framework (a failover).
	frameworkID string
	// role is FrameworkInfo.role ("*" when empty).
	role string
}

func startFramework(t *testing.T, c *cluster, opts frameworkOptions) *framework {
	t.Helper()
	return startFrameworkAt(t, c.master.Addr(), opts)
}

// startFrameworkAt subscribes a framework to the master at addr.
func startFrameworkAt(t *testing.T, addr string, opts frameworkOptions) *framework {
	t.Helper()
	info := &mesos.FrameworkInfo{User: ptr("root"), Name: ptr("e2e-" + t.Name()), Checkpoint: ptr(opts.checkpoint)}
	if opts.failoverTimeout > 0 {
		info.FailoverTimeout = ptr(opts.failoverTimeout)
	}
	if opts.role != "" {
		info.Role = ptr(opts.role)
	}
	if opts.frameworkID != "" {
		info.Id = &mesos.FrameworkID{Value: ptr(opts.frameworkID)}
	}
	for _, cp := range opts.capabilities {
		info.Capabilities = append(info.Capabilities, &mesos.FrameworkInfo_Capability{Type: cp.Enum()})
	}
	client, err := scheduler.New(scheduler.Config{
		Masters: strings.Split(addr, ","), Framework: info, Encoding: opts.enc,
		Logger: testLogger(t).With("component", "scheduler"),
	})
	if err != nil {
		t.Fatal(err)
	}
	fw := &framework{
		t: t, client: client,
		offers:  make(chan *mesos.Offer, 10000),
		updates: make(chan *mesos.TaskStatus, 10000),
		events:  make(chan *schedpb.Event, 10000),
		done:    make(chan error, 1),
		autoAck: !opts.noAutoAck,
	}
	ctx, cancel := context.WithCancel(context.Background())
	fw.cancel = cancel
	subscribed := make(chan struct{})
	var once sync.Once
	go func() {
		fw.done <- client.Run(ctx, func(ctx context.Context, ev *schedpb.Event) error {
			switch ev.GetType() {
			case schedpb.Event_SUBSCRIBED:
				once.Do(func() { close(subscribed) })
			case schedpb.Event_OFFERS:
				for _, o := range ev.GetOffers().GetOffers() {
					fw.offers <- o
				}
				return nil
			case schedpb.Event_UPDATE:
				st := ev.GetUpdate().GetStatus()
				if fw.autoAck && len(st.GetUuid()) > 0 {
					if err := client.Acknowledge(ctx, st); err != nil && ctx.Err() == nil {
						t.Errorf("acknowledge: %v", err)
					}
				}
				fw.updates <- st
				return nil
			case schedpb.Event_HEARTBEAT:
				return nil
			}
			fw.events <- ev
			return nil
		})
	}()
	t.Cleanup(fw.stop)
	select {
	case <-subscribed:
	case err := <-fw.done:
		t.Fatalf("framework ended before SUBSCRIBED: %v", err)
	case <-time.After(patience):
		t.Fatal("timed out waiting for SUBSCRIBED")
	}
	return fw
}

func (fw *framework) nextOffer() *mesos.Offer {
	fw.t.Helper()
	select {
	case o := <-fw.offers:
		return o
	case <-time.After(patience):
		fw.t.Fatal("timed out waiting for an offer")
		return nil
	}
}

func (fw *framework) nextUpdate() *mesos.TaskStatus {
	fw.t.Helper()
	select {
	case s := <-fw.updates:
		return s
	case <-time.After(patience):
		fw.t.Fatal("timed out waiting for a status update")
		return nil
	}
}

func (fw *framework) nextEvent(typ schedpb.Event_Type) *schedpb.Event {
	fw.t.Helper()
	deadline := time.After(patience)
	for {
		select {
		case ev := <-fw.events:
			if ev.GetType() == typ {
				return ev
			}
		case <-deadline:
			fw.t.Fatalf("timed out waiting for a %s event", typ)
			return nil
		}
	}
}

// waitTerminal reads updates until task id reaches a terminal state and
// returns the states seen in order.
func (fw *framework) waitTerminal(id string) ([]mesos.TaskState, *mesos.TaskStatus) {
	fw.t.Helper()
	var states []mesos.TaskState
	for {
		s := fw.nextUpdate()
		if s.GetTaskId().GetValue() != id {
			fw.t.Fatalf("update for unexpected task %s (%s)", s.GetTaskId().GetValue(), s.GetState())
		}
		states = append(states, s.GetState())
		if s.GetState().IsTerminal() {
			return states, s
		}
	}
}

// commandTask is a TaskInfo running a shell command on the offer's agent.
func commandTask(id string, o *mesos.Offer, res, cmd string) *mesos.TaskInfo {
	r, err := resources.Parse(res)
	if err != nil {
		panic(err)
	}
	return &mesos.TaskInfo{
		Name:      ptr(id),
		TaskId:    &mesos.TaskID{Value: ptr(id)},
		AgentId:   o.GetAgentId(),
		Resources: resources.ToProto(r),
		Command:   &mesos.CommandInfo{Value: ptr(cmd)},
	}
}

func ptr[T any](v T) *T { return &v }

func ids(o *mesos.Offer) []*mesos.OfferID { return []*mesos.OfferID{o.GetId()} }

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	t.Cleanup(cancel)
	return ctx
}

// sandboxOf finds the sandbox directory of an executor on an agent through
// the agent's /state.
func sandboxOf(t *testing.T, agentAddr, executorID string) string {
	t.Helper()
	var dir string
	waitFor(t, "executor "+executorID+" in the agent's /state", func() bool {
		var raw map[string]json.RawMessage
		getJSON(t, "http://"+agentAddr+"/state", &raw)
		for _, key := range []string{"frameworks", "completed_frameworks"} {
			var fws []map[string]json.RawMessage
			_ = json.Unmarshal(raw[key], &fws)
			for _, fw := range fws {
				for _, ek := range []string{"executors", "completed_executors"} {
					var exs []struct {
						ID        string `json:"id"`
						Directory string `json:"directory"`
					}
					_ = json.Unmarshal(fw[ek], &exs)
					for _, ex := range exs {
						if ex.ID == executorID {
							dir = ex.Directory
							return true
						}
					}
				}
			}
		}
		return false
	})
	return dir
}

// readFile reads a sandbox file through the agent's /files/read.
func readFile(t *testing.T, agentAddr, path string) string {
	t.Helper()
	var out struct {
		Offset int64  `json:"offset"`
		Data   string `json:"data"`
	}
	getJSON(t, fmt.Sprintf("http://%s/files/read?path=%s&offset=0", agentAddr, path), &out)
	return out.Data
}

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}
