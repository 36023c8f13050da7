package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/gomesos/gomesos/api/agentproto"
	registrypb "github.com/gomesos/gomesos/api/registry"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/master/allocator"
	"github.com/gomesos/gomesos/master/core"
	"github.com/gomesos/gomesos/registry"
	"google.golang.org/protobuf/proto"
)

// Master failover, as the master's driver (package master, leader.go) and
// the other masters play it: the leading master crashes (a fault, or a
// registry commit that failed), what it had not committed is gone with
// it, every agent connection and framework stream it held breaks, and
// after an election another master starts a new Core from the registry
// (Recover). Agents find it and re-register; frameworks subscribe again
// with their ids and reconcile. While no master leads, what agents and
// frameworks send is refused (a follower answers 307 or 503), and so is
// what they sent to a master that is gone by the time it arrives.

// noLeader is the answer to what is sent while no master leads.
const noLeader = "no leading master"

// isBarrier reports whether an output must be handled in the Core's order,
// before the outputs after it: Persist and Abort.
func isBarrier(o core.Output) bool {
	switch o.(type) {
	case core.Persist, core.Abort:
		return true
	}
	return false
}

// commitAndCarryOut handles outs, which start with a barrier: the
// registry operations of every Persist among them are committed at once
// (in one Apply, as the driver does), then the outputs are carried out up
// to an Abort. A commit that fails applies nothing, carries out nothing
// and the master fails over.
func (w *world) commitAndCarryOut(outs []core.Output) {
	var ops []*registrypb.Operation
	for _, o := range outs {
		if p, ok := o.(core.Persist); ok {
			ops = append(ops, p.Ops...)
		}
	}
	if len(ops) > 0 {
		if w.phase == phaseRun && w.chance(w.cfg.Faults.RegistryWriteFailure) {
			w.report.Faults.RegistryWriteFailures++
			w.masterCrash(fmt.Sprintf("FAULT committing %d registry operations fails (%d outputs dropped)", len(ops), len(outs)))
			return
		}
		for _, op := range ops {
			registry.Apply(w.registry, op)
		}
	}
	for len(outs) > 0 {
		i := slices.IndexFunc(outs, isBarrier)
		if i < 0 {
			w.carryOut(outs)
			return
		}
		w.carryOut(outs[:i])
		if a, ok := outs[i].(core.Abort); ok {
			w.report.Faults.Aborts++
			w.masterCrash("the master gives up leading: " + a.Message)
			return
		}
		outs = outs[i+1:]
	}
}

// newMaster builds the Core of the next master elected: a new id, a new
// allocator, the same options.
func (w *world) newMaster() {
	w.masters++
	id := "sim"
	if w.masters > 1 {
		id = "sim-" + strconv.Itoa(w.masters)
	}
	ip, host := "10.0.0.1", "master.sim"
	info := &mesos.MasterInfo{
		Id: &id, Ip: proto.Uint32(0x0100000a), Port: proto.Uint32(5050), Pid: proto.String("master@10.0.0.1:5050"),
		Hostname: &host, Version: proto.String(core.Version),
		Address: &mesos.Address{Hostname: &host, Ip: &ip, Port: proto.Int32(5050)},
	}
	if w.alloc != nil {
		w.rejectedRecoveries += w.alloc.Stats().RejectedRecoveries
	}
	w.alloc = allocator.New(allocator.Options{AllocationInterval: w.opts.AllocationInterval, Seed: w.cfg.Seed + int64(w.masters-1)})
	w.core = core.NewCore(info, w.opts, w.alloc, w.clock())
	w.watchOperator()
}

// refused reports whether something sent to the master in term, arriving
// now, is refused: no master leads, or the one it went to is gone.
func (w *world) refused(term int, desc string) bool {
	if w.leading && w.term == term {
		return false
	}
	w.tracef("refused (no leading master): %s", desc)
	return true
}

