package containerizer

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Recovered is a container that Recover found running and adopted.
type Recovered struct {
	ID string
	// Pid is the executor's.
	Pid int
	// Directory is the sandbox, as recorded at launch.
	Directory string
}

// rootAdopter is an isolator that follows a container's processes from
// its first one: Recover tells it each container it adopts.
type rootAdopter interface {
	adopt(id string, root int)
}

// recovery is what the runtime directory says of one container.
type recovery struct {
	id       string
	dir      string
	launch   launchRecord
	pids     pidsRecord
	havePids bool
	// recorded: it has a launch record (its launch.json, or the host's
	// journal's line).
	recorded bool
	// journalOnly: it has no runtime directory, only the host's journal
	// lines (a hosted container before its executor ended, or one ended,
	// reported and forgotten whose lines are yet to be dropped).
	journalOnly bool
}

// Recover implements Containerizer. An adopted container is signalled,
// updated and destroyed like a launched one, and its end is reported
// through OnExit with the wait status its supervisor recorded (when it was
// destroyed without one: SIGKILL's; when there is none otherwise, an
// unknown status, -1). A recorded process counts as running only if a
// process with its pid is alive, started at the recorded time, in the
// recorded boot; a pid since given to another process is not mistaken for
// it.
func (p *Posix) Recover(known []string) ([]Recovered, error) {
	base := filepath.Join(p.runtimeDir(), containersDir)
	entries, err := os.ReadDir(base)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("containerizer: recover: %w", err)
	}
	want := make(map[string]bool, len(known))
	for _, id := range known {
		want[id] = true
	}
	boot := bootID()
	// The executor host's records of the tasks it started.
	journal, err := readHostTasks(p.runtimeDir())
	if err != nil {
		p.log.Warn("recovering without the executor host's task records", "err", err)
	}
	found := make(map[string]bool, len(entries))
	var adopted []Recovered
	var hosted []recovery
	for _, e := range entries {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		r := readRecovery(base, e.Name(), journal)
		found[r.id] = true
		p.mu.Lock()
		taken := p.containers[r.id] != nil || p.starting[r.id]
		p.mu.Unlock()
		if taken {
			// Launched or adopted by this containerizer already: neither
			// an orphan nor one to adopt again.
			p.log.Warn("not recovering a container that this containerizer runs", "container", r.id)
			continue
		}
		// A hosted container's records name the host as its root: they
		// must never be taken for a supervised container's, whose root's
		// session is killed with it. Its processes' record says so even
		// when its launch record is gone (an earlier containerizer in this
		// process removing it right now, say). One with no record at all
		// may be a hosted launch whose record the host had not yet
		// written: the host says whether it runs it.
		if r.launch.Hosted || (r.havePids && (r.pids.Hosted || r.pids.Task != nil)) || (!r.recorded && !r.havePids) {
			hosted = append(hosted, r)
			continue
		}
		if !want[r.id] {
			p.destroyOrphan(r, boot)
			continue
		}
		if r.havePids && r.pids.BootID != "" && r.pids.BootID == boot {
			if w, ok := watchProc(r.pids.Root.Pid, r.pids.Root.StartTime); ok {
				c := &container{
					spec:       Spec{ID: r.id, Directory: r.launch.Directory},
					watch:      w,
					pid:        r.pids.Executor.Pid,
					root:       r.pids.Root.Pid,
					supervised: r.launch.Supervised,
					runDir:     r.dir,
					done:       make(chan struct{}),
				}
				p.adopt(c, c.root, p.waitRecovered)
				p.log.Info("recovered container", "container", r.id, "pid", c.pid, "supervisor", supervisorPid(c), "dir", c.spec.Directory)
				adopted = append(adopted, Recovered{ID: r.id, Pid: c.pid, Directory: c.spec.Directory})
				continue
			}
		}
		p.endedAway(r, func() { p.sweepEnded(r, boot) })
	}
	// A hosted container has no runtime directory until its executor
	// ends: the host's journal is all that records it.
	for id, e := range journal {
		if found[id] || e.RunDir != filepath.Join(base, id) {
			continue
		}
		found[id] = true
		p.mu.Lock()
		taken := p.containers[id] != nil || p.starting[id]
		p.mu.Unlock()
		if taken {
			continue
		}
		hosted = append(hosted, recovery{id: id, dir: e.RunDir, launch: e.launch(), pids: e.pids(), havePids: true, recorded: true, journalOnly: true})
	}
	adopted = append(adopted, p.recoverHosted(hosted, want, boot)...)
	for _, id := range known {
		if found[id] {
			continue
		}
		p.log.Warn("the runtime directory has no record of a container; taking it as ended", "container", id)
		p.mu.Lock()
		p.wg.Add(1)
		p.mu.Unlock()
		go func() {
			defer p.wg.Done()
			p.report(Termination{ID: id, Status: -1})
		}()
	}
	var adoptedIDs []string
	for _, r := range adopted {
		adoptedIDs = append(adoptedIDs, r.ID)
		for _, iso := range p.opts.Isolators {
			if a, ok := iso.(rootAdopter); ok {
				p.mu.Lock()
				root := 0
				if c := p.containers[r.ID]; c != nil {
					root = c.root
				}
				p.mu.Unlock()
				a.adopt(r.ID, root)
			}
		}
	}
	for _, iso := range p.opts.Isolators {
		if r, ok := iso.(Recoverer); ok {
			if err := r.RecoverIsolation(adoptedIDs); err != nil {
				p.log.Warn("isolator recovery", "isolator", iso.Name(), "err", err)
			}
		}
	}
	return adopted, nil
}

