package registry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	registrypb "github.com/gomesos/gomesos/api/registry"
	"github.com/gomesos/gomesos/internal/testutil"
)

func fetch(t testing.TB, s *Replicated) *registrypb.Registry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	reg, err := s.Fetch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func TestReplicatedConfigErrors(t *testing.T) {
	layer := NewStreamLayer("127.0.0.1:5050")
	cases := []struct {
		cfg  ReplicatedConfig
		want string
	}{
		{ReplicatedConfig{Self: "127.0.0.1:5050", StreamLayer: layer}, "no directory"},
		{ReplicatedConfig{Dir: t.TempDir(), Self: "127.0.0.1:5050", Peers: []string{"127.0.0.1:5051", "127.0.0.1:5052"}, StreamLayer: layer}, `"127.0.0.1:5050" is not among the masters`},
		{ReplicatedConfig{Dir: t.TempDir(), Self: "127.0.0.1:5050", Peers: []string{"127.0.0.1:5050", "127.0.0.1:5051", "127.0.0.1:5051"}, StreamLayer: layer}, `"127.0.0.1:5051" is named twice`},
		{ReplicatedConfig{Dir: t.TempDir(), Self: "127.0.0.1:5050", Peers: []string{"127.0.0.1:5050", "h2"}, StreamLayer: layer}, `"h2" is not host:port`},
		{ReplicatedConfig{Dir: t.TempDir(), Self: "127.0.0.1:5050", Peers: []string{"127.0.0.1:5050", "h2:http"}, StreamLayer: layer}, "no port number"},
		{ReplicatedConfig{Dir: t.TempDir(), Self: ":5050", StreamLayer: layer}, "has no host"},
		{ReplicatedConfig{Dir: t.TempDir(), Self: "127.0.0.1:5050"}, "no stream layer"},
		{ReplicatedConfig{Dir: t.TempDir(), Self: "127.0.0.1:5051", StreamLayer: layer}, `advertises "127.0.0.1:5050"`},
	}
	for _, c := range cases {
		s, err := NewReplicated(c.cfg)
		if err == nil {
			s.Close()
			t.Errorf("NewReplicated(%+v) did not fail", c.cfg)
		} else if !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewReplicated(%+v): %v, want an error saying %q", c.cfg, err, c.want)
		}
	}
}

func TestReplicatedSingleNode(t *testing.T) {
	testutil.CheckGoroutines(t)
	nodes := newCluster(t, 1, nil)
	n := nodes[0]
	if waitLeader(t, nodes) != n {
		t.Fatal("the only node does not lead")
	}
	testutil.WaitFor(t, "leadership delivered", 5*time.Second, func() bool { v, ok := n.lead.last(); return ok && v })
	if got := n.lead.get(); len(got) != 2 || got[0] {
		t.Errorf("Leadership delivered %v, want [false true]", got)
	}

	ctx := context.Background()
	if err := n.store.Apply(ctx, []*registrypb.Operation{opAdmit("a1", "h1"), opAdmit("a2", "h2")}); err != nil {
		t.Fatal(err)
	}
	if err := n.store.Apply(ctx, []*registrypb.Operation{opOn(registrypb.Operation_MARK_AGENT_UNREACHABLE, "a1", 7)}); err != nil {
		t.Fatal(err)
	}
	want := &registrypb.Registry{}
	ApplyBatch(want, &registrypb.Batch{Operations: []*registrypb.Operation{opAdmit("a1", "h1"), opAdmit("a2", "h2"), opOn(registrypb.Operation_MARK_AGENT_UNREACHABLE, "a1", 7)}})
	if got := fetch(t, n.store); !proto.Equal(got, want) {
		t.Fatalf("Fetch: %v, want %v", got, want)
	}
	st := n.store.Stats()
	if st.State != "Leader" || st.Peers != 1 || st.LeaderChanges < 1 || st.RegistrySizeBytes != proto.Size(want) ||
		st.AppliedIndex < 3 || st.CommitIndex < st.AppliedIndex-0 || st.Term < 1 || st.LastLogIndex < 3 {
		t.Errorf("Stats %+v", st)
	}
	if n.store.Leader() != n.addr {
		t.Errorf("Leader() = %q, want %q", n.store.Leader(), n.addr)
	}
	// A context that has ended fails at once.
	done, cancel := context.WithCancel(ctx)
	cancel()
	if err := n.store.Apply(done, []*registrypb.Operation{opAdmit("a3", "h3")}); !errors.Is(err, context.Canceled) {
		t.Errorf("Apply with a canceled context: %v", err)
	}

	store := n.store
	n.stop()
	if err := store.Close(); err != nil {
		t.Errorf("closing again: %v", err)
	}
	if err := store.Apply(ctx, []*registrypb.Operation{opAdmit("a3", "h3")}); !errors.Is(err, ErrNotLeader) {
		t.Errorf("Apply on a closed store: %v, want ErrNotLeader", err)
	}
	if _, err := store.Fetch(ctx); !errors.Is(err, ErrNotLeader) {
		t.Errorf("Fetch on a closed store: %v, want ErrNotLeader", err)
	}
	if got := n.lead.get(); got[len(got)-1] {
		t.Errorf("Leadership delivered %v and closed without saying the store stopped leading", got)
	}

	// Reopened from its directory, the store has the registry.
	n.start()
	waitLeader(t, nodes)
	if got := fetch(t, n.store); !proto.Equal(got, want) {
		t.Fatalf("Fetch after a restart: %v, want %v", got, want)
	}
}

