package checks

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/v1/mesos"
)

const fast = 0.02 // seconds between checks in these tests

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type healthLog struct {
	mu  sync.Mutex
	all []HealthStatus
}

func (l *healthLog) add(s HealthStatus) { l.mu.Lock(); l.all = append(l.all, s); l.mu.Unlock() }
func (l *healthLog) get() []HealthStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]HealthStatus(nil), l.all...)
}

func port(t *testing.T, addr string) uint32 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return uint32(n)
}

func TestHealthHTTPUpdatesOnChangesAndCountsFailures(t *testing.T) {
	var code atomic.Int32
	code.Store(200)
	var paths sync.Map
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		paths.Store(r.URL.Path, true)
		w.WriteHeader(int(code.Load()))
	}))
	defer srv.Close()
	hc := &mesos.HealthCheck{
		Type:                mesos.HealthCheck_HTTP.Enum(),
		Http:                &mesos.HealthCheck_HTTPCheckInfo{Port: proto.Uint32(port(t, srv.Listener.Addr().String())), Path: proto.String("/health")},
		DelaySeconds:        proto.Float64(0),
		IntervalSeconds:     proto.Float64(fast),
		GracePeriodSeconds:  proto.Float64(0),
		ConsecutiveFailures: proto.Uint32(2),
	}
	var log healthLog
	hcr, err := StartHealthChecker(context.Background(), hc, Target{}, nil, log.add)
	if err != nil {
		t.Fatal(err)
	}
	defer hcr.Stop()
	waitFor(t, "healthy", func() bool { return len(log.get()) >= 1 })
	if _, ok := paths.Load("/health"); !ok {
		t.Fatal("the check did not GET /health")
	}
	code.Store(500)
	waitFor(t, "two failures", func() bool { return len(log.get()) >= 3 })
	code.Store(204)
	waitFor(t, "healthy again", func() bool {
		l := log.get()
		return len(l) >= 4 && l[len(l)-1].Healthy
	})
	l := log.get()
	if !l[0].Healthy || l[1].Healthy || l[1].ConsecutiveFailures != 1 || l[1].KillTask ||
		l[2].Healthy || l[2].ConsecutiveFailures != 2 || !l[2].KillTask {
		t.Fatalf("updates = %+v", l)
	}
	if !strings.Contains(l[1].Message, "500") {
		t.Fatalf("failure message %q does not name the status", l[1].Message)
	}
	// Failures keep being reported while unhealthy (Mesos reports each one);
	// a success is reported once.
	for i := 3; i < len(l)-1; i++ {
		if l[i].Healthy {
			t.Fatalf("healthy reported twice: %+v", l)
		}
	}
}

func TestHealthTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	hc := &mesos.HealthCheck{
		Type:            mesos.HealthCheck_TCP.Enum(),
		Tcp:             &mesos.HealthCheck_TCPCheckInfo{Port: proto.Uint32(port(t, ln.Addr().String()))},
		DelaySeconds:    proto.Float64(0),
		IntervalSeconds: proto.Float64(fast),
	}
	var log healthLog
	hcr, err := StartHealthChecker(context.Background(), hc, Target{}, nil, log.add)
	if err != nil {
		t.Fatal(err)
	}
	defer hcr.Stop()
	waitFor(t, "healthy", func() bool { return len(log.get()) >= 1 })
	if !log.get()[0].Healthy {
		t.Fatalf("updates = %+v", log.get())
	}
	ln.Close()
	// The first check succeeded, so the grace period (default 10 s) no
	// longer hides failures.
	waitFor(t, "unhealthy", func() bool { return len(log.get()) >= 2 })
	if l := log.get(); l[1].Healthy || l[1].ConsecutiveFailures != 1 {
		t.Fatalf("updates = %+v", l)
	}
}

type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func TestHealthCommandGracePeriodAndEnvironment(t *testing.T) {
	dir := t.TempDir()
	clock := &fakeClock{now: time.Unix(1000, 0)}
	hc := &mesos.HealthCheck{
		Type: mesos.HealthCheck_COMMAND.Enum(),
		Command: &mesos.CommandInfo{
			// Runs in the task's directory with its environment and the
			// command's own; counts its runs and fails.
			Value: proto.String(`echo "$TASKVAR $CHECKVAR" >> runs; exit 3`),
			Environment: &mesos.Environment{Variables: []*mesos.Environment_Variable{
				{Name: proto.String("CHECKVAR"), Value: proto.String("c")},
			}},
		},
		DelaySeconds:       proto.Float64(0),
		IntervalSeconds:    proto.Float64(fast),
		GracePeriodSeconds: proto.Float64(60),
	}
	var log healthLog
	hcr, err := StartHealthChecker(context.Background(), hc, Target{Dir: dir, Env: append(os.Environ(), "TASKVAR=t")}, clock, log.add)
	if err != nil {
		t.Fatal(err)
	}
	defer hcr.Stop()
	runs := func() []string {
		b, _ := os.ReadFile(filepath.Join(dir, "runs"))
		return strings.Fields(string(b))
	}
	waitFor(t, "three runs", func() bool { return len(runs()) >= 6 })
	if got := log.get(); len(got) != 0 {
		t.Fatalf("failures within the grace period were reported: %+v", got)
	}
	if r := runs(); r[0] != "t" || r[1] != "c" {
		t.Fatalf("check environment = %q", r)
	}
	clock.advance(61 * time.Second)
	waitFor(t, "a failure", func() bool { return len(log.get()) >= 1 })
	if l := log.get()[0]; l.Healthy || l.ConsecutiveFailures != 1 || l.KillTask || // default consecutive_failures: 3
		l.Message != "COMMAND health check failed: Command returned exited with status 3" {
		t.Fatalf("update = %+v", l)
	}
}

