package master

import (
	"bytes"
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeBenchMaster answers figures from a function of how often it was
// asked.
type fakeBenchMaster struct {
	addr  string
	asked atomic.Int32
	fig   func(n int) map[string]float64
}

func (f *fakeBenchMaster) Advertise() string { return f.addr }
func (f *fakeBenchMaster) leads(context.Context) bool {
	return f.fig(int(f.asked.Load()))["master/elected"] == 1
}
func (f *fakeBenchMaster) activeAgents(context.Context) int { return 0 }
func (f *fakeBenchMaster) killing() string                  { return "" }
func (f *fakeBenchMaster) kill()                            {}
func (f *fakeBenchMaster) usage() (masterUsage, bool)       { return masterUsage{}, false }
func (f *fakeBenchMaster) figures(context.Context) (map[string]float64, error) {
	return f.fig(int(f.asked.Add(1))), nil
}

func TestAwaitTasksFollowsTheLeadershipWhereItMoved(t *testing.T) {
	// The new leader lost the leadership after the re-registration: it
	// now counts no tasks; the other survivor leads, first with some of
	// the tasks back, then with all.
	old := &fakeBenchMaster{addr: "a", fig: func(int) map[string]float64 {
		return map[string]float64{"master/elected": 0, "master/tasks_running": 0}
	}}
	other := &fakeBenchMaster{addr: "b", fig: func(n int) map[string]float64 {
		running := 40.0
		if n >= 3 {
			running = 100
		}
		return map[string]float64{"master/elected": 1, "master/tasks_running": running}
	}}
	b := &failoverBench{failed: make(chan struct{})}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	first, _ := old.figures(ctx)
	if err := b.awaitTasks(ctx, []benchMaster{old, other}, old, first, 100, &out); err != nil {
		t.Fatalf("awaitTasks: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "b leads with all 100 tasks running") || !strings.Contains(out.String(), "the leadership having moved there") {
		t.Fatalf("output does not tell where the tasks were found:\n%s", out.String())
	}
}

func TestAwaitTasksFailsWhenNoLeaderGetsEveryTask(t *testing.T) {
	short := &fakeBenchMaster{addr: "a", fig: func(int) map[string]float64 {
		return map[string]float64{"master/elected": 1, "master/tasks_running": 930}
	}}
	b := &failoverBench{failed: make(chan struct{})}
	var out bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	first, _ := short.figures(ctx)
	err := b.awaitTasks(ctx, []benchMaster{short}, short, first, 1000, &out)
	if err == nil || !strings.Contains(err.Error(), "a leads and counts 930") {
		t.Fatalf("awaitTasks = %v, want an error naming the leader's count", err)
	}
}
