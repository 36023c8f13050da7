package operator_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	masterpb "github.com/gomesos/gomesos/api/v1/master"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/internal/testutil"
	"github.com/gomesos/gomesos/master"
	"github.com/gomesos/gomesos/master/core"
	"github.com/gomesos/gomesos/operator"
	"google.golang.org/protobuf/proto"
)

const waitTimeout = 10 * time.Second

// startMaster runs a real master on a free loopback port until the test
// ends.
func startMaster(t *testing.T) *master.Master {
	t.Helper()
	testutil.CheckGoroutines(t)
	m, err := master.New(master.Config{
		IP: "127.0.0.1", Port: 0, TickInterval: 10 * time.Millisecond,
		Options: core.Options{AllocationInterval: 50 * time.Millisecond, HeartbeatInterval: 100 * time.Millisecond,
			AgentPingTimeout: time.Second, MaxAgentPingTimeouts: 2,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil))},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("master.Run: %v", err)
		}
		http.DefaultClient.CloseIdleConnections()
	})
	testutil.WaitFor(t, "the master to serve /health", waitTimeout, func() bool {
		resp, err := http.Get(m.URL() + "/health")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return m
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	return c
}

// Calls come back typed, in either encoding.
func TestCallAnswersTyped(t *testing.T) {
	m := startMaster(t)
	for _, enc := range []codec.Encoding{codec.Protobuf, codec.JSON} {
		c, err := operator.New([]string{m.Addr()}, operator.WithEncoding(enc))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.Do(ctx(t), masterpb.Call_GET_HEALTH)
		if err != nil || resp.GetType() != masterpb.Response_GET_HEALTH || !resp.GetGetHealth().GetHealthy() {
			t.Errorf("%s GET_HEALTH: %v, %v", enc, resp, err)
		}
		resp, err = c.Do(ctx(t), masterpb.Call_GET_AGENTS)
		if err != nil || resp.GetType() != masterpb.Response_GET_AGENTS || resp.GetAgents == nil {
			t.Errorf("%s GET_AGENTS: %v, %v", enc, resp, err)
		}
	}
}

// A call that changes state answers an empty 200; the change shows.
func TestCallUpdatesWeights(t *testing.T) {
	m := startMaster(t)
	c, _ := operator.New([]string{m.URL()})
	call := &masterpb.Call{Type: masterpb.Call_UPDATE_WEIGHTS.Enum(), UpdateWeights: &masterpb.Call_UpdateWeights{
		WeightInfos: []*mesos.WeightInfo{{Role: proto.String("dev"), Weight: proto.Float64(2.5)}}}}
	if _, err := c.Call(ctx(t), call); err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(ctx(t), masterpb.Call_GET_WEIGHTS)
	if err != nil {
		t.Fatal(err)
	}
	ws := resp.GetGetWeights().GetWeightInfos()
	if len(ws) != 1 || ws[0].GetRole() != "dev" || ws[0].GetWeight() != 2.5 {
		t.Errorf("GET_WEIGHTS after the update: %v", ws)
	}
}

// The master's refusal comes back as an *Error with its status and words.
func TestCallErrorCarriesTheMastersMessage(t *testing.T) {
	m := startMaster(t)
	c, _ := operator.New([]string{m.Addr()})
	_, err := c.Do(ctx(t), masterpb.Call_TEARDOWN)
	var oe *operator.Error
	if !errors.As(err, &oe) || oe.Status != http.StatusBadRequest || !strings.Contains(oe.Message, "Expecting 'teardown' to be present") {
		t.Fatalf("TEARDOWN without teardown: %v", err)
	}
	if !strings.Contains(err.Error(), "TEARDOWN: 400 Bad Request: ") {
		t.Errorf("error text %q", err)
	}
}

// The client tries each master in turn, and follows a redirect to the
// leader.
func TestCallTriesEachMasterAndFollowsRedirects(t *testing.T) {
	m := startMaster(t)
	redirects := 0
	follower := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		redirects++
		w.Header().Set("Location", "//"+m.Addr()+r.URL.RequestURI())
		w.WriteHeader(http.StatusTemporaryRedirect)
	}))
	defer follower.Close()
	noLeader := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "No leader elected", http.StatusServiceUnavailable)
	}))
	defer noLeader.Close()
	dead := httptest.NewServer(http.NotFoundHandler())
	deadAddr := dead.Listener.Addr().String()
	dead.Close()

	c, err := operator.New([]string{deadAddr + "," + noLeader.URL, follower.URL})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(ctx(t), masterpb.Call_GET_FRAMEWORKS)
	if err != nil || resp.GetType() != masterpb.Response_GET_FRAMEWORKS {
		t.Fatalf("GET_FRAMEWORKS: %v, %v", resp, err)
	}
	if redirects != 1 {
		t.Errorf("%d redirects followed, want 1", redirects)
	}

	// With no master answering, the error says what each said.
	c, _ = operator.New([]string{deadAddr, noLeader.URL})
	_, err = c.Do(ctx(t), masterpb.Call_GET_AGENTS)
	if err == nil || !strings.Contains(err.Error(), "No leader elected") || !strings.Contains(err.Error(), deadAddr) {
		t.Errorf("no master answering: %v", err)
	}
}

func TestNewRefusesBadAddresses(t *testing.T) {
	for _, bad := range [][]string{nil, {""}, {" , "}, {"zk://h:2181/mesos"}} {
		if _, err := operator.New(bad); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
}

// SUBSCRIBE streams SUBSCRIBED and then the master's events as they happen.
func TestSubscribeStreamsEvents(t *testing.T) {
	m := startMaster(t)
	for _, enc := range []codec.Encoding{codec.Protobuf, codec.JSON} {
		c, _ := operator.New([]string{m.Addr()}, operator.WithEncoding(enc))
		sctx, cancel := context.WithCancel(ctx(t))
		s, err := c.Subscribe(sctx)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := s.Next()
		if err != nil || ev.GetType() != masterpb.Event_SUBSCRIBED || ev.GetSubscribed().GetGetState() == nil {
			t.Fatalf("%s: first event %v, %v", enc, ev, err)
		}
		// A framework subscribing shows as FRAMEWORK_ADDED.
		fw := strings.NewReader(`{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"fw-` + enc.String() + `"}}}`)
		req, _ := http.NewRequestWithContext(sctx, http.MethodPost, m.URL()+"/api/v1/scheduler", fw)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		fresp, err := http.DefaultClient.Do(req)
		if err != nil || fresp.StatusCode != http.StatusOK {
			t.Fatalf("scheduler SUBSCRIBE: %v %v", fresp, err)
		}
		for {
			ev, err = s.Next()
			if err != nil {
				t.Fatalf("%s: %v", enc, err)
			}
			// HEARTBEATs, and the previous round's framework going
			// away, may come first.
			if ev.GetType() == masterpb.Event_FRAMEWORK_ADDED {
				break
			}
		}
		if got := ev.GetFrameworkAdded().GetFramework().GetFrameworkInfo().GetName(); got != "fw-"+enc.String() {
			t.Errorf("FRAMEWORK_ADDED names %q", got)
		}
		fresp.Body.Close()
		s.Close()
		cancel()
		if _, err := s.Next(); err == nil {
			t.Error("Next after Close returned an event")
		}
	}
}
