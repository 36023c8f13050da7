package master

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/internal/cputime"
	"github.com/gomesos/gomesos/master/core"
	"github.com/gomesos/gomesos/registry"
	"github.com/gomesos/gomesos/resources"
)

// BenchFailoverOptions shapes BenchFailover (`gomesos bench failover`).
type BenchFailoverOptions struct {
	Agents        int // simulated agents (1000)
	TasksPerAgent int // tasks running on each agent (10)
	// HeartbeatTimeout, ElectionTimeout and LeaderLeaseTimeout are the
	// masters' Raft timeouts (the registry's defaults).
	HeartbeatTimeout, ElectionTimeout, LeaderLeaseTimeout time.Duration
	// RetryMin and RetryMax shape how an agent or the framework looks for
	// the leader once its stream ended: it waits a random delay below a
	// bound that starts at RetryMin and, after every round that found no
	// leader, doubles up to RetryMax (50ms, 500ms).
	RetryMin, RetryMax time.Duration
	// Timeout bounds the setup, and the failover (2m each).
	Timeout time.Duration
	// MasterCommand, when set, runs each master as its own process, as
	// a cluster runs three `gomesos master` processes: it returns the
	// command that runs `gomesos master` with args (the bench adds the
	// command's environment; its output is read by the bench), and the
	// leader is killed with SIGKILL. When nil, the masters run in this
	// process, sharing its heap and garbage collector with the simulated
	// agents, and the leader's kill is simulated.
	MasterCommand func(args []string) *exec.Cmd
	// InMemory has the agents and the framework connect to the masters'
	// HTTP handlers over in-memory connections (net.Pipe) rather than
	// TCP. It is chosen anyway when the process may not open two sockets
	// per agent.
	InMemory bool
	// Dir is where the masters' registries go, in a temporary directory
	// removed at the end (default: the system's temporary directory).
	Dir string
	// Logger is the masters' logger (nothing is logged when nil).
	Logger *slog.Logger
	// FailoverProfile, when set, receives a CPU profile (pprof) of the
	// process from the kill until the failover is measured.
	FailoverProfile io.Writer
	// MemProfile, when set, names where the heap profile (pprof) is
	// written at the end of the failover; it is written at the kill too,
	// to MemProfile+".base", so that `go tool pprof -base` shows what the
	// failover allocated.
	MemProfile string
}

