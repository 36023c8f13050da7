package master

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"

	registrypb "github.com/gomesos/gomesos/api/registry"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/master/allocator"
	"github.com/gomesos/gomesos/master/core"
	"github.com/gomesos/gomesos/registry"
)

// Leadership. A master leads while its registry store does (registry.Store
// elects among the masters). On election the loop fetches the registry and
// starts a new Core from it, with a new master id (agent and framework ids
// stay unique however many times one process leads); on losing the
// leadership it closes every stream and connection and keeps a follower
// Core, which is fed nothing and only serves the views, naming the leader.
//
// Only the leading master serves the scheduler API and the agent protocol:
// a follower answers 307 to the leader when it knows it and 503 "No leader
// elected" when it does not, and the leader answers 503 "Master has not
// finished recovery" until it has fetched the registry (Mesos's order).

// Roles of a master, as handlers see them.
const (
	roleFollower int32 = iota
	roleRecovering
	roleLeading
)

// errNotLeading is what a request finds when the master stopped leading
// between its check and its turn on the loop.
var errNotLeading = errors.New("master is not the leader")

// newCore makes a Core with a fresh identity: this master's address and a
// new id.
func (m *Master) newCore(now time.Time) *core.Core {
	id := uuid.NewString()
	pid := "master@" + net.JoinHostPort(m.advertiseIP, strconv.Itoa(m.port))
	info := &mesos.MasterInfo{
		Id:       &id,
		Ip:       new(ipToUint32(m.advertiseIP)),
		Port:     new(uint32(m.port)),
		Pid:      &pid,
		Hostname: &m.hostname,
		Version:  new(m.cfg.Build.Version),
		Address:  &mesos.Address{Hostname: &m.hostname, Ip: &m.advertiseIP, Port: new(int32(m.port))},
		// A MasterInfo capability is advertised once its feature exists:
		// AGENT_DRAINING (DRAIN_AGENT, DEACTIVATE_AGENT, REACTIVATE_AGENT)
		// and QUOTA_V2 (UPDATE_QUOTA: guarantees and limits) do;
		// AGENT_UPDATE (agents changing their resources) comes with the
		// issue that builds it.
		Capabilities: []*mesos.MasterInfo_Capability{
			{Type: mesos.MasterInfo_Capability_AGENT_DRAINING.Enum()},
			{Type: mesos.MasterInfo_Capability_QUOTA_V2.Enum()},
		},
	}
	var alloc allocator.Allocator
	if m.cfg.NewAllocator != nil {
		alloc = m.cfg.NewAllocator()
	} else {
		alloc = allocator.New(allocator.Options{AllocationInterval: m.cfg.AllocationInterval, Seed: now.UnixNano()})
	}
	opts := m.cfg.Options
	opts.StartTime = m.startTime
	return core.NewCore(info, opts, timedAllocator{Allocator: alloc, runs: m.allocRuns}, now)
}

// follow makes the master a follower: every stream and agent connection
// closes (their clients find the leader again), and a follower Core serves
// the views. It runs on the loop.
func (m *Master) follow(why string) {
	if m.leads {
		m.log.Warn("no longer leading", "reason", why)
	}
	m.leads = false
	m.gcStorm.restore()
	m.role.Store(roleFollower)
	m.closeStreams()
	m.core = m.newCore(time.Now())
	m.core.Outputs() // a new Core has none; nothing of it is carried out
	m.followLeader(m.store.Leader())
	m.info.Store(m.core.Info())
	m.snap.Store(m.core.Snapshot())
}

// closeStreams closes every framework stream and agent connection: their
// clients find the leader again. It runs on the loop.
func (m *Master) closeStreams() {
	for id, s := range m.frameworkSinks {
		s.close()
		delete(m.frameworkSinks, id)
	}
	for id, s := range m.agentSinks {
		s.close()
		delete(m.agentSinks, id)
	}
	m.closeOperatorSinks()
}

// followLeader points the follower Core at the leader's address.
func (m *Master) followLeader(addr string) {
	m.leaderAddr.Store(&addr)
	m.core.Follow(leaderInfo(addr))
}

// leaderInfo is what a follower knows of the leader: its address (the
// --masters entry it was elected as).
func leaderInfo(addr string) *mesos.MasterInfo {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil
	}
	port, _ := strconv.Atoi(portStr)
	id := ""
	pid := "master@" + addr
	info := &mesos.MasterInfo{
		Id: &id, Ip: new(ipToUint32(host)), Port: new(uint32(port)), Pid: &pid, Hostname: &host,
		Address: &mesos.Address{Hostname: &host, Port: new(int32(port))},
	}
	if net.ParseIP(host) != nil {
		info.Address.Ip = &host
	}
	return info
}