func TestHealthCommandTimeoutKillsTheCheck(t *testing.T) {
	dir := t.TempDir()
	hc := &mesos.HealthCheck{
		Type:               mesos.HealthCheck_COMMAND.Enum(),
		Command:            &mesos.CommandInfo{Value: proto.String(`echo $$ > pid; exec sleep 30`)},
		DelaySeconds:       proto.Float64(0),
		IntervalSeconds:    proto.Float64(10),
		TimeoutSeconds:     proto.Float64(0.2),
		GracePeriodSeconds: proto.Float64(0),
	}
	var log healthLog
	hcr, err := StartHealthChecker(context.Background(), hc, Target{Dir: dir, Env: os.Environ()}, nil, log.add)
	if err != nil {
		t.Fatal(err)
	}
	defer hcr.Stop()
	waitFor(t, "a failure", func() bool { return len(log.get()) >= 1 })
	if l := log.get()[0]; l.Healthy || !strings.Contains(l.Message, "has not returned after 200ms") {
		t.Fatalf("update = %+v", l)
	}
	b, err := os.ReadFile(filepath.Join(dir, "pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	waitFor(t, "the check process to be gone", func() bool {
		_, err := os.Stat("/proc/" + strconv.Itoa(pid))
		return err != nil
	})
}

type statusLog struct {
	mu  sync.Mutex
	all []*mesos.CheckStatusInfo
}

func (l *statusLog) add(s *mesos.CheckStatusInfo) {
	l.mu.Lock()
	l.all = append(l.all, s)
	l.mu.Unlock()
}
func (l *statusLog) get() []*mesos.CheckStatusInfo {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*mesos.CheckStatusInfo(nil), l.all...)
}

func TestCheckCommandReportsOnlyChanges(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "code"), []byte("3"), 0o644); err != nil {
		t.Fatal(err)
	}
	ci := &mesos.CheckInfo{
		Type:            mesos.CheckInfo_COMMAND.Enum(),
		Command:         &mesos.CheckInfo_Command{Command: &mesos.CommandInfo{Value: proto.String(`echo x >> runs; exit $(cat code)`)}},
		DelaySeconds:    proto.Float64(0),
		IntervalSeconds: proto.Float64(fast),
	}
	var log statusLog
	c, err := StartChecker(context.Background(), ci, Target{Dir: dir, Env: os.Environ()}, log.add)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	runs := func() int {
		b, _ := os.ReadFile(filepath.Join(dir, "runs"))
		return strings.Count(string(b), "x")
	}
	waitFor(t, "five runs", func() bool { return runs() >= 5 })
	if got := log.get(); len(got) != 1 || got[0].GetCommand().GetExitCode() != 3 || got[0].GetType() != mesos.CheckInfo_COMMAND {
		t.Fatalf("statuses = %v", got)
	}
	if err := os.WriteFile(filepath.Join(dir, "code"), []byte("0"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the new exit code", func() bool { return len(log.get()) >= 2 })
	if got := log.get()[1]; got.GetCommand().ExitCode == nil || got.GetCommand().GetExitCode() != 0 {
		t.Fatalf("status = %v", got)
	}
}

func TestCheckHTTPAndTCP(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	p := port(t, srv.Listener.Addr().String())
	var hl, tl statusLog
	hc, err := StartChecker(context.Background(), &mesos.CheckInfo{
		Type: mesos.CheckInfo_HTTP.Enum(), Http: &mesos.CheckInfo_Http{Port: proto.Uint32(p)},
		DelaySeconds: proto.Float64(0), IntervalSeconds: proto.Float64(fast),
	}, Target{}, hl.add)
	if err != nil {
		t.Fatal(err)
	}
	defer hc.Stop()
	tc, err := StartChecker(context.Background(), &mesos.CheckInfo{
		Type: mesos.CheckInfo_TCP.Enum(), Tcp: &mesos.CheckInfo_Tcp{Port: proto.Uint32(p)},
		DelaySeconds: proto.Float64(0), IntervalSeconds: proto.Float64(fast),
	}, Target{}, tl.add)
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Stop()
	waitFor(t, "both results", func() bool { return len(hl.get()) >= 1 && len(tl.get()) >= 1 })
	if s := hl.get()[0]; s.GetHttp().GetStatusCode() != 503 {
		t.Fatalf("http status = %v", s)
	}
	if s := tl.get()[0]; !s.GetTcp().GetSucceeded() {
		t.Fatalf("tcp status = %v", s)
	}
	srv.Close()
	waitFor(t, "both failures", func() bool { return len(hl.get()) >= 2 && len(tl.get()) >= 2 })
	if s := hl.get()[1]; s.GetHttp() == nil || s.GetHttp().StatusCode != nil {
		t.Fatalf("http status after the server went = %v; want an empty http result", s)
	}
	if s := tl.get()[1]; s.GetTcp().Succeeded == nil || s.GetTcp().GetSucceeded() {
		t.Fatalf("tcp status after the server went = %v", s)
	}
}