// masterCrash: the leading master is gone. Every connection and stream it
// held breaks (each agent and framework notices after a while; the dead
// Core is told nothing), and an election follows.
func (w *world) masterCrash(why string) {
	if !w.leading {
		return
	}
	if w.strictFailover() {
		w.checkNoRemovals()
	}
	w.report.Faults.MasterFailovers++
	m := w.core.Metrics()
	for _, st := range terminalStates {
		w.pastEnds[metricName(st)] += m[metricName(st)]
	}
	maps.Copy(w.pastRecorded, w.masterTaskEnds())
	w.tracef("%s: the leading master %s crashes", why, w.core.Info().GetId())
	w.leading = false
	w.term++
	for _, id := range sortedKeys(w.conns) {
		c := w.conns[id]
		open := c.masterOpen
		c.masterOpen = false
		if c.broken || c.agentDone {
			delete(w.conns, id)
			continue
		}
		c.broken = true
		delete(w.conns, id)
		if open {
			w.carry(c.agent, w.now+w.detectDelay(), func() { c.agent.streamEnded(c, "the master is gone") })
		}
	}
	for _, id := range sortedKeys(w.streams) {
		s := w.streams[id]
		delete(w.streams, id)
		s.masterOpen = false
		if s.broken {
			continue
		}
		s.broken = true
		w.after(w.detectDelay(), func() { s.fw.streamEnded(s, "the master is gone") })
	}
	w.after(w.uniform(w.cfg.Faults.ElectionMin, w.cfg.Faults.ElectionMax), w.elect)
}

// elect: another master is elected. It recovers the registry and records
// itself in it.
func (w *world) elect() {
	w.newMaster()
	w.report.Faults.Elections++
	w.leading = true
	w.term++
	w.core.Recover(w.registry)
	w.tracef("ELECTED master %s: %d agents recovered from the registry", w.core.Info().GetId(), w.core.Recovered())
	w.dispatch(w.core.Outputs())
	w.checkRegistry()
}

// strictFailover reports whether the run's faults leave a failover, a
// lost message or a broken connection as the only reasons for an agent to
// leave the master: no agent crashes, restarts or partitions, and every
// framework checkpoints. Then no task may be reported lost and no agent
// removed (failover-harmless), given an AgentReregisterTimeout long enough
// for the agents to come back.
func (w *world) strictFailover() bool {
	f := w.cfg.Faults
	return (f.MasterFailover > 0 || f.RegistryWriteFailure > 0 || len(w.cfg.MasterFailovers) > 0) &&
		f.AgentCrash == 0 && f.AgentProcessCrash == 0 && f.AgentProcessRestart == 0 &&
		f.CrashMidStep == 0 && f.AgentPartition == 0 && len(w.cfg.ProcessCrashes) == 0 &&
		w.cfg.NoCheckpointShare == 0
}

// checkNoRemovals: failover-harmless: in a strict run (strictFailover)
// no agent that runs is marked unreachable or gone in the registry. (An
// agent id no agent holds any more may be: an agent whose REGISTERED was
// lost registers anew, and the master removes the id it was given.)
func (w *world) checkNoRemovals() {
	if w.failure != nil {
		return
	}
	removed := map[string]bool{}
	for _, u := range w.registry.GetUnreachable().GetAgents() {
		removed[u.GetId().GetValue()] = true
	}
	for _, g := range w.registry.GetGone().GetAgents() {
		removed[g.GetId().GetValue()] = true
	}
	for _, a := range w.agents {
		if a.core != nil && removed[a.core.AgentID()] {
			w.fail("failover-harmless", "a%d (%s) runs, but the registry has it unreachable or gone", a.idx, a.core.AgentID())
			return
		}
	}
}