func (o *BenchFailoverOptions) setDefaults() {
	if o.Agents <= 0 {
		o.Agents = 1000
	}
	if o.TasksPerAgent <= 0 {
		o.TasksPerAgent = 10
	}
	if o.HeartbeatTimeout <= 0 {
		o.HeartbeatTimeout = registry.DefaultHeartbeatTimeout
	}
	if o.ElectionTimeout <= 0 {
		o.ElectionTimeout = registry.DefaultElectionTimeout
	}
	if o.LeaderLeaseTimeout <= 0 {
		o.LeaderLeaseTimeout = registry.DefaultLeaderLeaseTimeout
	}
	if o.RetryMin <= 0 {
		o.RetryMin = 50 * time.Millisecond
	}
	if o.RetryMax < o.RetryMin {
		o.RetryMax = max(o.RetryMin, 500*time.Millisecond)
	}
	if o.Timeout <= 0 {
		o.Timeout = 2 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

// BenchFailoverResult is what BenchFailover measured.
type BenchFailoverResult struct {
	Agents, Tasks int
	// Registered is how long the agents took to register, Launched how
	// long the tasks then took to run (their RUNNING acknowledged).
	Registered, Launched time.Duration
	// OldLeader is the master killed, NewLeader the one elected after.
	OldLeader, NewLeader string
	// From the kill: a new leader has recovered the registry (Elected),
	// it has every agent re-registered (Reregistered), the framework
	// receives offers from it (Offers).
	Elected, Reregistered, Offers time.Duration
}

// BenchFailover measures a master failover (for `gomesos bench failover`)
// and writes progress and a summary to w. Three masters run on loopback
// ports, each with a Raft-replicated registry in a temporary directory,
// each in its own process (opts.MasterCommand) or all in this one.
// opts.Agents simulated agents register over the real agent protocol, and
// one framework, subscribed over the scheduler API, runs
// opts.TasksPerAgent tasks on each. Then the leader is killed: with
// SIGKILL, or, in this process, its HTTP server closes with every
// connection on it, its Raft shuts down without handing the leadership
// over, and its loop stops. The agents and the
// framework find the new leader through the list of masters, as their
// streams ended, and BenchFailover measures from the kill until a new
// leader has recovered, until it has every agent re-registered, and until
// the framework receives offers from it.
//
// Should the leadership move before the kill (Raft's timeouts short for
// how busy the machine is), the run starts over, up to three times.
func BenchFailover(ctx context.Context, opts BenchFailoverOptions, w io.Writer) (BenchFailoverResult, error) {
	opts.setDefaults()
	for attempt := 1; ; attempt++ {
		res, err := benchFailover(ctx, opts, w)
		if !errors.Is(err, errStreamEnded) || attempt == 3 || ctx.Err() != nil {
			return res, err
		}
		fmt.Fprintf(w, "failover: %v; starting over\n", err)
	}
}

// errStreamEnded is a stream ending before the kill: the leadership moved.
var errStreamEnded = errors.New("the stream ended before the kill: the leadership moved (Raft's timeouts may be short for how busy the machine is)")

func benchFailover(ctx context.Context, opts BenchFailoverOptions, w io.Writer) (BenchFailoverResult, error) {
	res := BenchFailoverResult{Agents: opts.Agents, Tasks: opts.Agents * opts.TasksPerAgent}
	procs := opts.MasterCommand != nil
	if procs && opts.InMemory {
		return res, errors.New("bench failover: in-memory connections need the masters in this process (no MasterCommand)")
	}
	// Over TCP, every agent's stream takes two sockets in this process,
	// one when the masters run in their own processes, and another while
	// the failover is measured (the dead stream's, closed after it:
	// closeLater), as far as the limit allows.
	need := uint64(2*opts.Agents + 1024)
	limit, limitErr := raiseOpenFiles(need)
	if procs && limitErr != nil {
		limit, limitErr = raiseOpenFiles(uint64(opts.Agents + 1024))
	}
	if procs && limitErr != nil {
		return res, fmt.Errorf("bench failover: %w: the agents need a socket each", limitErr)
	}
	deferClose := 0
	if procs {
		deferClose = max(0, int(limit)-opts.Agents-1024)
	}
	inMemory := opts.InMemory || limitErr != nil
	dir, err := os.MkdirTemp(opts.Dir, "gomesos-bench-failover-")
	if err != nil {
		return res, fmt.Errorf("bench failover: %w", err)
	}
	defer os.RemoveAll(dir)

	if procs {
		// gomesos master takes one Raft timeout for the three.
		opts.ElectionTimeout, opts.LeaderLeaseTimeout = opts.HeartbeatTimeout, opts.HeartbeatTimeout
	}
	b := newFailoverBench(opts, inMemory, procs)
	b.procs = procs
	b.deferClose = deferClose
	defer b.transport.CloseIdleConnections()
	if err := b.startMasters(ctx, dir); err != nil {
		return res, err
	}
	defer b.stopMasters()
	switch {
	case limitErr != nil:
		fmt.Fprintf(w, "failover: %v; the agents and the framework connect to the masters' HTTP handlers over in-memory connections instead of TCP\n", limitErr)
	case inMemory:
		fmt.Fprintln(w, "failover: the agents and the framework connect to the masters' HTTP handlers over in-memory connections")
	}
	where := "in this process"
	if procs {
		where = "in their own processes (pids " + b.pids() + ")"
	}
	fmt.Fprintf(w, "failover: 3 masters %s %s (raft heartbeat %v, election %v, leader lease %v); %d agents, %d tasks each; "+
		"agents and framework retry after %v doubling to %v, at most %d subscriptions in flight; open files %d\n",
		strings.Join(b.addrs, " "), where, opts.HeartbeatTimeout, opts.ElectionTimeout, opts.LeaderLeaseTimeout, opts.Agents, opts.TasksPerAgent,
		opts.RetryMin, opts.RetryMax, cap(b.attempts), limit)

	simCtx, stopSim := context.WithCancel(ctx)
	defer func() {
		stopSim()
		b.wg.Wait()
	}()
	b.stopSim = stopSim
	setupCtx, cancel := context.WithTimeout(simCtx, opts.Timeout)
	defer cancel()
	leader, err := b.waitLeader(setupCtx, b.masters)
	if err != nil {
		return res, fmt.Errorf("bench failover: electing the first leader: %w", err)
	}
	res.OldLeader = b.masters[leader].Advertise()
	fmt.Fprintf(w, "failover: %s leads\n", res.OldLeader)

	for range postWorkers {
		b.wg.Add(1)
		go b.poster(simCtx, b.posts)
	}
	for range pongWorkers {
		b.wg.Add(1)
		go b.poster(simCtx, b.pongs)
	}
	start := time.Now()
	for i := range b.agents {
		b.wg.Add(1)
		go b.agents[i].run(simCtx)
	}
	if err := b.waitUntil(setupCtx, func() bool { return b.registered.Load() == int64(opts.Agents) }); err != nil {
		return res, fmt.Errorf("bench failover: %d of %d agents registered: %w", b.registered.Load(), opts.Agents, err)
	}
	res.Registered = time.Since(start)
	fmt.Fprintf(w, "failover: %d agents registered in %.3fs\n", opts.Agents, res.Registered.Seconds())

	start = time.Now()
	b.wg.Add(1)
	go b.fw.run(simCtx)
	if err := b.waitUntil(setupCtx, func() bool { return b.acked.Load() == int64(res.Tasks) }); err != nil {
		return res, fmt.Errorf("bench failover: %d of %d tasks running: %w", b.acked.Load(), res.Tasks, err)
	}
	res.Launched = time.Since(start)
	m, err := b.masters[leader].figures(setupCtx)
	if err != nil {
		return res, fmt.Errorf("bench failover: before the kill: %w", err)
	}
	if got := int(m["master/tasks_running"]); got != res.Tasks || int(m["master/slaves_active"]) != opts.Agents {
		return res, fmt.Errorf("bench failover: before the kill the leader has %v active agents and %d running tasks; want %d and %d",
			m["master/slaves_active"], got, opts.Agents, res.Tasks)
	}
	fmt.Fprintf(w, "failover: %d tasks running in %.3fs; %s\n", res.Tasks, res.Launched.Seconds(), loopTimes(m))
	if b.procs {
		b.awaitStandby(setupCtx, leader, w)
	}

	if err := b.failover(simCtx, leader, &res, w); err != nil {
		return res, err
	}
	_, err = fmt.Fprintf(w, "failover agents=%d elected=%.3fs reregistered=%.3fs offers=%.3fs\n",
		opts.Agents, res.Elected.Seconds(), res.Reregistered.Seconds(), res.Offers.Seconds())
	return res, err
}

// closeLater closes the connection of a stream that ended, after the
// failover is measured if it is being measured (as many as the open
// files limit allows: deferClose). Closing a socket the
// dead leader's end reset touches nothing but the agent's own machine, and
// 10,000 of them took a tenth of the bench's CPU, on the cores the
// masters need.
func (b *failoverBench) closeLater(c io.Closer) {
	b.deadMu.Lock()
	if b.measuring.Load() && len(b.dead) < b.deferClose {
		b.dead = append(b.dead, c)
		b.deadMu.Unlock()
		return
	}
	b.deadMu.Unlock()
	c.Close()
}

// closeDead ends the measurement's deferral of closeLater, and closes
// what it deferred.
func (b *failoverBench) closeDead() {
	b.deadMu.Lock()
	b.measuring.Store(false)
	dead := b.dead
	b.dead = nil
	b.deadMu.Unlock()
	for _, c := range dead {
		c.Close()
	}
}

// standbyWait bounds how long the bench waits for the followers' standby
// reserves before the kill.
const standbyWait = 2 * time.Minute

// awaitStandby waits, before the kill, until every follower keeps its
// standby reserve in full (master/standby_reserve_bytes), as the followers
// of a cluster that has run for a while do: they touch it slowly, lest
// they take the cores the leader needs, and start only once the agents'
// count and the leader have settled. After standbyWait (no reserve kept:
// --standby_heap_per_agent=0B, a fixed memory limit) it goes on.
func (b *failoverBench) awaitStandby(ctx context.Context, leader int, w io.Writer) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, standbyWait)
	defer cancel()
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		ready := true
		for i, m := range b.masters {
			if i == leader {
				continue
			}
			if f, err := m.figures(ctx); err != nil || f["master/standby_reserve_bytes"] <= 0 {
				ready = false
				break
			}
		}
		if ready {
			fmt.Fprintf(w, "failover: the followers keep their standby reserves after %.1fs more\n", time.Since(start).Seconds())
			return
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			fmt.Fprintf(w, "failover: the followers keep no full standby reserve after %s; killing the leader all the same\n", standbyWait)
			return
		}
	}
}

