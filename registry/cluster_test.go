package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomesos/gomesos/internal/testutil"

	registrypb "github.com/gomesos/gomesos/api/registry"
)

// testTimeouts are Raft timeouts short enough for quick elections, long
// enough for a stable leader under -race on two busy cores.
func testTimeouts(cfg *ReplicatedConfig) {
	cfg.HeartbeatTimeout = 300 * time.Millisecond
	cfg.ElectionTimeout = 300 * time.Millisecond
	cfg.LeaderLeaseTimeout = 150 * time.Millisecond
	cfg.CommitTimeout = 5 * time.Millisecond
}

// testLog writes a test's log to it until the test ends, and drops what
// Raft's goroutines write after that.
type testLog struct {
	mu   sync.Mutex
	t    testing.TB
	done bool
}

func newTestLogger(t testing.TB, level slog.Level) *slog.Logger {
	w := &testLog{t: t}
	t.Cleanup(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		w.done = true
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

func (w *testLog) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.done {
		w.t.Log(strings.TrimSuffix(string(p), "\n"))
	}
	return len(p), nil
}

// node is a master's store: a Replicated in its directory, reached through
// a real HTTP server on its address.
type node struct {
	t     testing.TB
	addr  string
	dir   string
	peers []string
	tune  func(*ReplicatedConfig)

	srv    *http.Server
	served chan struct{}
	store  *Replicated
	lead   *leadership
}

// startNode starts (or restarts) the node: its HTTP server on its address
// and its store in its directory.
func (n *node) start() {
	t := n.t
	t.Helper()
	layer := NewStreamLayer(n.addr)
	mux := http.NewServeMux()
	mux.Handle(RaftPath, layer)
	var ln net.Listener
	testutil.WaitFor(t, "listening on "+n.addr, 10*time.Second, func() bool {
		var err error
		ln, err = net.Listen("tcp", n.addr)
		return err == nil
	})
	n.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	n.served = make(chan struct{})
	go func(srv *http.Server, served chan struct{}) {
		defer close(served)
		srv.Serve(ln)
	}(n.srv, n.served)
	cfg := ReplicatedConfig{Dir: n.dir, Self: n.addr, Peers: n.peers, StreamLayer: layer, Logger: newTestLogger(t, slog.LevelInfo)}
	testTimeouts(&cfg)
	if n.tune != nil {
		n.tune(&cfg)
	}
	s, err := NewReplicated(cfg)
	if err != nil {
		n.srv.Close()
		<-n.served
		t.Fatal(err)
	}
	n.store = s
	n.lead = watchLeadership(s.Leadership())
}

// stop closes the store and the HTTP server; the directory stays.
func (n *node) stop() {
	if n.store == nil {
		return
	}
	if err := n.store.Close(); err != nil {
		n.t.Errorf("closing %s: %v", n.addr, err)
	}
	n.srv.Close()
	<-n.served
	<-n.lead.closed
	n.store = nil
}

func (n *node) leads() bool {
	return n.store != nil && n.store.Stats().State == "Leader"
}

// newCluster starts size nodes on free loopback ports, each knowing all.
func newCluster(t testing.TB, size int, tune func(*ReplicatedConfig)) []*node {
	t.Helper()
	var peers []string
	for range size {
		peers = append(peers, fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t)))
	}
	nodes := make([]*node, size)
	for i := range nodes {
		nodes[i] = &node{t: t, addr: peers[i], dir: t.TempDir(), peers: peers, tune: tune}
	}
	t.Cleanup(func() {
		for _, n := range nodes {
			n.stop()
		}
	})
	for _, n := range nodes {
		n.start()
	}
	return nodes
}

// waitLeader waits until exactly one of the running nodes leads, and
// every running node names it as the leader.
func waitLeader(t testing.TB, nodes []*node) *node {
	t.Helper()
	var leader *node
	testutil.WaitFor(t, "a leader known to all", 20*time.Second, func() bool {
		leader = nil
		for _, n := range nodes {
			if n.leads() {
				if leader != nil {
					return false
				}
				leader = n
			}
		}
		if leader == nil {
			return false
		}
		for _, n := range nodes {
			if n.store != nil && n.store.Leader() != leader.addr {
				return false
			}
		}
		return true
	})
	return leader
}

// applyOnLeader applies ops on whichever node leads, again if the
// leadership moved meanwhile.
func applyOnLeader(t testing.TB, nodes []*node, ops ...*registrypb.Operation) {
	t.Helper()
	for range 10 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := waitLeader(t, nodes).store.Apply(ctx, ops)
		cancel()
		if err == nil {
			return
		}
		if !errors.Is(err, ErrNotLeader) {
			t.Fatal(err)
		}
	}
	t.Fatal("no leader kept its leadership long enough to apply")
}

// fetchFromLeader fetches the registry from whichever node leads, again if
// the leadership moved meanwhile.
func fetchFromLeader(t testing.TB, nodes []*node) *registrypb.Registry {
	t.Helper()
	for range 10 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		reg, err := waitLeader(t, nodes).store.Fetch(ctx)
		cancel()
		if err == nil {
			return reg
		}
		if !errors.Is(err, ErrNotLeader) {
			t.Fatal(err)
		}
	}
	t.Fatal("no leader kept its leadership long enough to fetch")
	return nil
}

// leadership records what a Leadership channel delivers.
type leadership struct {
	mu     sync.Mutex
	values []bool
	closed chan struct{}
}

func watchLeadership(ch <-chan bool) *leadership {
	l := &leadership{closed: make(chan struct{})}
	go func() {
		defer close(l.closed)
		for v := range ch {
			l.mu.Lock()
			l.values = append(l.values, v)
			l.mu.Unlock()
		}
	}()
	return l
}

func (l *leadership) get() []bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]bool(nil), l.values...)
}

// last is the last value delivered, and whether there was one.
func (l *leadership) last() (bool, bool) {
	v := l.get()
	if len(v) == 0 {
		return false, false
	}
	return v[len(v)-1], true
}

// checkAlternates fails the test if values are not false, true, false...
// or true, false, ... with no value twice in a row.
func checkAlternates(t testing.TB, what string, values []bool) {
	t.Helper()
	for i := 1; i < len(values); i++ {
		if values[i] == values[i-1] {
			t.Errorf("%s delivered %v: %v twice in a row", what, values, values[i])
		}
	}
}

var _ io.Writer = (*testLog)(nil)

// kill stops the node as a killed process stops: its port refuses
// connections and every connection it had ends at once, before its Raft
// has done anything about it.
func (n *node) kill() {
	n.srv.Close()
	n.store.layer.Close()
	<-n.served
	if err := n.store.Close(); err != nil {
		n.t.Logf("closing the killed %s: %v", n.addr, err)
	}
	<-n.lead.closed
	n.store = nil
}
