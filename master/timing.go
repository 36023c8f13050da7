package master

import (
	"slices"
	"sync"
	"time"

	"github.com/gomesos/gomesos/master/allocator"
)

// timedAllocator measures every allocation pass with the wall clock, which
// the core may not read. It is the source of the
// allocator/mesos/allocation_run_ms metrics.
type timedAllocator struct {
	allocator.Allocator
	runs *runWindow
}

func (t timedAllocator) Allocate(now time.Time) []allocator.Allocation {
	start := time.Now()
	allocs := t.Allocator.Allocate(now)
	t.runs.add(time.Since(start))
	return allocs
}

// runWindow keeps the most recent allocation run durations, as Mesos's
// timer metrics keep a window of samples for their percentiles.
type runWindow struct {
	mu  sync.Mutex
	ms  []float64 // newest last
	max int
	// observe, when set, is also given every duration, in seconds (the
	// Prometheus histograms).
	observe func(seconds float64)
}

func (w *runWindow) add(d time.Duration) {
	if w.observe != nil {
		w.observe(d.Seconds())
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ms = append(w.ms, float64(d.Nanoseconds())/1e6)
	if n := len(w.ms) - w.max; n > 0 {
		w.ms = append(w.ms[:0:0], w.ms[n:]...)
	}
}

// put adds the timer metrics called name (allocator/mesos/allocation_run_ms,
// registrar/state_store_ms): the last value, count, min, max and
// percentiles, named as Mesos names them.
func (w *runWindow) put(out map[string]float64, name string) {
	w.mu.Lock()
	runs := slices.Clone(w.ms)
	last := 0.0
	if len(w.ms) > 0 {
		last = w.ms[len(w.ms)-1]
	}
	w.mu.Unlock()
	out[name+"/count"] = float64(len(runs))
	if len(runs) == 0 {
		return
	}
	slices.Sort(runs)
	q := func(p float64) float64 { return runs[min(len(runs)-1, int(p*float64(len(runs))))] }
	out[name] = last
	out[name+"/min"] = runs[0]
	out[name+"/max"] = runs[len(runs)-1]
	out[name+"/p50"] = q(0.5)
	out[name+"/p90"] = q(0.9)
	out[name+"/p95"] = q(0.95)
	out[name+"/p99"] = q(0.99)
	out[name+"/p999"] = q(0.999)
	out[name+"/p9999"] = q(0.9999)
}
