//go:build linux

package containerizer

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/cgroups/v3/cgroup1"
	"github.com/containerd/cgroups/v3/cgroup2"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/internal/ids"
)

// Mesos's cgroups constants (src/slave/containerizer/mesos/isolators/
// cgroups/constants.hpp).
const (
	cpuSharesPerCPU = 1024
	minCPUShares    = 2
	cfsPeriod       = 100 * time.Millisecond
	minCFSQuota     = time.Millisecond
	minMemory       = 32 << 20
)

// v1Controllers are the v1 hierarchies a container's cgroup is made in;
// freezer is always needed, to kill.
var v1Controllers = []string{"cpu", "cpuacct", "memory", "pids", "freezer"}

// DetectCgroups reads /proc/self/mountinfo and tells which cgroup version
// the isolator would use, or why it cannot. It does not check that the
// hierarchies are writable; CgroupsWritable does.
func DetectCgroups() (CgroupHost, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return CgroupHost{}, fmt.Errorf("detect cgroups: %w", err)
	}
	defer f.Close()
	v1 := map[string]string{}
	unified := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// id parent major:minor root mountpoint options ... - fstype source superoptions
		fields := strings.Fields(sc.Text())
		sep := slices.Index(fields, "-")
		if sep < 5 || sep+3 >= len(fields) {
			continue
		}
		mount, fstype, super := fields[4], fields[sep+1], fields[sep+3]
		switch fstype {
		case "cgroup":
			for _, opt := range strings.Split(super, ",") {
				if slices.Contains(v1Controllers, opt) {
					if _, ok := v1[opt]; !ok {
						v1[opt] = mount
					}
				}
			}
		case "cgroup2":
			if unified == "" || mount == "/sys/fs/cgroup" {
				unified = mount
			}
		}
	}
	if err := sc.Err(); err != nil {
		return CgroupHost{}, fmt.Errorf("detect cgroups: read /proc/self/mountinfo: %w", err)
	}
	if len(v1) > 0 {
		var missing []string
		for _, c := range v1Controllers {
			if v1[c] == "" {
				missing = append(missing, c)
			}
		}
		if len(missing) == 0 {
			return CgroupHost{Version: 1, Mounts: v1}, nil
		}
		if unified == "" {
			return CgroupHost{}, fmt.Errorf("cgroups v1 hierarchies %s are not mounted", strings.Join(missing, ", "))
		}
	}
	if unified == "" {
		return CgroupHost{}, errors.New("no cgroup hierarchy is mounted")
	}
	b, err := os.ReadFile(filepath.Join(unified, "cgroup.controllers"))
	if err != nil {
		return CgroupHost{}, fmt.Errorf("detect cgroups: %w", err)
	}
	have := strings.Fields(string(b))
	for _, c := range []string{"cpu", "memory", "pids"} {
		if !slices.Contains(have, c) {
			return CgroupHost{}, fmt.Errorf("the cgroup2 hierarchy at %s does not offer the %s controller", unified, c)
		}
	}
	return CgroupHost{Version: 2, Mounts: map[string]string{"": unified}}, nil
}

// CgroupsWritable reports whether the agent may create cgroups below root
// (it creates the root cgroup itself when missing, as Mesos does).
func CgroupsWritable(h CgroupHost, root string) error {
	if os.Geteuid() != 0 {
		return errors.New("the agent does not run as root")
	}
	for _, m := range h.Mounts {
		dir := filepath.Join(m, root)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("create cgroup %s: %w", dir, err)
		}
		if err := syscall.Access(filepath.Join(dir, "cgroup.procs"), 2); err != nil {
			return fmt.Errorf("cgroup %s is not writable: %w", dir, err)
		}
	}
	return nil
}

