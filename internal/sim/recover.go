package sim

// recover is the start of a restarted agent process whose machine ran on:
// the containerizer finds the containers that still run (and the ends of
// those that ended meanwhile), and kills those the checkpoint does not
// know (orphans), as the real containerizer's recovery does.
func (a *simAgent) recover() {
	for _, cid := range sortedKeys(a.containers) {
		e := a.containers[cid]
		e.orphan = true
		a.w.report.Faults.Orphans++
		e.tracef("orphan container %s: killed", shortID(cid))
		e.destroy()
	}
	clear(a.exited)
}