// masterAgentIDs are the ids of the agents the leading master has admitted
// and heard from, and of those it recovered from the registry and still
// waits for, read from what it publishes (/master/slaves).
func (w *world) masterAgentIDs() (agents, recovered map[string]bool) {
	var b bytes.Buffer
	if err := w.core.Snapshot().WriteSlaves(&b, ""); err != nil {
		w.fail("registry-agrees", "writing /master/slaves: %v", err)
		return nil, nil
	}
	type agent struct {
		ID string `json:"id"`
	}
	var st struct {
		Slaves    []agent `json:"slaves"`
		Recovered []agent `json:"recovered_slaves"`
	}
	if err := json.Unmarshal(b.Bytes(), &st); err != nil {
		w.fail("registry-agrees", "decoding /master/slaves: %v", err)
		return nil, nil
	}
	agents, recovered = map[string]bool{}, map[string]bool{}
	for _, a := range st.Slaves {
		agents[a.ID] = true
	}
	for _, a := range st.Recovered {
		recovered[a.ID] = true
	}
	return agents, recovered
}

// checkRegistry: registry-agrees: the agents the registry holds admitted
// are the leading master's agents and the agents it recovered from the
// registry that have not re-registered yet (none both): the Core's copy of
// the registry and the registry agree.
func (w *world) checkRegistry() {
	if w.failure != nil || !w.leading {
		return
	}
	w.checkQuotas()
	agents, recovered := w.masterAgentIDs()
	if agents == nil {
		return
	}
	admitted := map[string]bool{}
	for _, a := range w.registry.GetAgents().GetAgents() {
		admitted[a.GetInfo().GetId().GetValue()] = true
	}
	var extra, both, missing []string
	for _, id := range sortedKeys(agents) {
		if !admitted[id] {
			extra = append(extra, id)
		}
		if recovered[id] {
			both = append(both, id)
		}
	}
	for _, id := range sortedKeys(recovered) {
		if !admitted[id] {
			extra = append(extra, id+" (recovered)")
		}
	}
	for _, id := range sortedKeys(admitted) {
		if !agents[id] && !recovered[id] {
			missing = append(missing, id)
		}
	}
	if len(extra)+len(both)+len(missing) > 0 || len(recovered) != w.core.Recovered() {
		w.fail("registry-agrees", "master %s (%d agents, %d recovered, Recovered() = %d) and the registry (%d admitted) disagree: the master has %v, which the registry does not admit; the registry admits %v, which the master lacks; %v are both admitted and recovered",
			w.core.Info().GetId(), len(agents), len(recovered), w.core.Recovered(), len(admitted), extra, missing, both)
	}
}

// checkMasterKnowsAgents: masters-know-agents: once the agents settled,
// the leading master has every agent that runs among its agents: none is
// stuck among the recovered ones. (The master may still wait for agent
// ids no agent has any more: an agent whose REGISTERED went down with the
// master that admitted it registers anew.)
func (w *world) checkMasterKnowsAgents() {
	if w.failure != nil {
		return
	}
	agents, recovered := w.masterAgentIDs()
	if agents == nil {
		return
	}
	for _, a := range w.agents {
		if !a.linkQuiet() {
			continue // down, or (a restart after it settled) on its way back
		}
		if id := a.core.AgentID(); !agents[id] || recovered[id] {
			w.fail("masters-know-agents", "a%d (%s) runs and settled, but master %s does not have it (recovered: %v)", a.idx, id, w.core.Info().GetId(), recovered[id])
			return
		}
	}
}

// masterEndsTask: failover-harmless: in a strict run, the master never
// reports a task its agent received lost, unreachable, gone or dropped:
// its agent stayed up and re-registered with it after every failover.
func (w *world) masterEndsTask(f *simFramework, t *fwTask, s *mesos.TaskStatus) {
	if !w.strictFailover() || s.GetSource() != mesos.TaskStatus_SOURCE_MASTER || t.terminal {
		return
	}
	switch s.GetState() {
	case mesos.TaskState_TASK_LOST, mesos.TaskState_TASK_UNREACHABLE, mesos.TaskState_TASK_GONE, mesos.TaskState_TASK_DROPPED,
		mesos.TaskState_TASK_GONE_BY_OPERATOR:
	default:
		return
	}
	if w.delivered[f.id+"/"+t.id] {
		w.fail("failover-harmless", "the master reported task %s/%s %s (%s: %s), though its agent has it and stayed up (states seen: %s)",
			f.id, t.id, s.GetState(), s.GetReason(), s.GetMessage(), compactStates(t.states))
	}
}

