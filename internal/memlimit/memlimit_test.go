package memlimit

import (
	"context"
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestLimit(t *testing.T) {
	a := Adaptive{Ratio: 1.5, Floor: 64 << 20}
	for _, c := range []struct {
		peak uint64
		want int64
	}{
		{0, 64 << 20},
		{10 << 20, 74 << 20},   // small: the floor's headroom
		{128 << 20, 192 << 20}, // where the two meet
		{400 << 20, 600 << 20}, // large: the ratio
		{math.MaxUint64, math.MaxInt64},
	} {
		if got := a.Limit(c.peak); got != c.want {
			t.Errorf("Limit(%d) = %d, want %d", c.peak, got, c.want)
		}
	}
}

func TestString(t *testing.T) {
	if got, want := Default.String(), "adaptive (1.6 x the peak live heap, at least 64 MiB over it)"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// Run sets the limit from the live heap's peak, raises it as the peak
// grows, and puts back the limit it found when its context ends.
func TestRunFollowsThePeakLiveHeap(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(before)
	a := Adaptive{Ratio: 2, Floor: 1 << 20, Every: time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		a.Run(ctx)
		close(done)
	}()
	waitLimit := func(atLeast int64) int64 {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			runtime.GC()
			if l := debug.SetMemoryLimit(-1); l >= atLeast && l != math.MaxInt64 {
				return l
			}
			if time.Now().After(deadline) {
				t.Fatalf("the limit is %d after 10s, want at least %d", debug.SetMemoryLimit(-1), atLeast)
			}
			time.Sleep(time.Millisecond)
		}
	}
	first := waitLimit(1)
	// 64 MiB more live: the limit follows, twice the new peak at least.
	held := make([]byte, 64<<20)
	for i := range held {
		held[i] = 1
	}
	second := waitLimit(2 * int64(len(held)))
	if second <= first {
		t.Errorf("the limit went from %d to %d with 64 MiB more live", first, second)
	}
	runtime.KeepAlive(held)
	cancel()
	<-done
	if l := debug.SetMemoryLimit(-1); l != before {
		t.Errorf("the limit is %d after Run ended, want %d as before", l, before)
	}
}

// Hold lifts a running Adaptive's limit until it is released, and leaves
// a limit alone when no Adaptive runs.
func TestHoldLiftsTheAdaptiveLimitOnly(t *testing.T) {
	before := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(before)

	debug.SetMemoryLimit(1 << 40)
	release := Hold()
	if got := debug.SetMemoryLimit(-1); got != 1<<40 {
		t.Fatalf("with no Adaptive running, Hold changed the limit to %d", got)
	}
	release()

	a := Adaptive{Ratio: 2, Floor: 1 << 20, Every: time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		a.Run(ctx)
		close(done)
	}()
	defer func() { cancel(); <-done }()
	waitFor := func(what string, ok func(int64) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !ok(debug.SetMemoryLimit(-1)) {
			if time.Now().After(deadline) {
				t.Fatalf("the limit is %d after 10s, want %s", debug.SetMemoryLimit(-1), what)
			}
			time.Sleep(time.Millisecond)
		}
	}
	finite := func(l int64) bool { return l != math.MaxInt64 && l != 1<<40 }
	waitFor("the adaptive one", finite)

	release = Hold()
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Fatalf("Hold left the limit at %d, want none", got)
	}
	// The Adaptive's ticks (every millisecond) keep it lifted, and leave
	// alone a limit the holder sets.
	for end := time.Now().Add(30 * time.Millisecond); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
			t.Fatalf("the limit came back to %d while held", got)
		}
	}
	debug.SetMemoryLimit(1 << 41)
	for end := time.Now().Add(30 * time.Millisecond); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if got := debug.SetMemoryLimit(-1); got != 1<<41 {
			t.Fatalf("the holder's limit became %d while held", got)
		}
	}
	debug.SetMemoryLimit(math.MaxInt64)
	release()
	release() // twice is harmless
	// The limit comes back only once a collection has ended since the
	// release (no collection runs here unless the test asks for one).
	for end := time.Now().Add(30 * time.Millisecond); time.Now().Before(end); time.Sleep(time.Millisecond) {
		if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 && gcCycles() <= releasedAtNow() {
			t.Fatalf("the limit came back to %d before a collection", got)
		}
	}
	runtime.GC()
	waitFor("the adaptive one back after the release and a collection", finite)
	mu.Lock()
	n := holds
	mu.Unlock()
	if n != 0 {
		t.Fatalf("holds = %d after the release, want 0", n)
	}
}

func releasedAtNow() uint64 {
	mu.Lock()
	defer mu.Unlock()
	return releasedAt
}