func TestReplicatedThreeNodes(t *testing.T) {
	testutil.CheckGoroutines(t)
	nodes := newCluster(t, 3, nil)
	leader := waitLeader(t, nodes)
	var followers []*node
	for _, n := range nodes {
		if n != leader {
			followers = append(followers, n)
		}
	}

	ops := []*registrypb.Operation{opAdmit("a1", "h1"), opAdmit("a2", "h2"), opOn(registrypb.Operation_MARK_AGENT_GONE, "a2", 3)}
	want := &registrypb.Registry{}
	ApplyBatch(want, &registrypb.Batch{Operations: ops})
	applyOnLeader(t, nodes, ops...)
	for _, n := range nodes {
		testutil.WaitFor(t, n.addr+" replicating", 10*time.Second, func() bool { return proto.Equal(n.store.Local(), want) })
		if st := n.store.Stats(); st.Peers != 3 {
			t.Errorf("%s counts %d peers", n.addr, st.Peers)
		}
		// a1 is admitted; a2 was, and is gone.
		if got, want := n.store.AdmittedAgents(), len(want.GetAgents().GetAgents()); got != want || got != 1 {
			t.Errorf("%s counts %d admitted agents, want %d (1)", n.addr, got, want)
		}
	}

	// A follower neither applies nor fetches, and names the leader.
	ctx := context.Background()
	for _, f := range followers {
		if f.leads() {
			continue // the leadership moved: nothing to check on it
		}
		if err := f.store.Apply(ctx, ops); !errors.Is(err, ErrNotLeader) {
			t.Errorf("Apply on follower %s: %v, want ErrNotLeader", f.addr, err)
		}
		if _, err := f.store.Fetch(ctx); !errors.Is(err, ErrNotLeader) {
			t.Errorf("Fetch on follower %s: %v, want ErrNotLeader", f.addr, err)
		}
	}

	// The leader goes: one of the other two leads, with the registry.
	leader = waitLeader(t, nodes)
	leader.stop()
	survivors := slicesWithout(nodes, leader)
	next := waitLeader(t, survivors)
	testutil.WaitFor(t, "leadership delivered to the new leader", 10*time.Second, func() bool { v, ok := next.lead.last(); return ok && v })
	if got := fetchFromLeader(t, survivors); !proto.Equal(got, want) {
		t.Fatalf("the new leader fetched %v, want %v", got, want)
	}
	more := []*registrypb.Operation{opAdmit("a3", "h3")}
	Apply(want, more[0])
	applyOnLeader(t, survivors, more...)

	// Alone, the last node cannot commit, and stops leading.
	next = waitLeader(t, survivors)
	other := slicesWithout(survivors, next)[0]
	other.stop()
	last := next
	testutil.WaitFor(t, "the node left alone to step down", 10*time.Second, func() bool { return !last.leads() })
	short, cancel := context.WithTimeout(ctx, time.Second)
	err := last.store.Apply(short, []*registrypb.Operation{opAdmit("a4", "h4")})
	cancel()
	if !errors.Is(err, ErrNotLeader) && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Apply on a minority: %v, want ErrNotLeader or the deadline", err)
	}
	testutil.WaitFor(t, "leadership lost delivered", 10*time.Second, func() bool { v, ok := last.lead.last(); return ok && !v })
	for _, n := range nodes {
		checkAlternates(t, n.addr+"'s Leadership", n.lead.get())
	}

	// All three restart from their directories.
	for _, n := range nodes {
		n.stop()
	}
	for _, n := range nodes {
		n.start()
	}
	if got := fetchFromLeader(t, nodes); !proto.Equal(got, want) {
		t.Fatalf("after restarting all, the leader fetched %v, want %v", got, want)
	}
}

