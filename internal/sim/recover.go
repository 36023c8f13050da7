package sim

import (
	"slices"
	"time"

	agentcore "github.com/gomesos/gomesos/agent/core"
)

// recover is the start of a restarted agent process whose machine ran on,
// as the agent's driver does it: it reads the checkpoint back from the
// durable store (DecodeCheckpoint), has the containerizer find the
// checkpointed containers (alive, or ended while the agent was down, with
// their wait status) and kill the containers the checkpoint does not know
// (orphans: the executors of frameworks that do not checkpoint), and feeds
// the core Recover before Start.
func (a *simAgent) recover() {
	w := a.w
	st, err := agentcore.DecodeCheckpoint(a.store)
	if err != nil {
		w.fail("checkpoint-decodes", "a%d: the checkpoint the core wrote does not decode: %v", a.idx, err)
		return
	}
	var found []agentcore.RecoveredContainer
	for _, cid := range st.ContainerIDs {
		switch e, status := a.containers[cid], -1; {
		case e != nil:
			found = append(found, agentcore.RecoveredContainer{ContainerID: cid, Pid: e.pid, Alive: true})
			if w.chance(w.cfg.Faults.ExecutorStall) {
				w.report.Faults.ExecutorStalls++
				e.stalledUntil = w.now + w.uniform(2*time.Second, 10*time.Second)
				e.tracef("FAULT stalled for %v", e.stalledUntil-w.now)
			}
		default:
			if s, ok := a.exited[cid]; ok {
				status = s
			}
			found = append(found, agentcore.RecoveredContainer{ContainerID: cid, Status: status})
		}
	}
	for _, cid := range sortedKeys(a.containers) {
		if slices.Contains(st.ContainerIDs, cid) {
			continue
		}
		e := a.containers[cid]
		e.orphan = true
		w.report.Faults.Orphans++
		e.tracef("orphan container %s: killed", shortID(cid))
		e.destroy()
	}
	clear(a.exited)
	a.tracef("recovers agent %q: %d checkpointed containers, %d alive", st.AgentID, len(found), countAlive(found))
	a.step(agentcore.Recover{State: st, Containers: found})
}

func countAlive(cs []agentcore.RecoveredContainer) int {
	n := 0
	for _, c := range cs {
		if c.Alive {
			n++
		}
	}
	return n
}