// elect makes the master the leader: it fetches the registry (bounded by
// --registry_fetch_timeout), starts a Core from it and records itself in
// it. It runs on the loop. An error other than losing the leadership on
// the way is fatal, as Mesos's master exits when its registrar cannot
// recover.
func (m *Master) elect(ctx context.Context) error {
	m.role.Store(roleRecovering)
	start := time.Now()
	fctx, cancel := context.WithTimeout(ctx, m.cfg.RegistryFetchTimeout)
	reg, err := m.store.Fetch(fctx)
	cancel()
	if err != nil {
		m.role.Store(roleFollower)
		if errors.Is(err, registry.ErrNotLeader) || ctx.Err() != nil {
			m.log.Info("elected, but lost the leadership before recovering the registry", "error", err)
			return nil
		}
		return fmt.Errorf("recovering the registry (--registry_fetch_timeout=%s): %w", m.cfg.RegistryFetchTimeout, err)
	}
	m.fetchTime.Store(int64(time.Since(start)))
	m.recovered.Store(true)
	m.closeStreams()
	m.core = m.newCore(time.Now())
	m.core.Recover(reg)
	if st, ok := m.store.(successorNamer); ok {
		m.core.SetSuccessor(st.Successor())
	}
	m.leads = true
	// The storm's pacing starts from the standby reserve's GOGC, if it
	// is higher, lest the collector's goal fall below the pages kept.
	gogc, releaseStandby := m.standby.handOver()
	if n := m.core.Recovered(); n > 0 && m.cfg.ReregisterGCPercent > 0 {
		m.gcStorm.raise(max(m.cfg.ReregisterGCPercent, gogc), time.Now(), m.log, n)
	}
	releaseStandby()
	self := m.advertise
	m.leaderAddr.Store(&self)
	m.info.Store(m.core.Info())
	m.elections.Add(1)
	m.commit(true)
	if !m.leads {
		return m.fatal // the commit failed
	}
	m.role.Store(roleLeading)
	m.log.Info("elected leading master", "id", m.core.Info().GetId(), "address", m.advertise,
		"recovered_agents", len(reg.GetAgents().GetAgents()), "unreachable_agents", len(reg.GetUnreachable().GetAgents()),
		"fetch", time.Since(start).String())
	return nil
}

// persist commits registry operations, bounded by --registry_store_timeout.
// It runs on the loop, which waits: whatever the core said after them is
// carried out only once they are durable.
func (m *Master) persist(ops []*registrypb.Operation) error {
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.RegistryStoreTimeout)
	defer cancel()
	start := time.Now()
	err := m.store.Apply(ctx, ops)
	m.storeRuns.add(time.Since(start))
	if err != nil {
		return fmt.Errorf("committing %d registry operation(s) (--registry_store_timeout=%s): %w", len(ops), m.cfg.RegistryStoreTimeout, err)
	}
	return nil
}

// successorNamer is a registry store that names, while it leads, the
// master expected to take over should this one's process die
// (registry.Replicated).
type successorNamer interface {
	Successor() string
}

// registryFailed handles a commit that failed: the outputs after it are
// dropped, and the master stops leading. Losing the leadership is a
// follower's life; any other failure ends the master, as in Mesos.
func (m *Master) registryFailed(err error) {
	m.log.Error("registry commit failed; stepping down", "error", err)
	if !errors.Is(err, registry.ErrNotLeader) && m.fatal == nil {
		m.fatal = err
	}
	m.follow(err.Error())
}

// leadGate lets a request to the scheduler API or the agent protocol
// through only on the leading master that has recovered; it answers the
// others as Mesos does.
func (m *Master) leadGate(w http.ResponseWriter, r *http.Request) bool {
	switch m.role.Load() {
	case roleLeading:
		return true
	case roleRecovering:
		textError(w, http.StatusServiceUnavailable, "Master has not finished recovery")
		return false
	}
	m.redirectToLeader(w, r, r.URL.RequestURI())
	return false
}

// agentLeaderWait bounds how long an agent's subscription waits on a
// master for a leader to be elected, or to finish recovering, before it is
// answered 503 as Mesos's masters answer: several elections' time (a
// master cut off from the others answers after it, and the agent tries
// the next master), well within the 30s the agent gives a master to
// answer.
const agentLeaderWait = 5 * time.Second