func slicesWithout(nodes []*node, out *node) []*node {
	var rest []*node
	for _, n := range nodes {
		if n != out {
			rest = append(rest, n)
		}
	}
	return rest
}

func TestReplicatedSnapshotsCompactTheLog(t *testing.T) {
	testutil.CheckGoroutines(t)
	nodes := newCluster(t, 3, func(cfg *ReplicatedConfig) {
		cfg.SnapshotThreshold = 20
		cfg.TrailingLogs = 5
		cfg.SnapshotInterval = time.Hour // only the forced ones, so the test says when
	})
	leader := waitLeader(t, nodes)
	// One follower is away while the log grows and is compacted: it comes
	// back to a log that no longer has what it misses, and needs the
	// snapshot sent over the transport.
	away := slicesWithout(nodes, leader)[0]
	away.stop()

	want := &registrypb.Registry{}
	for i := range 60 {
		op := opAdmit(fmt.Sprintf("agent-%d", i), strings.Repeat("h", 100))
		Apply(want, op)
		applyOnLeader(t, nodes, op)
	}
	leader = waitLeader(t, nodes)
	if err := leader.store.Snapshot(); err != nil {
		t.Fatal(err)
	}
	st := leader.store.Stats()
	if st.Snapshots < 1 || st.FirstLogIndex <= 1 {
		t.Fatalf("after a snapshot, Stats %+v: want a snapshot and a compacted log", st)
	}
	snaps, err := filepath.Glob(filepath.Join(leader.dir, "snapshots", "*", "state.bin"))
	if err != nil || len(snaps) == 0 {
		t.Errorf("no snapshot under %s: %v", leader.dir, err)
	}
	more := opAdmit("after-snapshot", "h")
	Apply(want, more)
	applyOnLeader(t, nodes, more)

	away.start()
	testutil.WaitFor(t, "the follower that was away catching up", 20*time.Second, func() bool {
		return proto.Equal(away.store.Local(), want)
	})

	// Reopened, a node restores the snapshot and replays the log after it.
	for _, n := range nodes {
		n.stop()
	}
	for _, n := range nodes {
		n.start()
	}
	if got := fetchFromLeader(t, nodes); !proto.Equal(got, want) {
		t.Fatalf("after restarting, the leader fetched %d agents, want %d", len(got.GetAgents().GetAgents()), len(want.GetAgents().GetAgents()))
	}
	for _, n := range nodes {
		if _, err := os.Stat(filepath.Join(n.dir, "raft.db")); err != nil {
			t.Error(err)
		}
	}
}

// A cluster of one keeps its registry when it comes back under another
// address (a master restarted on another port or hostname); a store that
// was one of several, started alone, is refused rather than made a second
// cluster.
func TestReplicatedLoneNodeMoves(t *testing.T) {
	testutil.CheckGoroutines(t)
	nodes := newCluster(t, 1, nil)
	n := nodes[0]
	waitLeader(t, nodes)
	applyOnLeader(t, nodes, opAdmit("a1", "h1"))
	n.stop()
	n.addr = fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	n.peers = nil
	n.start()
	waitLeader(t, nodes)
	if got := fetch(t, n.store); len(got.GetAgents().GetAgents()) != 1 {
		t.Fatalf("after moving to %s the registry holds %v, want a1", n.addr, got)
	}

	three := newCluster(t, 3, nil)
	waitLeader(t, three)
	m := three[1]
	m.stop()
	_, err := NewReplicated(ReplicatedConfig{Dir: m.dir, Self: m.addr, StreamLayer: NewStreamLayer(m.addr)})
	if err == nil || !strings.Contains(err.Error(), "start this master with --masters") {
		t.Fatalf("a member of three started alone: %v, want a refusal naming --masters", err)
	}
}

