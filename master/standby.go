package master

import (
	"log/slog"
	"math"
	"runtime"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/gomesos/gomesos/internal/memlimit"
)

// A master elected after a failover grows its heap within seconds from the
// registry to every agent's connection and task (at 10,000 agents of 10
// tasks, some 700 MB it had never touched). The first touch of each page
// is a page fault, and on a virtual machine that shadows page tables a
// fault is dear: in `gomesos bench failover` they took more than half of
// the new leader's CPU. A follower's memory is otherwise idle, so it keeps
// a standby reserve: heap pages it has touched and freed, which its
// allocator hands out again before asking the system for more, sized at
// Config.StandbyHeapPerAgent for every agent the registry admits.
//
// The runtime keeps free pages (rather than returning them to the system)
// as long as the collector's goal covers them, so the reserve is GOGC set
// for a goal of the live heap plus the reserve, and pages touched once up
// to it: a goroutine allocates chunks up to the reserve, writing a byte in
// each page, drops them and collects. The follower's own garbage then fills
// the same pages between collections. The adaptive memory limit is lifted
// meanwhile (memlimit.Hold), as it would return the pages; under a fixed
// limit (--memory_limit=SIZE, GOMEMLIMIT) or with the collector off no
// reserve is kept. The reserve grows with the registry, in steps of an
// eighth, once the count of agents has settled, and stops while no leader
// is known (an election needs the cores), and for standbyAfterElection
// after a leader is known (the agents come back to it). On election it is handed
// over: a collection frees the garbage the follower left in it, GOGC goes
// back to what it was, and the storm's pacing (gcstorm.go) starts from the
// reserve's GOGC, so that the collector's goal never falls below the pages
// kept.

// standbyMinReserve is the least reserve worth keeping.
const standbyMinReserve = 16 << 20

// standbyChunk is what the toucher allocates at a time.
const standbyChunk = 1 << 20

// standbySettle is how long the registry's agents must stay as many, and
// the leader the same, before the reserve grows.
const standbySettle = 2 * time.Second

// standbyAfterElection is how long the reserve waits after the leader
// changed (or was first known) before it grows: a new leader then takes
// back or registers every agent, and needs the machine's cores for a
// while longer than the agents' count takes to settle.
const standbyAfterElection = 15 * time.Second

// handOverGCPercent is GOGC for the collection that hands the reserve
// over (see handOver).
const handOverGCPercent = 10

// standbyBurst is how many chunks the toucher touches between pauses.
const standbyBurst = 16

// standbyPage is the stride of the toucher's writes (the smallest page).
const standbyPage = 4 << 10

// standbyReserve is a follower's reserve, owned by the loop.
type standbyReserve struct {
	perAgent int64 // Config.StandbyHeapPerAgent
	held     bool
	off      bool          // not kept in this process (logged once)
	prev     int           // GOGC before the reserve
	gogc     int           // GOGC for the reserve
	target   int64         // the reserve's size
	agents   int           // the admitted agents at the last tick
	leader   string        // the leader known then ("" in an election)
	changed  time.Time     // when either last changed
	elected  time.Time     // when the leader last changed to a known one
	release  func()        // ends the adaptive limit's lift
	stop     chan struct{} // closed to stop the toucher
	done     chan struct{} // closed when the toucher ends; nil before one ran
	// ready is the reserve touched in full (bytes), 0 while none is or a
	// step is under way: master/standby_reserve_bytes.
	ready atomic.Int64
}

// keep sizes the reserve for agents admitted agents, and starts touching
// it when it grew, while the follower knows a leader. It runs on the
// loop, on a follower's tick.
func (r *standbyReserve) keep(agents int, leader string, now time.Time, log *slog.Logger) {
	if r.perAgent <= 0 || r.off {
		return
	}
	if leader != r.leader && leader != "" {
		r.elected = now
	}
	if agents != r.agents || leader != r.leader {
		r.agents, r.leader, r.changed = agents, leader, now
	}
	if leader == "" {
		// An election: this master may lead in a moment, or its peer
		// will and need the cores; the step is taken again once a
		// leader has been known for standbySettle.
		if r.stopToucher() {
			r.target = 0
		}
		return
	}
	target := int64(agents) * r.perAgent
	if target < standbyMinReserve || (r.held && target < r.target+max(standbyMinReserve, r.target/8)) {
		return
	}
	// Every step touches the whole reserve again (the pages it had are
	// handed out first), and while agents register by the thousand the
	// leader needs the machine's cores (on a shared one, and the
	// follower's Raft its own): it steps once their count has settled.
	if now.Sub(r.changed) < standbySettle || now.Sub(r.elected) < standbyAfterElection {
		return
	}
	if r.done != nil {
		select {
		case <-r.done:
		default:
			return // the toucher is still at the last step
		}
	}
	if !r.held {
		release := memlimit.Hold()
		if limit := debug.SetMemoryLimit(-1); limit != math.MaxInt64 {
			release()
			r.off = true
			log.Info("no standby reserve under a fixed memory limit", "memory_limit", limit)
			return
		}
		prev := debug.SetGCPercent(100)
		debug.SetGCPercent(prev)
		if prev < 0 {
			release()
			r.off = true
			log.Info("no standby reserve with the garbage collector off")
			return
		}
		r.held, r.prev, r.release = true, prev, release
	}
	s := readGCStats()
	live := max(s.live, 64<<10)
	// The follower's own collections start between 70 and 95 % of the
	// way to their goal, which is set a quarter above the reserve, so
	// that its garbage fills about the reserve between them, and the
	// runtime keeps as many pages as it had in use at the last one.
	gogc := max(r.prev, int(min(math.Ceil(float64(target)*1.25*100/float64(live)), 1<<24)))
	debug.SetGCPercent(gogc)
	r.gogc, r.target = gogc, target
	stop, done := make(chan struct{}), make(chan struct{})
	r.stop, r.done = stop, done
	log.Info("keeping a standby reserve of heap for a takeover", "agents", agents, "reserve", target, "gogc", gogc,
		"live_heap", s.live)
	r.ready.Store(0)
	go func() {
		defer close(done)
		if touchReserve(target, stop) {
			r.ready.Store(target)
		}
	}()
}