// failover kills the leader and measures until the new one has every
// agent back and offers flowing.
func (b *failoverBench) failover(ctx context.Context, leader int, res *BenchFailoverResult, w io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, b.opts.Timeout)
	defer cancel()
	var survivors []benchMaster
	for i, m := range b.masters {
		if i != leader {
			survivors = append(survivors, m)
		}
	}
	fmt.Fprintf(w, "failover: killing %s: %s\n", res.OldLeader, b.masters[leader].killing())
	if b.opts.FailoverProfile != nil {
		if err := pprof.StartCPUProfile(b.opts.FailoverProfile); err != nil {
			return fmt.Errorf("bench failover: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if b.opts.MemProfile != "" {
		if err := writeHeapProfile(b.opts.MemProfile + ".base"); err != nil {
			return fmt.Errorf("bench failover: %w", err)
		}
		defer func() {
			if err := writeHeapProfile(b.opts.MemProfile); err != nil {
				fmt.Fprintf(w, "failover: %v\n", err)
			}
		}()
	}
	if b.procs {
		var reserves []string
		for _, m := range survivors {
			if f, err := m.figures(ctx); err == nil {
				reserves = append(reserves, fmt.Sprintf("%s %.0f MiB", m.Advertise(), f["master/standby_reserve_bytes"]/(1<<20)))
			}
		}
		fmt.Fprintf(w, "failover: the followers' standby reserves at the kill: %s\n", strings.Join(reserves, ", "))
	}
	used0 := make([]masterUsage, len(survivors))
	for i, m := range survivors {
		used0[i], _ = m.usage()
	}
	if b.procs {
		// The simulated agents stand for ten thousand machines of their
		// own: their garbage must not take the cores the new leader
		// needs. This process collects now, then not until the end
		// (unless its heap grows by 4 GiB), as its collector marks every
		// agent's state. With the masters in this process the collector
		// is theirs too, and left alone.
		runtime.GC()
		defer debug.SetGCPercent(debug.SetGCPercent(-1))
		defer debug.SetMemoryLimit(debug.SetMemoryLimit(int64(heapInUse()) + 4<<30))
	}
	if b.deferClose > 0 {
		b.measuring.Store(true)
		defer b.closeDead()
	}
	cpu0, gc0, heap0 := cputime.Process(), gcCPU(), heapCounts()
	t0 := time.Now()
	b.killedAt.Store(t0.UnixNano())
	b.masters[leader].kill()
	if b.procs {
		// A process with a large heap and thousands of connections
		// takes a while to die: its memory goes before its
		// connections end, and its followers can tell it gone only
		// then (registry/hurry.go).
		fmt.Fprintf(w, "failover: the killed master's process was reaped %.3fs after the SIGKILL\n", time.Since(t0).Seconds())
	}

	// leading is the survivor leading now: should the leadership move
	// again, the agents follow it there, and so does the count.
	var leading benchMaster
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	nextReport := 250 * time.Millisecond
	lastPoll, lastLeadPoll := time.Time{}, time.Time{}
	// heardAll is when every agent had heard REGISTERED since the kill,
	// reads how often the leader's view was read from then.
	var heardAll time.Duration
	reads := 0
	// How often the survivors are asked who leads: a master in its own
	// process answers over HTTP, which costs it some CPU.
	leadPoll, leadRecheck := time.Millisecond, time.Millisecond
	if b.procs {
		leadPoll, leadRecheck = 5*time.Millisecond, 100*time.Millisecond
	}
	for res.Elected == 0 || res.Reregistered == 0 || res.Offers == 0 {
		select {
		case <-tick.C:
		case <-b.failed:
			return b.err
		case <-ctx.Done():
			return b.failure(fmt.Errorf("bench failover: %.3fs after the kill: elected=%v reregistered=%v offers=%v: %w",
				time.Since(t0).Seconds(), res.Elected, res.Reregistered, res.Offers, ctx.Err()))
		}
		if err := b.exitedMaster(); err != nil {
			return b.failure(fmt.Errorf("bench failover: %w", err))
		}
		now := time.Now()
		if (leading == nil && now.Sub(lastLeadPoll) >= leadPoll) || (leading != nil && now.Sub(lastLeadPoll) >= leadRecheck && !leading.leads(ctx)) {
			lastLeadPoll = now
			leading = nil
			for _, m := range survivors {
				if m.leads(ctx) {
					leading = m
					break
				}
			}
			if leading != nil && res.Elected == 0 {
				res.Elected = now.Sub(t0)
				res.NewLeader = leading.Advertise()
				fmt.Fprintf(w, "failover: %s elected and recovered after %.3fs\n", res.NewLeader, res.Elected.Seconds())
			} else if leading != nil {
				fmt.Fprintf(w, "failover: the leadership moved again: %s leads after %.3fs\n", leading.Advertise(), now.Sub(t0).Seconds())
			}
		}
		if at := b.fw.offersAt.Load(); res.Offers == 0 && at != 0 {
			res.Offers = time.Duration(at - t0.UnixNano())
			fmt.Fprintf(w, "failover: the framework receives offers after %.3fs\n", res.Offers.Seconds())
		}
		// The leader's view is read every 10ms once every agent heard
		// REGISTERED since the kill (reading it costs the leader a
		// snapshot and a walk over its agents: it is not read sooner).
		if res.Reregistered == 0 && heardAll == 0 && b.reregistered.Load() >= int64(b.opts.Agents) {
			heardAll = now.Sub(t0)
		}
		if leading != nil && heardAll != 0 && res.Reregistered == 0 && now.Sub(lastPoll) >= 10*time.Millisecond {
			lastPoll = now
			reads++
			if leading.activeAgents(ctx) == b.opts.Agents {
				res.Reregistered = time.Since(t0)
				fmt.Fprintf(w, "failover: every agent re-registered after %.3fs (every agent had heard REGISTERED after %.3fs; the leader's view, read %d times from then, counted them all)\n",
					res.Reregistered.Seconds(), heardAll.Seconds(), reads)
			}
		}
		if since := now.Sub(t0); since >= nextReport {
			nextReport += 250 * time.Millisecond
			leaderNow := "none"
			if leading != nil {
				leaderNow = leading.Advertise()
			}
			fmt.Fprintf(w, "failover: +%.3fs: leader %s, %d agents re-registered (%d agents), framework resubscribed %v; %.2fs of CPU since the kill\n",
				since.Seconds(), leaderNow, b.reregistered.Load(), b.opts.Agents, b.fw.resubscribed.Load(), (cputime.Process() - cpu0).Seconds())
		}
	}
	newLeader := leading
	heap := heapCounts()
	who := "the masters and the simulated agents together"
	if b.procs {
		who = "the simulated agents and the framework (the masters run in their own processes)"
	}
	fmt.Fprintf(w, "failover: the bench process used %.2fs of CPU from the kill to the end (%.2fs of it collecting garbage, %d collections), "+
		"and allocated %.0f MiB in %d objects (%.1f KiB, %.0f objects an agent), %s\n",
		(cputime.Process() - cpu0).Seconds(), (gcCPU() - gc0).Seconds(), heap.cycles-heap0.cycles,
		float64(heap.bytes-heap0.bytes)/(1<<20), heap.objects-heap0.objects,
		float64(heap.bytes-heap0.bytes)/1024/float64(b.opts.Agents), float64(heap.objects-heap0.objects)/float64(b.opts.Agents), who)
	fmt.Fprintf(w, "failover: from the kill to the end the agents and the framework attempted %d subscriptions: %d redirected to the leader, %d failed (refused, reset or unavailable)\n",
		b.tries.Load(), b.redirects.Load(), b.failedTries.Load())
	for i, m := range survivors {
		role := "the other follower"
		if m == newLeader {
			role = "the new leader"
		}
		hurried := "?"
		if f, err := m.figures(ctx); err == nil {
			hurried = strconv.FormatFloat(f["registrar/raft/hurried_elections"], 'f', 0, 64)
		}
		if used, ok := m.usage(); ok {
			faults := "?"
			if used.faults >= 0 && used0[i].faults >= 0 {
				n := used.faults - used0[i].faults
				faults = fmt.Sprintf("%d (%.0f MiB of memory touched for the first time, %.1f KiB an agent)", n,
					float64(n)*float64(os.Getpagesize())/(1<<20), float64(n)*float64(os.Getpagesize())/1024/float64(b.opts.Agents))
			}
			fmt.Fprintf(w, "failover: %s %s used %.2fs of CPU from the kill to the end (its process's, from /proc), in which it collected garbage %d times "+
				"(gctrace puts their CPU at %.2fs, counting idle cores' marking) and took %s minor page faults; elections it hurried: %s\n",
				role, m.Advertise(), (used.cpu - used0[i].cpu).Seconds(), used.gcs-used0[i].gcs, (used.gcCPU - used0[i].gcCPU).Seconds(), faults, hurried)
		} else {
			fmt.Fprintf(w, "failover: %s %s: elections it hurried: %s\n", role, m.Advertise(), hurried)
		}
	}
	m, err := newLeader.figures(ctx)
	if err != nil {
		return fmt.Errorf("bench failover: after the failover: %w", err)
	}
	fmt.Fprintf(w, "failover: leader %s: registry fetched in %.1fms; %s\n", newLeader.Advertise(),
		m["registrar/state_fetch_ms"], loopTimes(m))
	if got := int(m["master/tasks_running"]); got != res.Tasks || m["master/elected"] != 1 {
		return b.awaitTasks(ctx, survivors, newLeader, m, res.Tasks, w)
	}
	return nil
}

// awaitTasks waits until a surviving master leads with every task
// running, when the new leader's first count fell short. On a loaded
// machine the Raft heartbeats can be starved and the leadership move
// after the re-registration: a follower counts no tasks, and a master
// elected again counts the agents' tasks as they come back to it. That
// is reported; only a leader that never gets every task back fails the
// bench.
func (b *failoverBench) awaitTasks(ctx context.Context, survivors []benchMaster, newLeader benchMaster, first map[string]float64, want int, w io.Writer) error {
	start := time.Now()
	fmt.Fprintf(w, "failover: the new leader %s counts %d running tasks (elected %v); waiting for a leader with all %d\n",
		newLeader.Advertise(), int(first["master/tasks_running"]), first["master/elected"] == 1, want)
	last := fmt.Sprintf("%s counted %d", newLeader.Advertise(), int(first["master/tasks_running"]))
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		for _, m := range survivors {
			f, err := m.figures(ctx)
			if err != nil || f["master/elected"] != 1 {
				continue
			}
			got := int(f["master/tasks_running"])
			if got == want {
				moved := ""
				if m != newLeader {
					moved = ", the leadership having moved there"
				}
				fmt.Fprintf(w, "failover: %s leads with all %d tasks running %.3fs later%s\n", m.Advertise(), want, time.Since(start).Seconds(), moved)
				return nil
			}
			last = fmt.Sprintf("%s leads and counts %d", m.Advertise(), got)
		}
		select {
		case <-tick.C:
		case <-b.failed:
			return b.err
		case <-ctx.Done():
			return fmt.Errorf("bench failover: no master leads with all %d tasks running (last: %s): %w", want, last, ctx.Err())
		}
	}
}

