// Package memlimit keeps a process's soft memory limit (Go's
// runtime/debug.SetMemoryLimit) in proportion to the most heap its garbage
// collector has found live.
//
// With Go's default GOGC=100 the heap grows to twice what the last
// collection found live before the next one starts: a master holding
// 250 MiB of tasks and agents then takes 500 MiB and more. A fixed limit
// needs the operator to know the master's size in advance; a limit that
// follows the live heap does not. Adaptive sets the limit at Ratio times
// the most heap found live so far (and at least Floor above it), checked
// every Every: while the live heap is well below its peak, GOGC's own
// goal is the lower one and nothing changes; as it nears its peak, the
// collector runs earlier and the scavenger returns the heap's free pages,
// so the process's memory stays near Ratio times its largest live heap
// instead of twice it. The limit only ever rises, with the live heap's
// peak. The limit counts all of the runtime's memory (free space in the
// heap's spans, metadata), not the heap's objects alone, so at 1.6 the
// heap's objects get about a third over the live ones: on the master of
// `gomesos bench launch` (about 210 MiB live) it costs a few to 30 % more
// CPU than GOGC=100 alone (more the busier the machine), for a third less
// memory (see the README).
package memlimit

import (
	"context"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// holds counts the Holds not yet released in this process; mu orders
// Hold and its release with an Adaptive's updates, so that neither sets
// the limit over the other.
var (
	mu    sync.Mutex
	holds int
	// releasedAt is the collector's cycle count at the last release: the
	// limit comes back only once a collection has ended since (below).
	releasedAt uint64
	released   bool
)

// adaptive says whether an Adaptive runs in this process.
var adaptive atomic.Bool

// Hold lifts the adaptive limit until release is called (more than once
// is harmless): the collector then paces by GOGC alone, or by a limit the
// holder sets itself, which an Adaptive leaves alone while held. A master
// takes it while the agents it recovered re-register after its election, a
// growth of its live heap that the limit would otherwise meet with a
// collection at every step. A fixed limit (a size, GOMEMLIMIT) is not
// lifted, and neither is anything when no Adaptive runs.
//
// After the last release the Adaptive puts its limit back only once a
// collection has ended: until then the peak it knows is the live heap
// found before the hold, and a limit made from it would have the
// collector run again at once, one collection after another, as it found
// the live heap grown.
func Hold() (release func()) {
	mu.Lock()
	holds++
	if adaptive.Load() {
		debug.SetMemoryLimit(math.MaxInt64)
	}
	mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			mu.Lock()
			defer mu.Unlock()
			holds--
			if holds == 0 && adaptive.Load() {
				releasedAt, released = gcCycles(), true
			}
		})
	}
}

// releaseDecay is about how long the limit takes to come down to the
// rule's after a Hold is released (from the memory the process held).
const releaseDecay = 10 * time.Second

// memoryUsed is the memory a limit counts: all the runtime has mapped,
// less what it returned to the system.
func memoryUsed() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 || s[1].Value.Kind() != metrics.KindUint64 || s[1].Value.Uint64() > s[0].Value.Uint64() {
		return 0
	}
	return s[0].Value.Uint64() - s[1].Value.Uint64()
}

// gcCycles is how many collections the process has completed.
func gcCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// Adaptive is the limit's rule.
type Adaptive struct {
	// Ratio is the limit over the peak live heap (1.6).
	Ratio float64
	// Floor is the least headroom over the peak live heap (64 MiB): a
	// small process keeps GOGC's behaviour.
	Floor int64
	// Every is how often the live heap is read (50ms).
	Every time.Duration
}

// Default is the rule the master runs with unless told otherwise
// (`gomesos master --memory_limit`).
var Default = Adaptive{Ratio: 1.6, Floor: 64 << 20, Every: 50 * time.Millisecond}

// Limit is the limit for a peak live heap of peak bytes.
func (a Adaptive) Limit(peak uint64) int64 {
	p := float64(peak)
	l := max(p*a.Ratio, p+float64(a.Floor))
	if l >= math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(l)
}

// String describes the rule, for logs and the benchmarks' first lines.
func (a Adaptive) String() string {
	return "adaptive (" + formatRatio(a.Ratio) + " x the peak live heap, at least " + formatMiB(a.Floor) + " over it)"
}

// Run keeps the limit until ctx is done, then puts back the limit it
// found. It sets the limit at once (to Floor while nothing was found live
// yet).
func (a Adaptive) Run(ctx context.Context) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	adaptive.Store(true)
	defer adaptive.Store(false)
	if a.Every <= 0 {
		a.Every = Default.Every
	}
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var peak uint64
	set := int64(-1)
	// floor, after a Hold, is where the limit comes down from.
	var floor int64
	update := func() {
		mu.Lock()
		defer mu.Unlock()
		if holds > 0 {
			// Hold lifted the limit; the holder may have set its own.
			set = -1
			return
		}
		if released {
			if gcCycles() <= releasedAt {
				return // the limit stays lifted (Hold)
			}
			released = false
			// The memory the process holds now, garbage found but not
			// yet returned included: the limit comes down from there.
			floor = int64(float64(memoryUsed()) * 1.05)
		}
		metrics.Read(live)
		if live[0].Value.Kind() == metrics.KindUint64 {
			peak = max(peak, live[0].Value.Uint64())
		}
		l := a.Limit(peak)
		if floor > l {
			// Down to the rule's limit over releaseDecay, not at once: a
			// limit below what the process holds has the collector run
			// again and again, each finding little, until the scavenger
			// has returned the difference.
			l = floor
			floor -= max((floor-a.Limit(peak))*int64(a.Every)/int64(releaseDecay), 1<<20)
		}
		if l != set {
			debug.SetMemoryLimit(l)
			set = l
		}
	}
	update()
	t := time.NewTicker(a.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			update()
		}
	}
}

func formatRatio(r float64) string { return strconv.FormatFloat(r, 'g', 4, 64) }

func formatMiB(b int64) string {
	return strconv.FormatFloat(float64(b)/(1<<20), 'g', 6, 64) + " MiB"
}
