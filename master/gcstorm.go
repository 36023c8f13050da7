package master

import (
	"log/slog"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"github.com/gomesos/gomesos/internal/memlimit"
)

// A newly elected master's heap grows, within seconds, from what a
// follower holds (the registry) to every agent's connection and every
// task: with 10,000 agents of 10 tasks, from about 30 MB to 400 MB live.
// At the default GOGC (100) the collector runs at every doubling, six
// times, marking the live heap each time, on the cores the re-registering
// agents need. While the agents it recovered from the registry come back,
// the master paces its collector for that growth instead, and puts the
// setting back once they are all back (or removed), after gcStormMax at
// the latest, or when it stops leading.
//
// Paced (no fixed memory limit in force: the adaptive one, `gomesos
// master`'s default, is lifted meanwhile by memlimit.Hold, or none): GOGC
// starts at Config.ReregisterGCPercent (400), and at every tick, once a
// hundredth of the agents are back, it is set so that the collector's goal
// is the heap when the storm began plus what the agents back so far
// allocated, scaled to all of them, and half again (the first ones back
// are mostly those that waited at this master while it was a follower,
// whose connections were made before the election; the later ones take
// more): the storm's first collection then comes only after the last agent
// is back, where GOGC=400 collected twice during it (the second time
// marking some 360 MB). The heap grows meanwhile to what the storm
// allocates, garbage included (the first thousand of the bench's agents
// allocated about 58 KB each on the leader; at 10,000 the heap reached
// about 700 MB with 400 MB live, where GOGC=400 peaked at 540 MB). GOGC only rises meanwhile. Should the collector run anyway
// (the agents brought more than the first ones did) and find the live heap
// grown, GOGC goes back to ReregisterGCPercent, as a goal made from the
// small live heap of the storm's start would be far too high from the
// grown one. Once the agents are back GOGC is unwound (unwind).
//
// With a fixed limit (a size given to --memory_limit, or GOMEMLIMIT)
// GOGC is only raised to ReregisterGCPercent, and the limit holds, as the
// collector keeps to it whatever GOGC says.

// gcStormMax bounds how long the raised GOGC lasts.
const gcStormMax = time.Minute

// gcStorm is the collector's raised setting, if any.
type gcStorm struct {
	raised  bool
	percent int // the raised GOGC (ReregisterGCPercent)
	prev    int // the GOGC to put back
	since   time.Time
	// release ends the lift of the adaptive memory limit, which would
	// otherwise collect at every step of the growth the raised GOGC is
	// for.
	release func()

	// paced: GOGC follows the growth (see above), now gogc.
	paced  bool
	gogc   int
	agents int    // recovered agents at the election
	heap   uint64 // the heap's objects then
	live   uint64 // the live heap the last collection had found then

	// unwinding: the agents are back, and GOGC waits for the collection
	// that began then (after unwindFrom collections) to be put back.
	unwinding  bool
	unwindFrom uint64
	unwindAt   time.Time
	// backAt is when the loop first found every agent back.
	backAt time.Time
}

// gcUnwindAfter is how long the agents are back before the collection
// that unwinds GOGC starts. It marks the whole grown heap (some 400 MB
// live at 10,000 agents), which takes a core-second and more; started at
// once, it ran on both cores while the last agents' REGISTERED went out,
// the frameworks reconciled and the first readers asked for the new
// state. A second later that wave has passed; the heap meanwhile stays
// below the goal the pacing set, made for all the agents.
const gcUnwindAfter = time.Second

// settled reports whether the agents, back now, have been back for
// gcUnwindAfter.
func (g *gcStorm) settled(now time.Time) bool {
	if g.backAt.IsZero() {
		g.backAt = now
	}
	return now.Sub(g.backAt) >= gcUnwindAfter
}

// raise raises GOGC to percent, and paces it, while agents recovered
// agents re-register; percent must be positive, and nothing changes when
// the collector is off or GOGC is at least percent.
func (g *gcStorm) raise(percent int, now time.Time, log *slog.Logger, agents int) {
	if g.raised || percent <= 0 {
		return
	}
	prev := debug.SetGCPercent(percent)
	if prev < 0 || prev >= percent {
		debug.SetGCPercent(prev) // off, or high enough already
		return
	}
	g.raised, g.percent, g.gogc, g.prev, g.since, g.agents = true, percent, percent, prev, now, agents
	g.release = memlimit.Hold()
	if limit := debug.SetMemoryLimit(-1); limit != math.MaxInt64 {
		log.Info("raising GOGC while the recovered agents re-register", "gogc", percent, "was", prev, "agents", agents,
			"memory_limit", limit)
		return
	}
	s := readGCStats()
	g.paced, g.heap, g.live = true, s.heap, s.live
	log.Info("pacing GOGC while the recovered agents re-register", "gogc", percent, "was", prev, "agents", agents,
		"heap", s.heap, "live_heap", s.live)
}

