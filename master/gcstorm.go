package master

import (
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/gomesos/gomesos/internal/memlimit"
)

// A newly elected master's heap grows, within seconds, from what a
// follower holds (the registry) to every agent's connection and every
// task: with 10,000 agents of 10 tasks, from about 30 MB to 300 MB live.
// At the default GOGC (100) the collector runs at every doubling, six
// times, marking the live heap each time, on the cores the re-registering
// agents need. While the agents it recovered from the registry come back,
// the master raises GOGC (Config.ReregisterGCPercent, 400 by default in
// `gomesos master`), so that it collects about twice instead; it puts the
// setting back once they are all back (or removed), after
// gcStormMax at the latest, or when it stops leading. The heap may grow
// further above the live one meanwhile. A fixed memory limit (a size given
// to --memory_limit, or GOMEMLIMIT) still holds, as the collector keeps to
// it whatever GOGC says; the adaptive one, `gomesos master`'s default, is
// lifted meanwhile (memlimit.Hold), since it would collect at every step of
// the very growth the raised GOGC is for.

// gcStormMax bounds how long the raised GOGC lasts.
const gcStormMax = time.Minute

// gcStorm is the collector's raised setting, if any.
type gcStorm struct {
	raised bool
	prev   int // the GOGC to put back
	since  time.Time
	// release ends the lift of the adaptive memory limit, which would
	// otherwise collect at every step of the growth the raised GOGC is
	// for.
	release func()
}

// raise sets GOGC to at least percent (a positive percent; not when the
// collector is off) while recovered agents re-register.
func (g *gcStorm) raise(percent int, now time.Time, log *slog.Logger, agents int) {
	if g.raised || percent <= 0 {
		return
	}
	prev := debug.SetGCPercent(percent)
	if prev < 0 || prev >= percent {
		debug.SetGCPercent(prev) // off, or high enough already
		return
	}
	g.raised, g.prev, g.since = true, prev, now
	g.release = memlimit.Hold()
	log.Info("raising GOGC while the recovered agents re-register", "gogc", percent, "was", prev, "agents", agents)
}

// restore puts GOGC back.
func (g *gcStorm) restore() {
	if !g.raised {
		return
	}
	debug.SetGCPercent(g.prev)
	g.release()
	g.raised, g.release = false, nil
}

// settleGC puts GOGC back once the recovered agents are back, the master
// no longer leads, or gcStormMax has passed. It runs on the loop.
func (m *Master) settleGC(now time.Time) {
	if !m.gcStorm.raised {
		return
	}
	if m.leads && m.core.Recovered() > 0 && now.Sub(m.gcStorm.since) < gcStormMax {
		return
	}
	m.gcStorm.restore()
	m.log.Info("GOGC back after the re-registrations", "gogc", m.gcStorm.prev, "after", now.Sub(m.gcStorm.since).String())
}