// Cgroups is the cgroups/cpu, cgroups/mem and cgroups/pids isolator: one
// cgroup per container, named by its ID, below Root in each hierarchy (v1)
// or in the unified hierarchy (v2). Its processes join it through the
// supervisor, before the executor starts; it is killed by freezing it and
// killing every process in it, and removed once they are gone.
type Cgroups struct {
	opts CgroupsOptions
	host CgroupHost
	log  *slog.Logger

	mu      sync.Mutex
	limited func(id string)
	limits  map[string]*Limitation
	watched map[string]chan struct{} // closed when the OOM watch ends
}

var (
	_ Isolator = (*Cgroups)(nil)
	_ Killer   = (*Cgroups)(nil)
)

// NewCgroups returns the cgroups isolator for host.
func NewCgroups(host CgroupHost, opts CgroupsOptions) (*Cgroups, error) {
	if opts.Root == "" {
		return nil, errors.New("cgroups isolator: --cgroups_root is empty")
	}
	if clean := filepath.Clean("/" + opts.Root); clean == "/" || strings.Contains(opts.Root, "..") {
		return nil, fmt.Errorf("cgroups isolator: --cgroups_root %q is not a cgroup name", opts.Root)
	}
	if opts.PidsMax == 0 {
		opts.PidsMax = DefaultPidsMax
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Cgroups{opts: opts, host: host, log: log, limits: map[string]*Limitation{}, watched: map[string]chan struct{}{}}, nil
}

// Name implements Isolator: the isolators it stands for, as --isolation
// names them.
func (g *Cgroups) Name() string {
	var n []string
	if g.opts.CPU {
		n = append(n, "cgroups/cpu")
	}
	if g.opts.Mem {
		n = append(n, "cgroups/mem")
	}
	if g.opts.Pids {
		n = append(n, "cgroups/pids")
	}
	return strings.Join(n, ",")
}

// Version is the cgroup version in use.
func (g *Cgroups) Version() int { return g.host.Version }

// rel is the container's cgroup, relative to a hierarchy's root.
func (g *Cgroups) rel(id string) string {
	return filepath.Join("/", g.opts.Root, id)
}

// Paths are the container's cgroup directories, one per hierarchy.
func (g *Cgroups) Paths(id string) []string {
	var out []string
	if g.host.Version == 2 {
		return []string{filepath.Join(g.host.Mounts[""], g.rel(id))}
	}
	seen := map[string]bool{}
	for _, c := range v1Controllers {
		p := filepath.Join(g.host.Mounts[c], g.rel(id))
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// MemoryPath is the container's memory cgroup directory.
func (g *Cgroups) MemoryPath(id string) string {
	if g.host.Version == 2 {
		return filepath.Join(g.host.Mounts[""], g.rel(id))
	}
	return filepath.Join(g.host.Mounts["memory"], g.rel(id))
}

// hierarchy is the v1 hierarchy limited to the controllers used here.
func (g *Cgroups) hierarchy() ([]cgroup1.Subsystem, error) {
	all, err := cgroup1.Default()
	if err != nil {
		return nil, err
	}
	var out []cgroup1.Subsystem
	for _, s := range all {
		if slices.Contains(v1Controllers, string(s.Name())) {
			out = append(out, s)
		}
	}
	return out, nil
}

// limitsOf are the container's limits from its resources, as Mesos
// computes them.
type limitsOf struct {
	shares       uint64
	quota        int64 // microseconds per period; 0 without CFS
	memory       int64 // bytes; 0 without cgroups/mem or mem
	pids         int64
	haveCPU, mem bool
}

func (g *Cgroups) limitsFor(resources []*mesos.Resource) limitsOf {
	var cpus, mem float64
	var haveCPU, haveMem bool
	for _, r := range resources {
		if r.GetType() != mesos.Value_SCALAR {
			continue
		}
		switch r.GetName() {
		case "cpus":
			cpus += r.GetScalar().GetValue()
			haveCPU = true
		case "mem":
			mem += r.GetScalar().GetValue()
			haveMem = true
		}
	}
	l := limitsOf{pids: g.opts.PidsMax}
	if g.opts.CPU && haveCPU {
		l.haveCPU = true
		l.shares = max(uint64(cpuSharesPerCPU*cpus), minCPUShares)
		if g.opts.EnableCFS {
			l.quota = max(int64(cpus*float64(cfsPeriod.Microseconds())), minCFSQuota.Microseconds())
		}
	}
	if g.opts.Mem && haveMem {
		l.mem = true
		l.memory = max(int64(mem*(1<<20)), minMemory)
	}
	return l
}

func (l limitsOf) v1() *specs.LinuxResources {
	r := &specs.LinuxResources{}
	if l.haveCPU {
		shares := l.shares
		r.CPU = &specs.LinuxCPU{Shares: &shares}
		if l.quota > 0 {
			quota, period := l.quota, uint64(cfsPeriod.Microseconds())
			r.CPU.Quota, r.CPU.Period = &quota, &period
		}
	}
	if l.mem {
		limit, disable := l.memory, true
		// The kernel's OOM killer is disabled in the container's cgroup:
		// a container over its limit stalls until the isolator, told by
		// the OOM notification, destroys it, so that its end is always
		// reported as the memory limitation (Mesos lets the kernel kill a
		// process, after which an executor may report its task first).
		r.Memory = &specs.LinuxMemory{Limit: &limit, DisableOOMKiller: &disable}
	}
	if l.pids > 0 {
		r.Pids = &specs.LinuxPids{Limit: ptr(l.pids)}
	}
	return r
}

func (l limitsOf) v2() *cgroup2.Resources {
	r := &cgroup2.Resources{}
	if l.haveCPU {
		// cpu.weight from shares, as runc converts them.
		weight := 1 + ((l.shares-2)*9999)/262142
		r.CPU = &cgroup2.CPU{Weight: &weight}
		if l.quota > 0 {
			r.CPU.Max = cgroup2.NewCPUMax(&l.quota, ptr(uint64(cfsPeriod.Microseconds())))
		}
	}
	if l.mem {
		r.Memory = &cgroup2.Memory{Max: ptr(l.memory)}
	}
	if l.pids > 0 {
		r.Pids = &cgroup2.Pids{Max: l.pids}
	}
	return r
}

// Prepare implements Isolator: it creates the container's cgroup with its
// limits and has the supervisor join it before the executor starts.
func (g *Cgroups) Prepare(spec *Spec, cmd *exec.Cmd) error {
	if err := ids.Validate(spec.ID); err != nil {
		return fmt.Errorf("container ID %q: %w", spec.ID, err)
	}
	// A cgroup left by an earlier container of the same ID goes first.
	if err := g.remove(spec.ID); err != nil {
		return err
	}
	l := g.limitsFor(spec.Resources)
	if g.host.Version == 2 {
		if _, err := cgroup2.NewManager(g.host.Mounts[""], g.rel(spec.ID), l.v2()); err != nil {
			_ = g.remove(spec.ID)
			return fmt.Errorf("create cgroup %s: %w", g.rel(spec.ID), err)
		}
	} else {
		if _, err := cgroup1.New(cgroup1.StaticPath(g.rel(spec.ID)), l.v1(), cgroup1.WithHierarchy(g.hierarchy)); err != nil {
			_ = g.remove(spec.ID)
			return fmt.Errorf("create cgroup %s: %w", g.rel(spec.ID), err)
		}
	}
	if len(cmd.Args) > 1 && cmd.Args[1] == SuperviseArg {
		var procs []string
		for _, p := range g.Paths(spec.ID) {
			procs = append(procs, filepath.Join(p, "cgroup.procs"))
		}
		env := cmd.Env
		if env == nil {
			env = os.Environ()
		}
		cmd.Env = append(env[:len(env):len(env)], cgroupProcsEnv+"="+strings.Join(procs, ":"))
	}
	if l.mem {
		if err := g.watchOOM(spec.ID, l.memory); err != nil {
			_ = g.remove(spec.ID)
			return err
		}
	}
	return nil
}

// Isolate implements Isolator: the container's first process joins the
// cgroup (a supervisor has already joined it itself).
func (g *Cgroups) Isolate(id string, pid int) error {
	for _, p := range g.Paths(id) {
		if err := os.WriteFile(filepath.Join(p, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
			return fmt.Errorf("move pid %d into cgroup %s: %w", pid, p, err)
		}
	}
	return nil
}

// Update implements Isolator.
func (g *Cgroups) Update(id string, resources []*mesos.Resource) error {
	l := g.limitsFor(resources)
	if g.host.Version == 2 {
		m, err := cgroup2.Load(g.rel(id), cgroup2.WithMountpoint(g.host.Mounts[""]))
		if err != nil {
			return fmt.Errorf("load cgroup %s: %w", g.rel(id), err)
		}
		return m.Update(l.v2())
	}
	c, err := cgroup1.Load(cgroup1.StaticPath(g.rel(id)), cgroup1.WithHierarchy(g.hierarchy))
	if err != nil {
		return fmt.Errorf("load cgroup %s: %w", g.rel(id), err)
	}
	return c.Update(l.v1())
}

// KillAll implements Killer: it freezes the container's cgroup, kills every
// process in it and thaws it, so that no process forks away meanwhile.
func (g *Cgroups) KillAll(id string) error {
	g.killOnce(id)
	return nil
}

// killWait kills the cgroup's processes until none is left (a few
// seconds at most).
func (g *Cgroups) killWait(id string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		pids, err := g.pids(id)
		if err != nil || len(pids) == 0 {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup %s still holds processes %v", g.rel(id), pids)
		}
		g.killOnce(id)
		time.Sleep(5 * time.Millisecond)
	}
}

// killOnce freezes, kills every member and thaws.
func (g *Cgroups) killOnce(id string) {
	if g.host.Version == 2 {
		if m, err := cgroup2.Load(g.rel(id), cgroup2.WithMountpoint(g.host.Mounts[""])); err == nil {
			if err := m.Kill(); err != nil {
				g.log.Warn("killing the cgroup's processes", "cgroup", g.rel(id), "err", err)
			}
		}
		return
	}
	freezer := filepath.Join(g.host.Mounts["freezer"], g.rel(id))
	// A process stalled at its memory limit may not freeze; it is killed
	// all the same, and the cgroup is thawed whatever the freeze did.
	if err := writeFreezer(freezer, "FROZEN"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		g.log.Debug("freezing a cgroup", "cgroup", freezer, "err", err)
	}
	pids, _ := g.pids(id)
	for _, pid := range pids {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
	if err := writeFreezer(freezer, "THAWED"); err != nil && !errors.Is(err, fs.ErrNotExist) {
		g.log.Warn("thawing a cgroup", "cgroup", freezer, "err", err)
	}
}

// writeFreezer sets freezer.state and waits until it is reached.
func writeFreezer(dir, state string) error {
	f := filepath.Join(dir, "freezer.state")
	if err := os.WriteFile(f, []byte(state), 0); err != nil {
		return err
	}
	deadline := time.Now().Add(500 * time.Millisecond)
	for {
		b, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if strings.TrimSpace(string(b)) == state {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s stays %s", f, strings.TrimSpace(string(b)))
		}
		_ = os.WriteFile(f, []byte(state), 0)
		time.Sleep(time.Millisecond)
	}
}

// pids lists every process in the container's cgroups.
func (g *Cgroups) pids(id string) ([]int, error) {
	var out []int
	for _, p := range g.Paths(id) {
		err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if !d.IsDir() {
				return nil
			}
			b, err := os.ReadFile(filepath.Join(path, "cgroup.procs"))
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			for _, f := range strings.Fields(string(b)) {
				if pid, err := strconv.Atoi(f); err == nil && !slices.Contains(out, pid) {
					out = append(out, pid)
				}
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("list the processes of cgroup %s: %w", p, err)
		}
	}
	return out, nil
}

// Pids lists the processes in the container's cgroup (tests use it).
func (g *Cgroups) Pids(id string) ([]int, error) { return g.pids(id) }

// Cleanup implements Isolator: it kills whatever is left in the cgroup and
// removes it.
func (g *Cgroups) Cleanup(id string) error {
	err := g.remove(id)
	g.mu.Lock()
	w := g.watched[id]
	delete(g.watched, id)
	delete(g.limits, id)
	g.mu.Unlock()
	if w != nil {
		// The watch ends once the cgroup is gone (its removal signals the
		// OOM eventfd, or empties memory.events' watch).
		select {
		case <-w:
		case <-time.After(5 * time.Second):
			g.log.Warn("the OOM watch of a removed cgroup did not end", "container", id)
		}
	}
	return err
}

// remove kills the cgroup's processes and removes the cgroup from every
// hierarchy (its children first).
func (g *Cgroups) remove(id string) error {
	if err := g.killWait(id); err != nil {
		return err
	}
	var errs []error
	for _, p := range g.Paths(id) {
		if err := removeCgroupDir(p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeCgroupDir removes a cgroup directory and the cgroups below it. A
// cgroup whose last process has just died may refuse for a moment (EBUSY).
func removeCgroupDir(dir string) error {
	var subdirs []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			subdirs = append(subdirs, path)
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("remove cgroup %s: %w", dir, err)
	}
	for i := len(subdirs) - 1; i >= 0; i-- {
		deadline := time.Now().Add(5 * time.Second)
		for {
			err := syscall.Rmdir(subdirs[i])
			if err == nil || errors.Is(err, syscall.ENOENT) {
				break
			}
			if !errors.Is(err, syscall.EBUSY) || time.Now().After(deadline) {
				return fmt.Errorf("remove cgroup %s: %w", subdirs[i], err)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return nil
}

// RecoverIsolation implements Recoverer. The cgroups of the orphans the
// runtime directory knows are removed by their Cleanup; what is left below
// Root and not adopted is a cgroup whose container no record names. An
// empty one is removed. One that still holds processes is left alone, with
// a warning: it may be another agent's on the same host (Mesos, which
// expects one agent per host, kills it); so is an empty one made in the
// last 30 seconds.
func (g *Cgroups) RecoverIsolation(adopted []string) error {
	seen := map[string]bool{}
	var errs []error
	for _, m := range g.host.Mounts {
		entries, err := os.ReadDir(filepath.Join(m, g.opts.Root))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			errs = append(errs, fmt.Errorf("list cgroups: %w", err))
			continue
		}
		for _, e := range entries {
			id := e.Name()
			if !e.IsDir() || seen[id] || slices.Contains(adopted, id) || ids.Validate(id) != nil {
				continue
			}
			seen[id] = true
			pids, err := g.pids(id)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if len(pids) > 0 {
				g.log.Warn("leaving a cgroup no container record names, which holds processes (another agent's?)", "cgroup", g.rel(id), "pids", len(pids))
				continue
			}
			// Another agent's container may be between its cgroup's
			// creation and its supervisor's joining it.
			if info, err := e.Info(); err == nil && time.Since(info.ModTime()) < freshCgroup {
				continue
			}
			g.log.Info("removing an empty cgroup left by an earlier agent", "cgroup", g.rel(id))
			if err := g.remove(id); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, id := range adopted {
		if mem := g.memoryLimit(id); mem > 0 {
			if err := g.watchOOM(id, mem); err != nil {
				g.log.Warn("cannot watch a recovered container's memory", "container", id, "err", err)
			}
		}
	}
	return errors.Join(errs...)
}

// freshCgroup is how long an empty cgroup no record names is taken as
// another agent's container about to start, rather than a leftover.
const freshCgroup = 30 * time.Second

// memoryLimit reads the container's memory limit; 0 when there is none.
func (g *Cgroups) memoryLimit(id string) int64 {
	if !g.opts.Mem {
		return 0
	}
	file := "memory.limit_in_bytes"
	if g.host.Version == 2 {
		file = "memory.max"
	}
	b, err := os.ReadFile(filepath.Join(g.MemoryPath(id), file))
	if err != nil {
		return 0
	}
	n, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n
}