// awaitLeader is leadGate for an agent's subscription, which, rather than
// be answered 503 while no leader is known or the leader recovers, waits
// for the leader (up to agentLeaderWait): then the leader takes it, and a
// follower redirects it there. After a failover every agent is back as
// soon as the new leader can take it, where an agent answered 503 would
// wait out its backoff, which grows with every master it tried (Mesos's
// agents learn of a new leader from ZooKeeper at once; ours ask the
// masters, and a master that does not know one yet answers when it does).
func (m *Master) awaitLeader(w http.ResponseWriter, r *http.Request) bool {
	if m.role.Load() == roleLeading {
		// The leader takes a failover's agents without a timer each.
		return true
	}
	timer := time.NewTimer(agentLeaderWait)
	defer timer.Stop()
	m.waitingAgents.Add(1)
	defer m.waitingAgents.Add(-1)
	for {
		changed := m.leaderSeen.changed()
		switch m.role.Load() {
		case roleLeading:
			return true
		case roleFollower:
			if leader := m.store.Leader(); leader != "" && leader != m.advertise {
				m.redirectToLeader(w, r, r.URL.RequestURI())
				return false
			}
		}
		select {
		case <-changed:
		case <-timer.C:
			return m.leadGate(w, r)
		case <-r.Context().Done():
			return false
		case <-m.stopped:
			textError(w, http.StatusServiceUnavailable, "Master is stopping")
			return false
		}
	}
}

// leaderWatch wakes whoever waits for the leader to change (awaitLeader).
type leaderWatch struct {
	mu sync.Mutex
	ch chan struct{}
}

// changed is closed at the next change.
func (lw *leaderWatch) changed() <-chan struct{} {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if lw.ch == nil {
		lw.ch = make(chan struct{})
	}
	return lw.ch
}

func (lw *leaderWatch) wake() {
	lw.mu.Lock()
	defer lw.mu.Unlock()
	if lw.ch != nil {
		close(lw.ch)
		lw.ch = nil
	}
}

// leaderPoll is how often watchLeader looks at the role and the leader.
const leaderPoll = 5 * time.Millisecond

// watchLeader wakes the waiting subscriptions whenever this master's role
// or the leader its registry names changes, until stop is closed. It
// polls, while subscriptions wait: the registry store's leader, which
// stops being named when it goes quiet, changes without an event.
func (m *Master) watchLeader(stop <-chan struct{}) {
	t := time.NewTicker(leaderPoll)
	defer t.Stop()
	role, leader := m.role.Load(), m.store.Leader()
	for {
		select {
		case <-t.C:
		case <-stop:
			m.leaderSeen.wake()
			return
		}
		if m.waitingAgents.Load() == 0 {
			// No one to wake: the store is not asked, and what was seen
			// last is forgotten, so that the next waiter gets a look.
			role = -1
			continue
		}
		if r, l := m.role.Load(), m.store.Leader(); r != role || l != leader {
			role, leader = r, l
			m.leaderSeen.wake()
		}
	}
}

// redirectToLeader answers 307 with Location //leader/path, or 503 when no
// leader is known.
func (m *Master) redirectToLeader(w http.ResponseWriter, r *http.Request, path string) {
	leader := m.store.Leader()
	if m.role.Load() == roleLeading {
		leader = m.advertise // an in-memory store names no one
	}
	if leader == "" || (leader == m.advertise && m.role.Load() != roleLeading) {
		textError(w, http.StatusServiceUnavailable, "No leader elected")
		return
	}
	w.Header().Set("Location", "//"+leader+path)
	w.WriteHeader(http.StatusTemporaryRedirect)
}

// registrarMetrics adds the registry's figures to /metrics/snapshot, under
// Mesos's registrar/ names and, for Raft, registrar/raft/.
func (m *Master) registrarMetrics(out map[string]float64) {
	st := m.store.Stats()
	m.storeRuns.put(out, "registrar/state_store_ms")
	out["registrar/queued_operations"] = 0
	out["registrar/registry_size_bytes"] = float64(st.RegistrySizeBytes)
	out["registrar/state_fetch_ms"] = float64(m.fetchTime.Load()) / 1e6
	out["registrar/log/recovered"] = 0
	if m.recovered.Load() {
		out["registrar/log/recovered"] = 1
	}
	out["registrar/log/ensemble_size"] = float64(st.Peers)
	raftState := map[string]float64{"Follower": 0, "Candidate": 1, "Leader": 2, "Shutdown": 3}
	out["registrar/raft/state"] = raftState[st.State]
	out["registrar/raft/leader_changes"] = float64(st.LeaderChanges)
	out["registrar/raft/applied_index"] = float64(st.AppliedIndex)
	out["registrar/raft/commit_index"] = float64(st.CommitIndex)
	out["registrar/raft/snapshots"] = float64(st.Snapshots)
	out["registrar/raft/hurried_elections"] = float64(st.HurriedElections)
	out["master/elections"] = float64(m.elections.Load())
	if m.role.Load() != roleLeading {
		out["master/elected"] = 0
	}
}