// gcCPU is the CPU time the process has spent collecting garbage.
func gcCPU() time.Duration {
	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindFloat64 {
		return 0
	}
	return time.Duration(s[0].Value.Float64() * float64(time.Second))
}

// heapInUse is the bytes of the heap's objects, live or not yet
// collected.
func heapInUse() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// heapTotals is what the process has allocated on the heap, and how many
// times it collected garbage, so far.
type heapTotals struct{ bytes, objects, cycles uint64 }

func heapCounts() heapTotals {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}, {Name: "/gc/heap/allocs:objects"}, {Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	var out heapTotals
	for i, p := range []*uint64{&out.bytes, &out.objects, &out.cycles} {
		if s[i].Value.Kind() == metrics.KindUint64 {
			*p = s[i].Value.Uint64()
		}
	}
	return out
}

// writeHeapProfile writes the heap profile (every allocation since the
// process started, and what is live) to path. It collects garbage first:
// the profile is as of the last collection.
func writeHeapProfile(path string) error {
	runtime.GC()
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return fmt.Errorf("writing the heap profile: %w", err)
	}
	return f.Close()
}

// loopTimes says how long the master's registry commits and allocation
// runs took.
func (m *Master) loopTimes() string {
	out := map[string]float64{}
	m.storeRuns.put(out, "registrar/state_store_ms")
	m.allocRuns.put(out, "allocator/mesos/allocation_run_ms")
	return loopTimes(out)
}

// loopTimes says how long a master's registry commits and allocation
// runs took, from its metrics.
func loopTimes(m map[string]float64) string {
	const store, alloc = "registrar/state_store_ms", "allocator/mesos/allocation_run_ms"
	return fmt.Sprintf("registry commits: %.0f, p50 %.1fms p99 %.1fms max %.1fms; allocation runs: %.0f, p50 %.1fms max %.1fms (last 1000 of each)",
		m[store+"/count"], m[store+"/p50"], m[store+"/p99"], m[store+"/max"], m[alloc+"/count"], m[alloc+"/p50"], m[alloc+"/max"])
}

// postWorkers is how many messages and calls the simulated agents and
// framework have on their way to the masters at once (pongWorkers the
// PONGs, apart), and maxAttempts how many of the agents' subscriptions
// (the framework's goes apart), with the masters in this process. Then
// everything runs in one process: thousands of requests at once would
// delay every goroutine (Raft's heartbeats among them) by as long as it
// takes to serve them all, which the masters, each on its own machine,
// would not suffer. With the masters in their own processes, as many as
// maxAttemptsProcs are in flight: the agents, each on its machine, all
// come back at once after a failover, and 64 at a time left the new
// leader waiting on them (8 % of the two cores idle during the storm,
// and its loop stepping fewer registrations a turn).
const (
	postWorkers      = 32
	pongWorkers      = 4
	maxAttempts      = 64
	maxAttemptsProcs = 192
	// postTimeout bounds a message or call, as the agent's own link does.
	postTimeout = 10 * time.Second
)

