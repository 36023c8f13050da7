package master_test

import (
	"bytes"
	"context"
	"regexp"
	"testing"
	"time"

	"github.com/gomesos/gomesos/internal/testutil"
	"github.com/gomesos/gomesos/master"
)

// BenchmarkFailover kills the leader of three masters with 10,000 agents
// running 100,000 tasks and reports how long the new leader took to be
// elected, to have every agent back, and to offer again:
//
//	go test ./master/ -run '^$' -bench BenchmarkFailover -benchtime 1x
func BenchmarkFailover(b *testing.B) {
	for b.Loop() {
		res, err := master.BenchFailover(context.Background(), master.BenchFailoverOptions{Agents: 10000, TasksPerAgent: 10}, testWriter{b})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(res.Elected.Seconds(), "elected-s")
		b.ReportMetric(res.Reregistered.Seconds(), "reregistered-s")
		b.ReportMetric(res.Offers.Seconds(), "offers-s")
	}
}

// testWriter writes to a test's log.
type testWriter struct{ tb testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.tb.Log(string(bytes.TrimRight(p, "\n")))
	return len(p), nil
}

// A small failover runs end to end: the leader is killed, another is
// elected, every agent re-registers with its tasks and the framework is
// offered again, in that order of the line it ends with.
func TestBenchFailoverSmoke(t *testing.T) {
	t.Run("tcp", func(t *testing.T) { testBenchFailover(t, false) })
	// As when the process may not open two sockets per agent.
	t.Run("in memory", func(t *testing.T) { testBenchFailover(t, true) })
}

func testBenchFailover(t *testing.T, inMemory bool) {
	testutil.CheckGoroutines(t)
	var out bytes.Buffer
	res, err := master.BenchFailover(context.Background(), master.BenchFailoverOptions{
		Agents: 30, TasksPerAgent: 3, Dir: t.TempDir(), InMemory: inMemory,
		// Long enough for a stable leader under -race on a busy machine.
		HeartbeatTimeout: time.Second, ElectionTimeout: time.Second, LeaderLeaseTimeout: 500 * time.Millisecond,
		Timeout: 30 * time.Second,
	}, &out)
	t.Log(out.String())
	if err != nil {
		t.Fatal(err)
	}
	if res.Tasks != 90 || res.OldLeader == "" || res.NewLeader == "" || res.OldLeader == res.NewLeader {
		t.Errorf("BenchFailover = %+v; want 90 tasks and a new leader other than the old", res)
	}
	// The heartbeat timeout passes before a follower stands for election.
	if res.Elected < time.Second || res.Reregistered < res.Elected || res.Offers < res.Elected {
		t.Errorf("BenchFailover = %+v; want elected after the heartbeat timeout, re-registrations and offers after it", res)
	}
	last := regexp.MustCompile(`(?m)^failover agents=30 elected=\d+\.\d{3}s reregistered=\d+\.\d{3}s offers=\d+\.\d{3}s\n\z`)
	if !last.Match(out.Bytes()) {
		t.Errorf("output does not end with the failover line:\n%s", out.String())
	}
}
