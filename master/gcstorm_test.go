package master

import (
	"log/slog"
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// While recovered agents re-register, GOGC is raised to the configured
// least value and put back afterwards; a higher GOGC, or a collector
// turned off, is left as it is.
func TestGCStormRaisesAndRestoresGOGC(t *testing.T) {
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)
	log := slog.New(slog.DiscardHandler)
	now := time.Now()

	var g gcStorm
	g.raise(400, now, log, 10)
	if got := debug.SetGCPercent(400); got != 400 || !g.raised {
		t.Fatalf("after raise: GOGC %d, raised %v; want 400, true", got, g.raised)
	}
	g.raise(800, now, log, 10) // raised already: unchanged
	if got := debug.SetGCPercent(400); got != 400 {
		t.Fatalf("a second raise changed GOGC to %d", got)
	}
	g.restore()
	if got := debug.SetGCPercent(100); got != 100 || g.raised {
		t.Fatalf("after restore: GOGC %d, raised %v; want 100, false", got, g.raised)
	}

	for _, keep := range []int{500, -1} {
		debug.SetGCPercent(keep)
		var g gcStorm
		g.raise(400, now, log, 10)
		if got := debug.SetGCPercent(keep); got != keep || g.raised {
			t.Fatalf("GOGC %d: raise made it %d (raised %v); want it left alone", keep, got, g.raised)
		}
	}
	debug.SetGCPercent(100)
	var off gcStorm
	off.raise(0, now, log, 10)
	if got := debug.SetGCPercent(100); got != 100 || off.raised {
		t.Fatalf("percent 0: GOGC %d, raised %v; want 100 left alone", got, off.raised)
	}
}

// Paced (no fixed memory limit): once a hundredth of the agents are back,
// GOGC is set for a goal that holds what they allocated scaled to all of
// them; it only rises; a collection that finds the live heap grown puts
// it back at the raised one.
func TestGCStormPacing(t *testing.T) {
	setGCForTest(t)
	log := slog.New(slog.DiscardHandler)
	runtime.GC() // a live heap to pace from

	var g gcStorm
	g.raise(400, time.Now(), log, 1000)
	defer g.restore()
	if !g.paced {
		t.Fatal("with no memory limit, raise did not pace")
	}
	// What 100 agents of 1000 might allocate: 8 MiB.
	held := make([]byte, 8<<20)
	g.pace(5, log) // too few back to tell
	if got := debug.SetGCPercent(-1); got != 400 {
		t.Fatalf("with 5 agents of 1000 back GOGC is %d, want 400", got)
	}
	debug.SetGCPercent(400)
	g.pace(100, log)
	s := readGCStats()
	goal := float64(s.live) * (1 + float64(g.gogc)/100)
	if want := float64(g.heap) + float64(s.heap-g.heap)*10; g.gogc <= 400 || goal < want {
		t.Fatalf("with 100 agents of 1000 back, %d bytes allocated: GOGC %d (goal %.0f), want a goal of at least %.0f",
			s.heap-g.heap, g.gogc, goal, want)
	}
	if got := debug.SetGCPercent(g.gogc); got != g.gogc {
		t.Fatalf("the runtime's GOGC is %d, the paced one %d", got, g.gogc)
	}
	paced := g.gogc
	g.pace(1000, log) // a lower rate: GOGC stays
	if g.gogc != paced {
		t.Fatalf("GOGC moved down from %d to %d", paced, g.gogc)
	}

	// A collection finds 64 MiB more live.
	grown := make([]byte, 64<<20)
	runtime.GC()
	g.pace(1000, log)
	if got := debug.SetGCPercent(400); got != 400 || g.paced {
		t.Fatalf("after a collection in the storm: GOGC %d, paced %v; want 400, false", got, g.paced)
	}
	runtime.KeepAlive(held)
	runtime.KeepAlive(grown)
	g.restore()
	if got := debug.SetGCPercent(100); got != 100 {
		t.Fatalf("after restore: GOGC %d, want 100", got)
	}
}

// Once the agents are back with the heap above the goal the old GOGC
// would give, GOGC is set for a goal above the heap and a collection is
// started; GOGC is put back once it has ended.
func TestGCStormUnwinds(t *testing.T) {
	setGCForTest(t)
	log := slog.New(slog.DiscardHandler)
	runtime.GC()

	var g gcStorm
	now := time.Now()
	g.raise(400, now, log, 10)
	debug.SetGCPercent(-1) // as if paced high: the garbage below stays
	var junk [][]byte
	for range 64 {
		junk = append(junk, make([]byte, 1<<20))
	}
	junk = nil
	g.unwind(now)
	if !g.unwinding || !g.raised {
		t.Fatalf("unwinding %v, raised %v; want both", g.unwinding, g.raised)
	}
	if got := debug.SetGCPercent(-1); got <= 100 {
		t.Fatalf("while unwinding GOGC is %d, want above 100", got)
	} else {
		debug.SetGCPercent(got)
	}
	// unwind starts the collection itself.
	for deadline := time.Now().Add(10 * time.Second); !g.unwound(now); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no collection ended within 10s of the unwind")
		}
	}
	g.restore()
	if got := debug.SetGCPercent(100); got != 100 || g.raised || g.unwinding {
		t.Fatalf("after restore: GOGC %d, raised %v, unwinding %v", got, g.raised, g.unwinding)
	}
	runtime.KeepAlive(junk)
}

// The collection that unwinds GOGC waits until the agents have been back
// for gcUnwindAfter, counted from the first tick that found them back.
func TestGCStormUnwindWaitsForTheAgentsToSettle(t *testing.T) {
	setGCForTest(t)
	var g gcStorm
	t0 := time.Now()
	g.raise(400, t0, slog.New(slog.DiscardHandler), 10)
	for _, c := range []struct {
		at      time.Duration
		settled bool
	}{{0, false}, {gcUnwindAfter / 2, false}, {gcUnwindAfter - time.Millisecond, false}, {gcUnwindAfter, true}, {2 * gcUnwindAfter, true}} {
		if got := g.settled(t0.Add(c.at)); got != c.settled {
			t.Errorf("%v after the agents were back: settled %v, want %v", c.at, got, c.settled)
		}
	}
	g.restore()
	g.raise(400, t0.Add(time.Hour), slog.New(slog.DiscardHandler), 10)
	defer g.restore()
	if g.settled(t0.Add(time.Hour)) {
		t.Error("a storm after a restore counts from when its own agents are back, not from the last one's")
	}
}

// setGCForTest sets GOGC to 100 and lifts the memory limit, as the GC
// pacing tests start from, and puts both back when the test ends.
func setGCForTest(t *testing.T) {
	t.Helper()
	orig := debug.SetGCPercent(100)
	origLimit := debug.SetMemoryLimit(math.MaxInt64)
	t.Cleanup(func() {
		debug.SetGCPercent(orig)
		debug.SetMemoryLimit(origLimit)
	})
}
