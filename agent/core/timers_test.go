package core

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	execpb "github.com/gomesos/gomesos/api/v1/executor"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// The heap, with its lazy removal, answers as a scan of every key's
// current deadline would: the earliest live deadline, and exactly the keys
// due, each once, however keys were rescheduled or cancelled meanwhile.
func TestTimerHeapMatchesAScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Unix(1_700_000_000, 0)
	now := start
	current := map[int]time.Time{} // the model: each key's live deadline
	var h timerHeap[int]
	live := func(e timer[int]) bool {
		at, ok := current[e.key]
		return ok && at.Equal(e.at)
	}
	for step := range 5000 {
		switch op := rng.IntN(10); {
		case op < 5: // (re)schedule a key
			k := rng.IntN(50)
			at := now.Add(time.Duration(rng.IntN(1000)) * time.Millisecond)
			current[k] = at
			h.push(at, k)
		case op < 7: // cancel one
			delete(current, rng.IntN(50))
		default: // time passes; the due ones fire
			now = now.Add(time.Duration(rng.IntN(300)) * time.Millisecond)
			var want []int
			for k, at := range current {
				if !now.Before(at) {
					want = append(want, k)
				}
			}
			got := h.due(now, live)
			for i := 1; i < len(got); i++ {
				if current[got[i]].Before(current[got[i-1]]) {
					t.Fatalf("step %d: due keys out of deadline order", step)
				}
			}
			for _, k := range got {
				delete(current, k) // fired: its owner acts on it
			}
			slices.Sort(want)
			sorted := slices.Sorted(slices.Values(got))
			if !slices.Equal(sorted, want) {
				t.Fatalf("step %d: due %v, want %v", step, sorted, want)
			}
		}
		var want time.Time
		for _, at := range current {
			if want.IsZero() || at.Before(want) {
				want = at
			}
		}
		if got := h.next(live); !got.Equal(want) {
			t.Fatalf("step %d: next %v, want %v", step, got, want)
		}
	}
	// Every stale entry goes once its time has come.
	clear(current)
	if h.due(now.Add(time.Hour), live); h.len() != 0 {
		t.Errorf("%d entries left after every deadline passed", h.len())
	}
}

// Executors' timers on the simulated clock: the registration deadline of
// each executor fires at its own time and only for an executor still
// registering; a subscribed one's is dropped; a shutdown's kill deadline
// fires after the grace period, before later registration deadlines.
func TestCoreExecutorTimersInOrder(t *testing.T) {
	h := newCoreHarness(t)
	h.register()
	start := h.now
	containers := map[string]string{}
	for i, id := range []string{"a", "b", "c", "d"} {
		h.now = start.Add(time.Duration(i) * 10 * time.Second)
		spec := only[Launch](h.master(runTask(commandTask(id, "A-S1", "sleep 1000"))))[0].Spec
		containers[spec.ID] = id
		h.step(ContainerLaunched{ContainerID: spec.ID, Pid: 100 + i})
	}
	// b and d subscribe: their registration timers are gone.
	for n, id := range []string{"b", "d"} {
		sub := execCall("fw-1", id, execpb.Call_SUBSCRIBE)
		sub.Subscribe = &execpb.Call_Subscribe{}
		if r := h.call(sub, int64(10+n)); r.Status != CallOK {
			t.Fatalf("subscribe %s: %+v", id, r)
		}
	}
	// d is shut down at +35s: killed at +40s unless it exits.
	h.now = start.Add(35 * time.Second)
	outs := h.master(&agentproto.MasterMessage{
		Type: agentproto.MasterMessage_SHUTDOWN_EXECUTOR.Enum(),
		ShutdownExecutor: &agentproto.MasterMessage_ShutdownExecutor{
			FrameworkId: testFramework.GetId(), ExecutorId: &mesos.ExecutorID{Value: proto.String("d")},
		},
	})
	if len(only[ExecutorEvent](outs)) != 1 {
		t.Fatalf("shutdown of d sent %v", outs)
	}

	destroyed := func(outs []Output) []string {
		var ids []string
		for _, d := range only[Destroy](outs) {
			ids = append(ids, containers[d.ContainerID])
		}
		return ids
	}
	// a registers by +60s and c by +80s; d is killed at +40s.
	for _, want := range []struct {
		at time.Duration
		id string
	}{{40 * time.Second, "d"}, {60 * time.Second, "a"}, {80 * time.Second, "c"}} {
		d := h.c.nextDeadline()
		if !d.Equal(start.Add(want.at)) {
			t.Fatalf("next deadline +%v, want +%v (for %s)", d.Sub(start), want.at, want.id)
		}
		// A tick just before it does nothing.
		if got := destroyed(h.advanceTo(d.Add(-time.Millisecond))); len(got) != 0 {
			t.Fatalf("a tick before +%v destroyed %v", want.at, got)
		}
		if got := destroyed(h.advanceTo(d)); !slices.Equal(got, []string{want.id}) {
			t.Fatalf("at +%v destroyed %v, want %s", want.at, got, want.id)
		}
	}
	if d := h.c.nextDeadline(); !d.Equal(h.c.pingDeadline) {
		t.Errorf("a timer other than the ping is left: +%v", d.Sub(start))
	}
	if got := destroyed(h.advanceTo(start.Add(10 * time.Minute))); len(got) != 0 {
		t.Errorf("later ticks destroyed %v again", got)
	}
}

// Two timers due at the same tick fire together, in container order, as
// before the heap (the order outputs come in is part of a replay).
func TestCoreDueExecutorsTogetherInContainerOrder(t *testing.T) {
	h := newCoreHarness(t)
	h.register()
	var ids []string
	for _, id := range []string{"x", "y", "z"} {
		spec := only[Launch](h.master(runTask(commandTask(id, "A-S1", "sleep 1000"))))[0].Spec
		ids = append(ids, spec.ID)
	}
	var got []string
	for _, d := range only[Destroy](h.advanceTo(h.now.Add(time.Hour))) {
		got = append(got, d.ContainerID)
	}
	if !slices.Equal(got, slices.Sorted(slices.Values(ids))) {
		t.Errorf("destroyed %v, want every container in ID order %v", got, slices.Sorted(slices.Values(ids)))
	}
}