// failoverBench runs BenchFailover: the masters, the simulated agents and
// the framework.
type failoverBench struct {
	opts BenchFailoverOptions
	// dial connects to a master: over TCP, or in memory (pipes).
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// transport and client send the agents' messages and the
	// framework's calls; the subscriptions have connections of their own
	// (subscribe).
	transport *http.Transport
	client    *http.Client

	addrs   []string
	masters []benchMaster
	// procs: the masters run in their own processes (MasterCommand).
	procs bool
	// The masters in this process (without MasterCommand).
	inproc  []*Master
	stores  []*registry.Replicated
	layers  []*registry.StreamLayer // the masters' Raft connections
	cancels []context.CancelFunc
	ran     []chan error

	agents []*simAgent
	fw     *simFramework
	posts  chan func(context.Context)
	pongs  chan func(context.Context)
	// attempts holds a token for every subscription attempt in flight.
	attempts chan struct{}
	wg       sync.WaitGroup // the simulated agents and framework, the posters

	// killedAt is when the leader was killed (unix ns), 0 before.
	killedAt atomic.Int64
	// registered counts the agents registered, reregistered those that
	// heard REGISTERED again after the kill, acked the tasks whose RUNNING
	// was acknowledged to their agent.
	registered, reregistered, acked atomic.Int64
	// tries counts the subscriptions attempted since the kill, redirects
	// those a follower redirected, failedTries those that failed (refused,
	// reset, or answered 503).
	tries, redirects, failedTries atomic.Int64

	// pipes, when set, are the masters' HTTP handlers served over
	// in-memory connections, by master address (and by index: "0".."2").
	pipes map[string]*pipeServer

	// dead holds the connections of the streams that ended while the
	// failover is measured (measuring), closed after it (closeLater).
	deadMu    sync.Mutex
	dead      []io.Closer
	measuring atomic.Bool
	// deferClose is how many closes closeLater may defer (the open files
	// limit allows).
	deferClose int

	stopSim context.CancelFunc
	failed  chan struct{} // closed with err set
	errOnce sync.Once
	err     error
}

func newFailoverBench(opts BenchFailoverOptions, inMemory, procs bool) *failoverBench {
	attempts := maxAttempts
	if procs {
		attempts = maxAttemptsProcs
	}
	b := &failoverBench{
		opts: opts,
		// Deep enough for every task's update and more: an agent never
		// waits to queue a message, so never stops reading its stream.
		posts:    make(chan func(context.Context), opts.Agents*(opts.TasksPerAgent+2)+4096),
		failed:   make(chan struct{}),
		pongs:    make(chan func(context.Context), opts.Agents+1024),
		attempts: make(chan struct{}, attempts),
	}
	// No TCP keep-alive on the agents' side: its four socket options a
	// connection are system calls on the cores the masters use, and the
	// masters ping their agents anyway.
	b.dial = (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: -1}).DialContext
	if inMemory {
		b.pipes = map[string]*pipeServer{}
		b.dial = b.dialPipe
	}
	b.transport = &http.Transport{
		Proxy:               nil,
		DialContext:         b.dial,
		MaxIdleConnsPerHost: 4 * postWorkers,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		// The simulated agents' side of their connections, which would
		// be on their own machines, buffers little: the messages are
		// small, and the process's garbage collector also collects for
		// the masters.
		ReadBufferSize:  1024,
		WriteBufferSize: 1024,
	}
	b.client = &http.Client{Transport: b.transport, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	per := opts.TasksPerAgent + 2 // room for two more tasks: offers keep coming
	total := resources.ToProto(resources.MustParse(fmt.Sprintf("cpus:%d;mem:%d;disk:10000;ports:[31000-32000]",
		per*failoverTaskCPUs, per*failoverTaskMem)))
	for i := range opts.Agents {
		b.agents = append(b.agents, &simAgent{b: b, info: &mesos.AgentInfo{
			Hostname: proto.String(fmt.Sprintf("agent%05d.bench", i)), Port: proto.Int32(5051), Resources: total,
		}, endpoint: fmt.Sprintf("10.%d.%d.%d:5051", i>>16&255, i>>8&255, i&255)})
	}
	b.fw = &simFramework{b: b, launched: map[string]bool{}, info: &mesos.FrameworkInfo{
		Name: proto.String("bench failover"), User: proto.String("bench"), Checkpoint: proto.Bool(true),
		FailoverTimeout: proto.Float64(3600),
	}}
	return b
}

const (
	failoverTaskCPUs = 1
	failoverTaskMem  = 128
)

// fail records the first error of a simulated party and stops them all.
func (b *failoverBench) fail(err error) {
	b.errOnce.Do(func() {
		b.err = fmt.Errorf("bench failover: %w", err)
		close(b.failed)
		b.stopSim()
	})
}

func (b *failoverBench) killed() bool { return b.killedAt.Load() != 0 }

// startMasters starts three masters, each with a replicated registry whose
// peers are the three: in their own processes with MasterCommand, else
// in this one.
func (b *failoverBench) startMasters(ctx context.Context, dir string) error {
	if b.procs {
		return b.startProcesses(ctx, dir)
	}
	return b.startInProcess(ctx, dir)
}

// startInProcess starts the three masters in this process: each opens its
// registry once all three listen.
func (b *failoverBench) startInProcess(ctx context.Context, dir string) error {
	const n = 3
	b.addrs = make([]string, n)
	b.stores = make([]*registry.Replicated, n)
	b.layers = make([]*registry.StreamLayer, n)
	var listening sync.WaitGroup
	listening.Add(n)
	allListen := make(chan struct{})
	abort := make(chan struct{})
	go func() {
		listening.Wait()
		close(allListen)
	}()
	type made struct {
		m   *Master
		err error
	}
	results := make([]chan made, n)
	for i := range n {
		results[i] = make(chan made, 1)
		cfg := Config{
			IP:      "127.0.0.1",
			Options: core.Options{Logger: b.opts.Logger},
			OpenRegistry: func(self string) (registry.Store, http.Handler, error) {
				b.addrs[i] = self
				listening.Done()
				select {
				case <-allListen:
				case <-abort:
					return nil, nil, errors.New("another master failed to start")
				}
				layer := registry.NewStreamLayer(self)
				s, err := registry.NewReplicated(registry.ReplicatedConfig{
					Dir: filepath.Join(dir, strconv.Itoa(i)), Self: self, Peers: b.addrs, StreamLayer: layer,
					HeartbeatTimeout: b.opts.HeartbeatTimeout, ElectionTimeout: b.opts.ElectionTimeout,
					LeaderLeaseTimeout: b.opts.LeaderLeaseTimeout, Logger: b.opts.Logger,
				})
				if err != nil {
					return nil, nil, err
				}
				b.stores[i], b.layers[i] = s, layer
				return s, layer, nil
			},
		}
		go func() {
			m, err := New(cfg)
			if err != nil {
				// A master that failed before it listened never reaches
				// the barrier: it must not hold the others there.
				listening.Done()
			}
			results[i] <- made{m, err}
		}()
	}
	var errs []error
	for i := range n {
		r := <-results[i]
		if r.err != nil {
			errs = append(errs, r.err)
			select {
			case <-abort:
			default:
				close(abort)
			}
		}
		b.inproc = append(b.inproc, r.m)
	}
	if err := errors.Join(errs...); err != nil {
		for _, m := range b.inproc {
			if m != nil {
				m.store.Close()
				m.ln.Close()
			}
		}
		b.inproc = nil
		return fmt.Errorf("bench failover: starting the masters: %w", err)
	}
	for i, m := range b.inproc {
		b.masters = append(b.masters, &inProcMaster{b: b, i: i, m: m})
		if b.pipes != nil {
			p := newPipeServer(m)
			b.pipes[m.Advertise()] = p
			b.pipes[strconv.Itoa(i)] = p
		}
		mctx, cancel := context.WithCancel(ctx)
		ran := make(chan error, 1)
		go func() { ran <- m.Run(mctx) }()
		b.cancels = append(b.cancels, cancel)
		b.ran = append(b.ran, ran)
	}
	return nil
}