// adopt makes the recovered container c one of this containerizer's and
// has follow, on a goroutine of its own, wait for its end. Before that end
// can be reported (and its isolators cleaned up), the isolators that keep
// something per container hear of it, by the process pid.
func (p *Posix) adopt(c *container, pid int, follow func(*container)) {
	for _, iso := range p.opts.Isolators {
		if a, ok := iso.(Adopter); ok {
			if err := a.Adopt(c.spec, pid); err != nil {
				p.log.Warn("isolator cannot adopt a recovered container", "isolator", iso.Name(), "container", c.spec.ID, "err", err)
			}
		}
	}
	p.mu.Lock()
	p.containers[c.spec.ID] = c
	p.wg.Add(1)
	p.mu.Unlock()
	go follow(c)
}

// readRecovery reads a container's records; what is missing or unreadable
// stays zero. A hosted container (or one whose launch record is missing)
// without a pids.json of its own that the executor host's journal names
// has the journal's record: its launch (a hosted container of this
// version has no launch.json) and its processes.
func readRecovery(base, name string, journal map[string]hostTaskEntry) recovery {
	r := recovery{id: name, dir: filepath.Join(base, name)}
	r.recorded = readJSON(filepath.Join(r.dir, launchFile), &r.launch) == nil
	r.havePids = readJSON(filepath.Join(r.dir, pidsFile), &r.pids) == nil
	if e, ok := journal[name]; ok && !r.havePids && (r.launch.Hosted || !r.recorded) {
		if !r.recorded {
			r.launch, r.recorded = e.launch(), true
		}
		r.pids, r.havePids = e.pids(), true
	}
	return r
}

// waitRecovered follows an adopted container until its root process has
// exited, sweeps up what is left in its session, and reports the end.
func (p *Posix) waitRecovered(c *container) {
	defer p.wg.Done()
	c.watch.wait()
	// The watch keeps the root's pid, the session's and group's ID, from
	// being reused until it is closed.
	killTrees([]target{{0, c.root}}, true)
	p.mu.Lock()
	c.reaping = true
	for c.pins > 0 {
		p.unpinned.Wait()
	}
	destroyed := c.destroyed
	p.mu.Unlock()
	c.watch.close()
	status, ok := readStatus(c.runDir)
	switch {
	case ok:
	case destroyed:
		status = int(syscall.SIGKILL) // the wait status of a process SIGKILL ended
	default:
		status = -1
	}
	p.finish(c, status)
}

// sweepEnded kills what a container that ended unwatched may have left:
// its executor, if that still runs (its supervisor was killed, say), and
// every process in its session. The session's ID is its first process's
// pid, which the kernel does not give to a new process while the session
// has members; but once the session is empty it may have been, and a live
// process with that pid and another start time may lead a session of its
// own, which is then left alone.
func (p *Posix) sweepEnded(r recovery, boot string) {
	if !r.havePids || r.pids.BootID == "" || r.pids.BootID != boot {
		return
	}
	var targets []target
	ex := r.pids.Executor
	if ex.Pid != r.pids.Root.Pid && sameProcess(ex.Pid, ex.StartTime) {
		targets = append(targets, target{root: ex.Pid})
	}
	start, zombie, alive := procIdentity(r.pids.Root.Pid)
	if !alive || (zombie && start == r.pids.Root.StartTime) {
		targets = append(targets, target{sid: r.pids.Root.Pid})
	}
	if len(targets) > 0 {
		if n := killTrees(targets, true); n > 0 {
			p.log.Info("killed what an ended container left running", "container", r.id, "processes", n)
		}
	}
}

// destroyOrphan kills a container the agent does not know and removes its
// records.
func (p *Posix) destroyOrphan(r recovery, boot string) {
	p.log.Info("destroying an orphaned container", "container", r.id, "dir", r.launch.Directory)
	if r.havePids && r.pids.BootID != "" && r.pids.BootID == boot {
		if w, ok := watchProc(r.pids.Root.Pid, r.pids.Root.StartTime); ok {
			// Held open, the watch keeps the pid from reuse while killing.
			killTrees([]target{{r.pids.Root.Pid, r.pids.Root.Pid}}, true)
			w.close()
		} else {
			p.sweepEnded(r, boot)
		}
	}
	p.cleanupIsolators(r.id)
	p.removeRunDir(r.dir)
}

// endedAway reports a container that ended while the agent was away, in
// the background: sweep kills what is left of it, its isolators clean up,
// its end is reported with the status it recorded, and its runtime
// directory goes.
func (p *Posix) endedAway(r recovery, sweep func()) {
	p.log.Info("container ended while the agent was away", "container", r.id)
	p.mu.Lock()
	p.wg.Add(1)
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		sweep()
		p.cleanupIsolators(r.id)
		status, ok := readStatus(r.dir)
		if !ok {
			status = -1
		}
		p.report(Termination{ID: r.id, Pid: r.pids.Executor.Pid, Status: status})
		p.removeRunDir(r.dir)
	}()
}
