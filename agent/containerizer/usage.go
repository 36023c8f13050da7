package containerizer

import (
	"path/filepath"
	"time"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// Usage implements Containerizer, as Mesos's containerizer does: the time
// of measurement, what every isolator that measures (a Measurer, or a
// ProcessMeasurer given the container's processes) counted, and the
// container's cpus and mem resources as cpus_limit and mem_limit_bytes. An
// isolator that fails to measure is left out, with a warning: the others'
// counters are still worth having.
func (p *Posix) Usage(id string) (*mesos.ResourceStatistics, error) {
	c, err := p.pin(id, false)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, ErrUnknownContainer // ending
	}
	defer p.unpin(c)
	p.mu.Lock()
	resources := c.resources
	root := c.root
	if c.hosted {
		root = c.task.Pid // the task's session; the executor is the host's
	}
	p.mu.Unlock()
	if c.hosted && root == 0 {
		root = p.recordedTask(c).Pid
	}

	st := &mesos.ResourceStatistics{Timestamp: ptr(float64(time.Now().UnixNano()) / 1e9)}
	var procs []ProcessUsage
	read := false
	for _, iso := range p.opts.Isolators {
		if m, ok := iso.(Measurer); ok {
			if err := m.Usage(id, st); err != nil {
				p.log.Warn("an isolator failed to measure a container", "isolator", iso.Name(), "container", id, "err", err)
			}
		}
		if m, ok := iso.(ProcessMeasurer); ok {
			if !read && root > 0 {
				procs, read = processesOf(root), true
			}
			m.UsageOfProcesses(procs, st)
		}
	}
	setLimits(resources, st)
	return st, nil
}

// setLimits sets cpus_limit and mem_limit_bytes from the resources' cpus
// and mem, where they have them.
func setLimits(resources []*mesos.Resource, st *mesos.ResourceStatistics) {
	cpus, mem, haveCPUs, haveMem := cpusAndMem(resources)
	if haveCPUs {
		st.CpusLimit = ptr(cpus)
	}
	if haveMem {
		st.MemLimitBytes = ptr(uint64(mem * (1 << 20)))
	}
}

// cpusAndMem sums the scalar cpus and mem (MB) of resources, saying which
// of the two they have at all.
func cpusAndMem(resources []*mesos.Resource) (cpus, mem float64, haveCPUs, haveMem bool) {
	for _, r := range resources {
		if r.GetType() != mesos.Value_SCALAR {
			continue
		}
		switch r.GetName() {
		case "cpus":
			cpus += r.GetScalar().GetValue()
			haveCPUs = true
		case "mem":
			mem += r.GetScalar().GetValue()
			haveMem = true
		}
	}
	return cpus, mem, haveCPUs, haveMem
}

// recordedTask is a hosted container's task process as the host recorded it
// in its journal (or, an earlier version, in pids.json), for when the
// host's "started" event has not reached this agent: the host writes the
// record before it queues the event, and may die, or be slow to send,
// between the two. The zero record when there is none yet; one found is
// kept as the container's.
func (p *Posix) recordedTask(c *container) procRecord {
	var rec pidsRecord
	if readJSON(filepath.Join(c.runDir, pidsFile), &rec) != nil || rec.Task == nil {
		journal, err := readHostTasks(p.runtimeDir())
		if err != nil {
			p.log.Warn("reading the executor host's task records", "container", c.spec.ID, "err", err)
		}
		e, ok := journal[c.spec.ID]
		if !ok || e.RunDir != c.runDir {
			return procRecord{}
		}
		rec = e.pids()
	}
	p.mu.Lock()
	if c.task.Pid == 0 {
		c.task = *rec.Task
	}
	p.mu.Unlock()
	return *rec.Task
}