// stopMasters stops every master still running and waits for them.
func (b *failoverBench) stopMasters() {
	if b.procs {
		for _, m := range b.masters {
			m.(*procMaster).stop()
		}
		return
	}
	for i, cancel := range b.cancels {
		if b.pipes != nil {
			b.pipes[strconv.Itoa(i)].srv.Close()
		}
		cancel()
		<-b.ran[i]
	}
}

// pipeServer serves a master's HTTP handler over in-memory connections:
// 10,000 agents over TCP take 20,000 sockets in this process, more than a
// process may be allowed.
type pipeServer struct {
	srv    *http.Server
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
	addr   net.Addr
}

func newPipeServer(m *Master) *pipeServer {
	p := &pipeServer{conns: make(chan net.Conn), closed: make(chan struct{}), addr: m.ln.Addr()}
	p.srv = &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = p.srv.Serve(p) }()
	return p
}

// Accept, Close and Addr make the pipeServer the listener of its server.
func (p *pipeServer) Accept() (net.Conn, error) {
	select {
	case c := <-p.conns:
		return c, nil
	case <-p.closed:
		return nil, net.ErrClosed
	}
}

func (p *pipeServer) Close() error {
	p.once.Do(func() { close(p.closed) })
	return nil
}

func (p *pipeServer) Addr() net.Addr { return p.addr }

// dialPipe connects to the master at addr in memory; a master killed or
// stopped refuses the connection.
func (b *failoverBench) dialPipe(ctx context.Context, network, addr string) (net.Conn, error) {
	p := b.pipes[addr]
	if p == nil {
		return nil, fmt.Errorf("dial %s: no such master", addr)
	}
	client, server := net.Pipe()
	select {
	case p.conns <- server:
		return client, nil
	case <-p.closed:
	case <-ctx.Done():
	}
	client.Close()
	server.Close()
	return nil, fmt.Errorf("dial %s: connection refused", addr)
}

// waitLeader waits until one of ms leads and returns its index.
func (b *failoverBench) waitLeader(ctx context.Context, ms []benchMaster) (int, error) {
	leader := -1
	err := b.waitUntil(ctx, func() bool {
		for i, m := range ms {
			if m.leads(ctx) {
				leader = i
				return true
			}
		}
		return false
	})
	return leader, err
}

// waitUntil polls cond until it holds, a simulated party fails, or ctx
// ends.
func (b *failoverBench) waitUntil(ctx context.Context, cond func() bool) error {
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-t.C:
		case <-b.failed:
			return b.err
		case <-ctx.Done():
			return b.failure(ctx.Err())
		}
		if err := b.exitedMaster(); err != nil {
			return b.failure(err)
		}
	}
	return nil
}

// failure is the error of a simulated party that failed, which stopped
// the others (and ended their context), or else err.
func (b *failoverBench) failure(err error) error {
	select {
	case <-b.failed:
		return b.err
	default:
		return err
	}
}

// pause waits for d or ctx.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

// request POSTs body to path on the master at addr.
func (b *failoverBench) request(ctx context.Context, addr, path string, body []byte, header ...string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", codec.MediaProtobuf)
	req.Header.Set("Accept", codec.MediaProtobuf)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return b.client.Do(req)
}

// open POSTs a subscription (body, to path) to the leading master. It
// starts at the master at index *at of the list, follows a redirect to
// the leader (which *at then names, if it is on the list), and tries the
// next master of the list after a connection error or a 503, waiting a
// random backoff between attempts. It returns the open stream and the
// address of the master that took it. An agent's attempt waits for a
// token of tokens (b.attempts); the framework's, with no tokens, does not:
// it is a process of its own, which does not queue behind the agents'.
func (b *failoverBench) open(ctx context.Context, at *int, path string, body []byte, tokens chan struct{}) (*http.Response, string, error) {
	bound := b.opts.RetryMin
	for {
		addr := b.addrs[*at]
		if tokens != nil {
			select {
			case tokens <- struct{}{}:
			case <-ctx.Done():
				return nil, "", ctx.Err()
			}
		}
		release := func() {
			if tokens != nil {
				<-tokens
			}
		}
		for hop := 0; ; hop++ {
			resp, err := b.subscribe(ctx, addr, path, body)
			if b.killed() {
				b.tries.Add(1)
				switch {
				case err != nil:
					b.failedTries.Add(1)
				case resp.StatusCode == http.StatusTemporaryRedirect:
					b.redirects.Add(1)
				case resp.StatusCode != http.StatusOK:
					b.failedTries.Add(1)
				}
			}
			if err != nil {
				if ctx.Err() != nil {
					release()
					return nil, "", ctx.Err()
				}
				break
			}
			if resp.StatusCode == http.StatusOK {
				release()
				return resp, addr, nil
			}
			text, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
			resp.Body.Close()
			if resp.StatusCode == http.StatusTemporaryRedirect && hop < 2 {
				if u, err := url.Parse(resp.Header.Get("Location")); err == nil && u.Host != "" {
					addr = u.Host
					// As the agent's own link does: the list is
					// followed on from the leader when it fails.
					if i := slices.Index(b.addrs, addr); i >= 0 {
						*at = i
					}
					continue
				}
			}
			if resp.StatusCode != http.StatusServiceUnavailable && resp.StatusCode != http.StatusTemporaryRedirect {
				release()
				return nil, "", fmt.Errorf("POST %s%s: %s: %s", addr, path, resp.Status, bytes.TrimSpace(text))
			}
			break
		}
		release()
		*at = (*at + 1) % len(b.addrs)
		pause(ctx, rand.N(bound+1))
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		bound = min(2*bound, b.opts.RetryMax)
	}
}

// poster sends the agents' messages and the framework's calls.
func (b *failoverBench) poster(ctx context.Context, queue chan func(context.Context)) {
	defer b.wg.Done()
	for {
		select {
		case post := <-queue:
			post(ctx)
		case <-ctx.Done():
			return
		}
	}
}