// A leader whose process is gone (its connections ended, its port refuses
// new ones) is replaced as soon as Raft allows: a follower holds the
// election one heartbeat timeout after the leader's last word instead of
// waiting for its timer, and the followers do so one after the other, so
// that one of them wins at once.
func TestReplicatedDeadLeaderHurriesTheElection(t *testing.T) {
	nodes := newCluster(t, 3, nil)
	first := waitLeader(t, nodes)
	applyOnLeader(t, nodes, opAdmit("a1", "h1"))

	first.kill()
	var alive []*node
	for _, n := range nodes {
		if n != first {
			alive = append(alive, n)
		}
	}
	second := waitLeader(t, alive)
	hurried := int64(0)
	for _, n := range alive {
		hurried += n.store.Stats().HurriedElections
	}
	if hurried == 0 {
		t.Errorf("the leader's process went, and no follower hurried the election")
	}
	if reg := fetchFromLeader(t, alive); len(reg.GetAgents().GetAgents()) != 1 {
		t.Errorf("the new leader %s has %d agents, want the 1 committed before", second.addr, len(reg.GetAgents().GetAgents()))
	}
}

// The leader names as its successor the follower the hurried election
// elects when its process dies (agents go there first); the followers name
// none, nor does a lone master. Raft's own timers may still beat the
// hurry now and then, so the test tries three clusters: a rule that named
// the wrong follower would miss in all three.
func TestReplicatedLeaderNamesItsSuccessor(t *testing.T) {
	lone := newCluster(t, 1, nil)
	if s := waitLeader(t, lone).store.Successor(); s != "" {
		t.Errorf("a lone master names a successor, %q", s)
	}
	var misses []string
	for range 3 {
		nodes := newCluster(t, 3, nil)
		first := waitLeader(t, nodes)
		successor := first.store.Successor()
		var alive []*node
		for _, n := range nodes {
			if n != first {
				alive = append(alive, n)
				if s := n.store.Successor(); s != "" {
					t.Errorf("the follower %s names a successor, %q", n.addr, s)
				}
			}
		}
		if successor != alive[0].addr && successor != alive[1].addr {
			t.Fatalf("the leader names %q its successor, not one of its followers %s and %s", successor, alive[0].addr, alive[1].addr)
		}
		first.kill()
		second := waitLeader(t, alive)
		if second.addr == successor {
			return
		}
		misses = append(misses, fmt.Sprintf("%s elected, %s named", second.addr, successor))
		for _, n := range alive {
			n.stop()
		}
	}
	t.Errorf("the successor the leader named was not elected in any of three clusters: %v", misses)
}

// A follower that has heard nothing from the leader for half a heartbeat
// timeout names no leader, well before Raft itself gives up on it (a
// heartbeat timeout after its last word, at the earliest): whoever asks it
// for the leader waits for the next one rather than be sent to a dead one.
func TestReplicatedQuietLeaderIsNotNamed(t *testing.T) {
	const hb = 3 * time.Second
	nodes := newCluster(t, 3, func(cfg *ReplicatedConfig) {
		cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = hb, hb, hb/2
	})
	first := waitLeader(t, nodes)
	var alive []*node
	for _, n := range nodes {
		if n != first {
			alive = append(alive, n)
		}
	}
	first.kill()
	killed := time.Now()
	// Raft forgets the leader no sooner than hb after its last word, which
	// came at most a fifth of hb before the kill; the quiet rule, half hb
	// after it.
	testutil.WaitFor(t, "the followers to stop naming the dead leader", 10*time.Second, func() bool {
		return alive[0].store.Leader() == "" && alive[1].store.Leader() == ""
	})
	if took := time.Since(killed); took > hb*7/10 {
		t.Errorf("the followers named the dead leader for %v after the kill, want less than %v", took, hb*7/10)
	}
	waitLeader(t, alive)
}

// A follower that finds the leader's process gone names it no more at
// once, long before the quiet rule would (half a heartbeat timeout), and
// names the leader elected next.
func TestReplicatedGoneLeaderIsNotNamed(t *testing.T) {
	const hb = 4 * time.Second
	nodes := newCluster(t, 3, func(cfg *ReplicatedConfig) {
		cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = hb, hb, hb/2
	})
	first := waitLeader(t, nodes)
	var alive []*node
	for _, n := range nodes {
		if n != first {
			alive = append(alive, n)
		}
	}
	first.kill()
	killed := time.Now()
	testutil.WaitFor(t, "the followers to stop naming the dead leader", 10*time.Second, func() bool {
		return alive[0].store.Leader() == "" && alive[1].store.Leader() == ""
	})
	if took := time.Since(killed); took >= hb/4 {
		t.Errorf("the followers named the dead leader for %v after the kill, want less than %v", took, hb/4)
	}
	second := waitLeader(t, alive)
	testutil.WaitFor(t, "both to name the new leader", 10*time.Second, func() bool {
		return alive[0].store.Leader() == second.addr && alive[1].store.Leader() == second.addr
	})
}
