package master

import (
	"log/slog"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

// heapReleased is the heap memory the runtime has returned to the system
// (or never touched).
func heapReleased() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/released:bytes"}, {Name: "/memory/classes/heap/free:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// heapFree is the heap memory free and not returned: what the allocator
// hands out again without a page fault.
func heapFree() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/free:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// A follower's reserve raises GOGC for a goal above the reserve, touches
// pages up to a collection, which leaves them free in the heap (not
// returned), grows only in steps, and is handed over on election: GOGC
// back, the reserve's GOGC returned.
func TestStandbyReserveKeepsFreePagesAndHandsOver(t *testing.T) {
	setGCForTest(t)
	log := slog.New(slog.DiscardHandler)
	runtime.GC()
	_ = heapReleased()

	r := standbyReserve{perAgent: 64 << 10}
	now := time.Now()
	r.keep(10, "l", now, log) // 640 KiB: not worth keeping
	if r.held || r.done != nil {
		t.Fatalf("a reserve of 10 agents was kept")
	}
	r.keep(1000, "l", now, log) // 64 MiB, while agents register: not yet
	if r.held || r.done != nil {
		t.Fatal("a reserve was kept before the agents' count settled")
	}
	now = now.Add(standbySettle)
	r.keep(1000, "l", now, log) // settled, but the leader is new
	if r.held || r.done != nil {
		t.Fatal("a reserve was kept right after a leader was known")
	}
	now = now.Add(standbyAfterElection)
	r.keep(1000, "l", now, log)
	if !r.held || r.done == nil {
		t.Fatal("a reserve of 1000 agents was not kept")
	}
	<-r.done
	gogc := debug.SetGCPercent(-1)
	debug.SetGCPercent(gogc)
	s := readGCStats()
	if goal := float64(s.live) * (1 + float64(gogc)/100); gogc <= 100 || goal < float64(r.target) {
		t.Fatalf("GOGC %d with %d bytes live: a goal of %.0f, below the reserve %d", gogc, s.live, goal, r.target)
	}
	if free := heapFree(); free < uint64(r.target)/2 {
		t.Fatalf("after touching, %d bytes free in the heap; want at least half the reserve, %d", free, r.target/2)
	}
	target := r.target
	now = now.Add(standbySettle)
	r.keep(1050, "l", now, log) // less than an eighth more: unchanged
	if r.target != target {
		t.Fatalf("a reserve grown by 5%% was resized to %d", r.target)
	}
	r.keep(2000, "l", now, log) // the count changed now
	if r.target != target {
		t.Fatalf("a reserve was resized to %d before the agents' count settled", r.target)
	}
	r.keep(2000, "l", now.Add(standbySettle), log)
	if r.target != 2000*64<<10 {
		t.Fatalf("reserve %d once 2000 agents settled, want %d", r.target, 2000*64<<10)
	}

	// An election stops a step under way; it is taken again once a
	// leader has been known for a while.
	<-r.done
	r.keep(3000, "l", now.Add(2*standbySettle), log)
	r.keep(3000, "l", now.Add(3*standbySettle), log)
	if r.done == nil {
		t.Fatal("no step for 3000 agents")
	}
	r.keep(3000, "", now.Add(3*standbySettle), log)
	if r.done != nil || r.target != 0 {
		t.Fatalf("an election left the toucher running (target %d)", r.target)
	}
	r.keep(3000, "m", now.Add(3*standbySettle), log)
	if r.done != nil {
		t.Fatal("a step began as soon as a new leader was known")
	}
	r.keep(3000, "m", now.Add(4*standbySettle), log)
	if r.done != nil {
		t.Fatal("a step began while the new leader took its agents back")
	}
	r.keep(3000, "m", now.Add(3*standbySettle+standbyAfterElection), log)
	if r.done == nil || r.target != 3000*64<<10 {
		t.Fatalf("no step once the new leader was known for a while (target %d)", r.target)
	}

	got, release := r.handOver()
	release()
	if got <= 100 || r.held || r.done != nil {
		t.Fatalf("handOver: GOGC %d, held %v; want the reserve's GOGC and nothing held", got, r.held)
	}
	if now := debug.SetGCPercent(100); now != 100 {
		t.Fatalf("after handOver GOGC is %d, want 100 back", now)
	}
	if again, release := r.handOver(); again != 0 {
		release()
		t.Fatalf("a second handOver returned GOGC %d, want 0", again)
	}
}

// No reserve is kept under a fixed memory limit, with the collector off,
// or when none is configured.
func TestStandbyReserveOff(t *testing.T) {
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)
	origLimit := debug.SetMemoryLimit(1 << 30)
	defer debug.SetMemoryLimit(origLimit)
	log := slog.New(slog.DiscardHandler)

	r := standbyReserve{perAgent: 64 << 10}
	r.keep(1000, "l", time.Now(), log)
	r.keep(1000, "l", time.Now().Add(standbyAfterElection), log)
	if r.held || !r.off {
		t.Fatalf("under a fixed limit: held %v, off %v", r.held, r.off)
	}
	debug.SetMemoryLimit(math.MaxInt64)
	debug.SetGCPercent(-1)
	r = standbyReserve{perAgent: 64 << 10}
	r.keep(1000, "l", time.Now(), log)
	r.keep(1000, "l", time.Now().Add(standbyAfterElection), log)
	if r.held || !r.off || debug.SetGCPercent(-1) != -1 {
		t.Fatalf("with the collector off: held %v, off %v", r.held, r.off)
	}
	debug.SetGCPercent(100)
	var none standbyReserve
	none.keep(1000, "l", time.Now(), log)
	none.keep(1000, "l", time.Now().Add(standbyAfterElection), log)
	if none.held || none.done != nil {
		t.Fatal("a reserve was kept with none configured")
	}
}