// post queues a POST of msg to path on addr, which must answer want. A
// failure before the kill fails the bench; after it, the stream the
// message belongs to is gone, and the registration that follows carries
// what the message said.
func (b *failoverBench) post(ctx context.Context, addr, path string, msg proto.Message, want int, header ...string) {
	b.enqueue(ctx, b.posts, addr, path, msg, want, header...)
}

// pong is post for PONGs, which go apart from the queue, as the agent's
// own link sends them: however long the queue, pings are answered.
func (b *failoverBench) pong(ctx context.Context, addr, path string, msg proto.Message, want int, header ...string) {
	b.enqueue(ctx, b.pongs, addr, path, msg, want, header...)
}

func (b *failoverBench) enqueue(ctx context.Context, queue chan func(context.Context), addr, path string, msg proto.Message, want int, header ...string) {
	body, err := proto.Marshal(msg)
	if err != nil {
		b.fail(err)
		return
	}
	job := func(ctx context.Context) {
		ctx, cancel := context.WithTimeout(ctx, postTimeout)
		defer cancel()
		resp, err := b.request(ctx, addr, path, body, header...)
		if err != nil {
			if !b.killed() && ctx.Err() == nil {
				b.fail(err)
			}
			return
		}
		text, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		resp.Body.Close()
		if resp.StatusCode != want && !b.killed() {
			b.fail(fmt.Errorf("POST %s%s: %s: %s", addr, path, resp.Status, bytes.TrimSpace(text)))
		}
	}
	select {
	case queue <- job:
	case <-ctx.Done():
	}
}

// maxBenchRecord bounds a record read from a master's stream.
const maxBenchRecord = 16 << 20

// simAgent is a simulated agent: it speaks the agent protocol, runs
// nothing, and reports every task it is given running.
type simAgent struct {
	b        *failoverBench
	info     *mesos.AgentInfo
	endpoint string
	// Owned by the agent's goroutine.
	id    string
	fw    *mesos.FrameworkInfo
	tasks []*mesos.Task
	// successor is the master the stream's master named in REGISTERED to
	// take over from it, "" when none: the agent goes there first when
	// the stream ends, as the agent's own link does.
	successor string
	// body is message() encoded, made again whenever it changes: a real
	// agent encodes its re-registration on its own machine, so the
	// simulated ones do not do it while the masters elect a leader.
	body []byte
}

// message is REGISTER for a new agent, REREGISTER with its framework and
// tasks for a registered one.
func (a *simAgent) message() *agentproto.AgentMessage {
	reg := &agentproto.AgentMessage_Register{AgentInfo: a.info, Version: proto.String(core.Version), Endpoint: &a.endpoint}
	if a.id == "" {
		return &agentproto.AgentMessage{Type: agentproto.AgentMessage_REGISTER.Enum(), Register: reg}
	}
	info := proto.Clone(a.info).(*mesos.AgentInfo)
	info.Id = &mesos.AgentID{Value: &a.id}
	reg.AgentInfo = info
	if a.fw != nil {
		reg.Frameworks = []*mesos.FrameworkInfo{a.fw}
	}
	reg.Tasks = a.tasks
	return &agentproto.AgentMessage{Type: agentproto.AgentMessage_REREGISTER.Enum(), Register: reg}
}

// run registers, reads the master's messages, and re-registers whenever
// its stream ends, until ctx ends.
func (a *simAgent) run(ctx context.Context) {
	b := a.b
	defer b.wg.Done()
	at := rand.IntN(len(b.addrs))
	for ctx.Err() == nil {
		if a.body == nil && !a.encode() {
			return
		}
		resp, addr, err := b.open(ctx, &at, "/internal/agent/subscribe", a.body, b.attempts)
		if err != nil {
			if ctx.Err() == nil {
				b.fail(err)
			}
			return
		}
		a.read(ctx, resp.Body, addr, resp.Header.Get(HeaderStreamID))
		b.closeLater(resp.Body)
		// The stream ended without a redirect: the agent's link goes on
		// to the master named in REGISTERED to take over, or else to the
		// master after the one that served it in its list (masterLink's
		// nextMaster), not back to the dead leader. The agents' lists
		// are in no one order (each agent's own), so that is either of
		// the other masters.
		if i := slices.Index(b.addrs, a.successor); i >= 0 && a.successor != addr {
			at = i
		} else {
			at = b.nextAfter(addr, at)
		}
		a.successor = ""
		// Not all at once: the first attempt after a stream ends waits a
		// random delay below RetryMin.
		pause(ctx, rand.N(b.opts.RetryMin+1))
	}
}

// nextAfter is the index of the master a party goes on to when its stream
// from addr ended: either of the other masters, picked at random (at when
// addr is not on the list).
func (b *failoverBench) nextAfter(addr string, at int) int {
	if i := slices.Index(b.addrs, addr); i >= 0 && len(b.addrs) > 1 {
		return (i + 1 + rand.IntN(len(b.addrs)-1)) % len(b.addrs)
	}
	return at
}

// encode makes a.body from message(); it reports false, and fails the
// bench, if that cannot be done.
func (a *simAgent) encode() bool {
	body, err := proto.Marshal(a.message())
	if err != nil {
		a.b.fail(err)
		return false
	}
	a.body = body
	return true
}

// read takes the master's messages until the stream ends.
func (a *simAgent) read(ctx context.Context, body io.Reader, addr, stream string) {
	b := a.b
	rr := codec.NewRecordReader(body, maxBenchRecord)
	for {
		rec, err := rr.ReadRecord()
		if err != nil {
			if !b.killed() && ctx.Err() == nil {
				b.fail(fmt.Errorf("agent %s: %w (%w)", a.info.GetHostname(), errStreamEnded, err))
			}
			return
		}
		msg := &agentproto.MasterMessage{}
		if err := proto.Unmarshal(rec, msg); err != nil {
			b.fail(fmt.Errorf("agent %s: bad message: %w", a.info.GetHostname(), err))
			return
		}
		switch msg.GetType() {
		case agentproto.MasterMessage_REGISTERED:
			a.successor = msg.GetRegistered().GetSuccessor()
			if a.id == "" {
				a.id = msg.GetRegistered().GetAgentId().GetValue()
				b.registered.Add(1)
				if !a.encode() {
					return
				}
			} else if b.killed() {
				b.reregistered.Add(1)
			}
		case agentproto.MasterMessage_PING:
			b.pong(ctx, addr, "/internal/agent/message", &agentproto.AgentMessage{Type: agentproto.AgentMessage_PONG.Enum()},
				http.StatusAccepted, HeaderAgentID, a.id, HeaderStreamID, stream)
		case agentproto.MasterMessage_RUN_TASK:
			a.runTask(ctx, msg.GetRunTask(), addr, stream)
		case agentproto.MasterMessage_ACKNOWLEDGE:
			b.acked.Add(1)
		case agentproto.MasterMessage_KILL_TASK, agentproto.MasterMessage_SHUTDOWN_FRAMEWORK, agentproto.MasterMessage_SHUTDOWN:
			b.fail(fmt.Errorf("agent %s was sent %s: %s", a.id, msg.GetType(), prototextShort(msg)))
			return
		}
	}
}