// checkAgentKept: failover-harmless: in a strict run, the master never
// shuts an agent down, nor a framework's executors on it while the
// framework has not torn itself down, and kills no task its framework did
// not kill.
func (w *world) checkAgentKept(a *simAgent, m *agentproto.MasterMessage) {
	if !w.strictFailover() {
		return
	}
	switch m.GetType() {
	case agentproto.MasterMessage_SHUTDOWN:
		w.fail("failover-harmless", "a%d (%s) was shut down: %s", a.idx, a.id(), m.GetMessage())
	case agentproto.MasterMessage_KILL_TASK:
		k := m.GetKillTask()
		for _, f := range w.frameworks {
			if t := f.byID[k.GetTaskId().GetValue()]; f.id == k.GetFrameworkId().GetValue() && t != nil && !t.killSent && !f.tearingDown {
				w.fail("failover-harmless", "a%d (%s) was told to kill task %s/%s, which its framework did not kill", a.idx, a.id(), f.id, t.id)
			}
		}
	case agentproto.MasterMessage_SHUTDOWN_FRAMEWORK:
		id := m.GetShutdownFramework().GetFrameworkId().GetValue()
		for _, f := range w.frameworks {
			if f.id == id && !f.tearingDown {
				w.fail("failover-harmless", "a%d (%s) was told to shut framework %s down, which has not torn itself down", a.idx, a.id(), id)
			}
		}
	}
}

// leakedFrameworks are the frameworks that tore themselves down but that
// the leading master holds again, recovered from an agent that still ran
// them when it re-registered after a failover (the master that took the
// TEARDOWN crashed before its SHUTDOWN_FRAMEWORK reached the agent, and
// the registry does not hold frameworks), with what each uses. Such a
// framework never subscribes again, so nothing ends it soon: Mesos's
// Master::recoverFramework starts no failover timeout (only a framework
// that subscribed to this master and then disconnected gets one), and the
// master keeps the framework, its tasks and executors until an operator
// tears it down; Gomesos's master removes it once its failover_timeout has
// passed (a week here: recoveredFrameworkDeadline in master/core). Until
// then its agents keep its executors and resend its updates, and the
// settling checks leave exactly these frameworks out (agentSettled,
// checkSettled).
func (w *world) leakedFrameworks() map[string]scalars {
	done := map[string]bool{}
	for _, f := range w.frameworks {
		if f.id != "" && f.state == fwDone {
			done[f.id] = true
		}
	}
	if len(done) == 0 {
		return nil
	}
	var b bytes.Buffer
	if err := w.core.Snapshot().WriteSummary(&b, ""); err != nil {
		w.fail("snapshot-agrees", "writing /master/state-summary: %v", err)
		return nil
	}
	var st struct {
		Frameworks []struct {
			ID        string          `json:"id"`
			Recovered bool            `json:"recovered"`
			Used      json.RawMessage `json:"used_resources"`
		} `json:"frameworks"`
	}
	if err := json.Unmarshal(b.Bytes(), &st); err != nil {
		w.fail("snapshot-agrees", "decoding /master/state-summary: %v", err)
		return nil
	}
	var leaked map[string]scalars
	for _, fv := range st.Frameworks {
		if !done[fv.ID] {
			continue
		}
		if !fv.Recovered {
			// It tore itself down; only a master that recovered it from
			// an agent may have it, and it never subscribed again.
			w.fail("master-agrees", "framework %s tore itself down, but master %s has it, not as recovered", fv.ID, w.core.Info().GetId())
			return nil
		}
		if leaked == nil {
			leaked = map[string]scalars{}
		}
		leaked[fv.ID] = jsonScalars(fv.Used)
	}
	return leaked
}