// touchReserve allocates size bytes in chunks, held together (so that
// they take the free pages already touched and touch new ones for the
// rest), writing a byte in each page; then it drops them and collects,
// which frees them. It returns within a chunk once stop is closed, and
// reports whether it touched the whole size. It takes a quarter of a core at most: after every
// standbyBurst chunks it sleeps three times as long as they took, lest a
// follower busy touching pages starve its own Raft heartbeats, or the
// leader's on the same machine.
func touchReserve(size int64, stop <-chan struct{}) (touched bool) {
	chunks := make([][]byte, 0, size/standbyChunk+1)
	burst := time.Now()
	for n := int64(0); n < size; n += standbyChunk {
		select {
		case <-stop:
			return false
		default:
		}
		c := make([]byte, standbyChunk)
		for i := 0; i < len(c); i += standbyPage {
			c[i] = 1
		}
		chunks = append(chunks, c)
		if len(chunks)%standbyBurst != 0 {
			continue
		}
		pause := time.NewTimer(3 * time.Since(burst))
		select {
		case <-stop:
			pause.Stop()
			return false
		case <-pause.C:
		}
		burst = time.Now()
	}
	clear(chunks)
	runtime.GC()
	return true
}

// stopToucher stops the toucher, if one runs, and waits for it (a chunk
// at most); it reports whether one ran.
func (r *standbyReserve) stopToucher() bool {
	if r.done == nil {
		return false
	}
	select {
	case <-r.done:
		r.stop, r.done = nil, nil
		return false
	default:
	}
	close(r.stop)
	<-r.done
	r.stop, r.done = nil, nil
	r.ready.Store(0)
	return true
}

// handOver ends the reserve on election: the toucher stops, GOGC goes back
// to what it was, and the reserve's GOGC is returned (0 when none was
// kept), for the storm's pacing to start from, with release, which ends
// the adaptive limit's lift once the caller has taken its own. It runs on
// the loop.
func (r *standbyReserve) handOver() (gogc int, release func()) {
	r.stopToucher()
	r.ready.Store(0)
	if !r.held {
		return 0, func() {}
	}
	// Between collections the reserve fills with the follower's own
	// garbage; a collection now frees it for the agents. It runs with a
	// goal just above the live heap, and on the loop, before the storm's
	// GOGC (gcstorm.go) is set: the runtime's scavenger keeps about the
	// heap in use at the last collection, scaled by how much the goal
	// grew since, and returns the rest. Run at the reserve's goal from a
	// heap in use anywhere between the live heap and the reserve (wherever
	// the follower was between its collections), it had the scavenger
	// return up to 400 MiB of the reserve during the storm, which the
	// agents then faulted in again (a new leader's CPU from 2.3 to 4.8 s).
	// From this low goal to the storm's, the ratio covers the reserve.
	debug.SetGCPercent(handOverGCPercent)
	runtime.GC()
	debug.SetGCPercent(r.prev)
	gogc, release = r.gogc, r.release
	r.held, r.gogc, r.target, r.release = false, 0, 0, nil
	return gogc, release
}

// keepStandby keeps the follower's reserve sized for the registry's
// agents. It runs on the loop, on a follower's tick.
func (m *Master) keepStandby() {
	c, ok := m.store.(interface{ AdmittedAgents() int })
	if !ok || m.standby.perAgent <= 0 {
		return
	}
	m.standby.keep(c.AdmittedAgents(), m.store.Leader(), time.Now(), m.log)
}