// prototextShort is a message for an error.
func prototextShort(m proto.Message) string {
	s := fmt.Sprint(m)
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// runTask records the task running and reports it so.
func (a *simAgent) runTask(ctx context.Context, rt *agentproto.MasterMessage_RunTask, addr, stream string) {
	a.fw = rt.GetFrameworkInfo()
	ti := rt.GetTask()
	running := mesos.TaskState_TASK_RUNNING.Enum()
	a.tasks = append(a.tasks, &mesos.Task{
		Name: ti.Name, TaskId: ti.GetTaskId(), FrameworkId: a.fw.GetId(), AgentId: &mesos.AgentID{Value: &a.id},
		State: running, Resources: ti.GetResources(),
	})
	if !a.encode() {
		return
	}
	uuid := make([]byte, 16)
	for i := range uuid {
		uuid[i] = byte(rand.Uint32())
	}
	a.b.post(ctx, addr, "/internal/agent/message", &agentproto.AgentMessage{
		Type: agentproto.AgentMessage_STATUS_UPDATE.Enum(),
		StatusUpdate: &agentproto.StatusUpdate{
			FrameworkId: a.fw.GetId(), LatestState: running,
			Status: &mesos.TaskStatus{
				TaskId: ti.GetTaskId(), State: running, Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(),
				AgentId: &mesos.AgentID{Value: &a.id}, Uuid: uuid,
				Timestamp: proto.Float64(float64(time.Now().UnixNano()) / 1e9),
			},
		},
	}, http.StatusAccepted, HeaderAgentID, a.id, HeaderStreamID, stream)
}

// simFramework is the scheduler: it launches TasksPerAgent tasks on every
// agent from its offers, acknowledges their updates, and after the kill
// only notes when offers come again.
type simFramework struct {
	b        *failoverBench
	info     *mesos.FrameworkInfo // with its id once subscribed
	mu       sync.Mutex
	launched map[string]bool // agents given their tasks
	// offersAt is when the first offer after the kill arrived (unix ns).
	offersAt     atomic.Int64
	resubscribed atomic.Bool
}

func (f *simFramework) run(ctx context.Context) {
	b := f.b
	defer b.wg.Done()
	at := rand.IntN(len(b.addrs))
	for ctx.Err() == nil {
		call := &schedpb.Call{Type: schedpb.Call_SUBSCRIBE.Enum(), Subscribe: &schedpb.Call_Subscribe{FrameworkInfo: f.info}}
		call.FrameworkId = f.info.GetId()
		body, err := proto.Marshal(call)
		if err != nil {
			b.fail(err)
			return
		}
		resp, addr, err := b.open(ctx, &at, "/api/v1/scheduler", body, nil)
		if err != nil {
			if ctx.Err() == nil {
				b.fail(err)
			}
			return
		}
		f.read(ctx, resp.Body, addr, resp.Header.Get("Mesos-Stream-Id"))
		resp.Body.Close()
		at = b.nextAfter(addr, at) // as an agent does
		pause(ctx, rand.N(b.opts.RetryMin+1))
	}
}

// read takes the events of one subscription until it ends.
func (f *simFramework) read(ctx context.Context, body io.Reader, addr, stream string) {
	b := f.b
	rr := codec.NewRecordReader(body, maxBenchRecord)
	for {
		rec, err := rr.ReadRecord()
		if err != nil {
			if !b.killed() && ctx.Err() == nil {
				b.fail(fmt.Errorf("framework: %w (%w)", errStreamEnded, err))
			}
			return
		}
		ev := &schedpb.Event{}
		if err := proto.Unmarshal(rec, ev); err != nil {
			b.fail(fmt.Errorf("framework: bad event: %w", err))
			return
		}
		switch ev.GetType() {
		case schedpb.Event_SUBSCRIBED:
			if f.info.Id == nil {
				f.info.Id = ev.GetSubscribed().GetFrameworkId()
			}
			if b.killed() {
				f.resubscribed.Store(true)
			}
		case schedpb.Event_OFFERS:
			if b.killed() {
				f.offersAt.CompareAndSwap(0, time.Now().UnixNano())
				continue
			}
			for _, o := range ev.GetOffers().GetOffers() {
				f.launch(ctx, o, addr, stream)
			}
		case schedpb.Event_UPDATE:
			st := ev.GetUpdate().GetStatus()
			if len(st.GetUuid()) > 0 {
				b.post(ctx, addr, "/api/v1/scheduler", &schedpb.Call{
					FrameworkId: f.info.GetId(), Type: schedpb.Call_ACKNOWLEDGE.Enum(),
					Acknowledge: &schedpb.Call_Acknowledge{AgentId: st.GetAgentId(), TaskId: st.GetTaskId(), Uuid: st.GetUuid()},
				}, http.StatusAccepted, "Mesos-Stream-Id", stream)
			}
		case schedpb.Event_ERROR:
			if !b.killed() {
				b.fail(fmt.Errorf("framework: ERROR event: %s", ev.GetError().GetMessage()))
				return
			}
		}
	}
}

// launch starts TasksPerAgent tasks on the offer's agent, once; the
// framework keeps the offers it does not use.
func (f *simFramework) launch(ctx context.Context, o *mesos.Offer, addr, stream string) {
	agentID := o.GetAgentId().GetValue()
	f.mu.Lock()
	if f.launched[agentID] {
		f.mu.Unlock()
		return
	}
	f.launched[agentID] = true
	f.mu.Unlock()
	taskRes := resources.ToProto(resources.MustParse(fmt.Sprintf("cpus:%d;mem:%d", failoverTaskCPUs, failoverTaskMem)))
	tasks := make([]*mesos.TaskInfo, 0, f.b.opts.TasksPerAgent)
	for i := range f.b.opts.TasksPerAgent {
		id := fmt.Sprintf("%s-task-%d", agentID, i)
		tasks = append(tasks, &mesos.TaskInfo{
			Name: proto.String("bench " + id), TaskId: &mesos.TaskID{Value: &id},
			AgentId: o.GetAgentId(), Resources: taskRes,
			Command: &mesos.CommandInfo{Value: proto.String("sleep 3600")},
		})
	}
	f.b.post(ctx, addr, "/api/v1/scheduler", &schedpb.Call{
		FrameworkId: f.info.GetId(), Type: schedpb.Call_ACCEPT.Enum(),
		Accept: &schedpb.Call_Accept{
			OfferIds:   []*mesos.OfferID{o.GetId()},
			Operations: []*mesos.Offer_Operation{{Type: mesos.Offer_Operation_LAUNCH.Enum(), Launch: &mesos.Offer_Operation_Launch{TaskInfos: tasks}}},
		},
	}, http.StatusAccepted, "Mesos-Stream-Id", stream)
}