// pace sets GOGC for the growth the agents back so far (back of them)
// foretell, or puts it back at percent once a collection found the live
// heap grown. It runs on the loop, at every tick.
func (g *gcStorm) pace(back int, log *slog.Logger) {
	if !g.paced {
		return
	}
	s := readGCStats()
	if s.live > 2*g.live+(16<<20) {
		// A collection ran during the storm.
		if g.gogc != g.percent {
			debug.SetGCPercent(g.percent)
		}
		g.paced = false
		log.Info("the collector ran while the agents re-registered: GOGC back at the raised one", "gogc", g.percent,
			"paced", g.gogc, "live_heap", s.live, "agents_back", back, "agents", g.agents)
		return
	}
	if back < max(50, g.agents/100) || s.heap <= g.heap || s.live == 0 {
		return
	}
	per := float64(s.heap-g.heap) / float64(back)
	goal := float64(g.heap) + per*float64(g.agents)*1.5 + 32<<20
	gogc := int(math.Ceil((goal/float64(s.live) - 1) * 100))
	if gogc > g.gogc && gogc < 1<<20 {
		g.gogc = gogc
		debug.SetGCPercent(gogc)
		log.Debug("GOGC paced for the re-registering agents", "gogc", gogc, "agents_back", back, "agents", g.agents,
			"heap", s.heap, "heap_at_election", g.heap, "live_heap", s.live)
	}
}

// unwind begins putting GOGC back once the agents are back: when the
// heap is above the goal GOGC's setting would give, that setting would
// have the collector run at once with the program far behind it, which
// the runtime makes the program's own allocations pay for (assists); so
// GOGC is first set for a goal a quarter above the heap (or kept, if
// higher), a collection is started (on a goroutine of its own: the loop
// goes on), and GOGC is put back once it has ended (unwound).
func (g *gcStorm) unwind(now time.Time) {
	s := readGCStats()
	if g.prev <= 0 || s.live == 0 || float64(s.heap) <= float64(s.live)*(1+float64(g.prev)/100) {
		g.restore()
		return
	}
	gogc := int(math.Ceil((float64(s.heap)*1.25/float64(s.live) - 1) * 100))
	debug.SetGCPercent(max(gogc, g.gogc, g.prev))
	g.unwinding, g.unwindFrom, g.unwindAt = true, s.cycles, now
	g.release()
	go runtime.GC()
}

// unwound reports whether the collection unwind began has ended (or
// gcStormMax passed since).
func (g *gcStorm) unwound(now time.Time) bool {
	return readGCStats().cycles > g.unwindFrom || now.Sub(g.unwindAt) >= gcStormMax
}

// restore puts GOGC back.
func (g *gcStorm) restore() {
	if !g.raised {
		return
	}
	debug.SetGCPercent(g.prev)
	g.release()
	g.raised, g.paced, g.unwinding, g.release, g.backAt = false, false, false, nil, time.Time{}
}

// settleGC paces the collector while the recovered agents come back, and
// puts GOGC back once they are back (unwind), the master no longer leads,
// or gcStormMax has passed. It runs on the loop.
func (m *Master) settleGC(now time.Time) {
	g := &m.gcStorm
	switch {
	case !g.raised:
		return
	case g.unwinding && m.leads && !g.unwound(now):
		return
	case g.unwinding || !m.leads:
	case m.core.Recovered() > 0 && now.Sub(g.since) < gcStormMax:
		g.pace(g.agents-m.core.Recovered(), m.log)
		return
	case m.core.Recovered() == 0 && !g.settled(now):
		return
	default:
		g.unwind(now)
		if g.unwinding {
			m.log.Info("the agents are back: the collector runs before GOGC is put back", "after", now.Sub(g.since).String(),
				"heap", readGCStats().heap)
			return
		}
	}
	g.restore()
	m.log.Info("GOGC back after the re-registrations", "gogc", g.prev, "after", now.Sub(g.since).String())
}

// gcStats is what pacing reads of the runtime: the bytes of the heap's
// objects (live or not yet collected), the live heap the last collection
// found, and how many collections have ended.
type gcStats struct{ heap, live, cycles uint64 }

func readGCStats() gcStats {
	s := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/cycles/total:gc-cycles"},
	}
	metrics.Read(s)
	var v [3]uint64
	for i := range s {
		if s[i].Value.Kind() == metrics.KindUint64 {
			v[i] = s[i].Value.Uint64()
		}
	}
	return gcStats{heap: v[0], live: v[1], cycles: v[2]}
}
