//go:build linux

package containerizer

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
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
// freezer is always needed, to kill what outlasts plain kills. devices
// joins them with cgroups/devices.
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
				if slices.Contains(v1Controllers, opt) || opt == v1Devices {
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
// supervisor, before the executor starts; it is killed by killing every
// process in it (freezing it first when processes outlast that), and
// removed once they are gone.
type Cgroups struct {
	opts CgroupsOptions
	host CgroupHost
	log  *slog.Logger

	mu      sync.Mutex
	limited func(id string)
	limits  map[string]*Limitation
	watched map[string]*oomWatch
	// joined holds the containers whose supervisor joins the cgroups
	// itself, for which Isolate has nothing left to do.
	joined map[string]bool
	// subsystems is the v1 hierarchy (hierarchy), read once: finding it
	// parses /proc/self/mountinfo.
	subsystems []cgroup1.Subsystem

	// lifeMu orders updates against removal: an update of a container
	// whose cgroups are being removed, or are gone, is skipped, since
	// updating a v1 cpu cgroup creates its directory again (the cgroups
	// library's cpu controller updates by creating), which would then be
	// left behind. removing holds the containers whose removal began.
	lifeMu   sync.Mutex
	removing map[string]bool
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
	if opts.GPUs != nil && !opts.Devices {
		return nil, fmt.Errorf("cgroups isolator: %s needs %s", IsolatorGPUNvidia, IsolatorCgroupsDevices)
	}
	if opts.PidsMax == 0 {
		opts.PidsMax = DefaultPidsMax
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Cgroups{opts: opts, host: host, log: log, limits: map[string]*Limitation{}, watched: map[string]*oomWatch{},
		joined: map[string]bool{}}, nil
}

// Name implements Isolator: the isolators it stands for, as --isolation
// names them.
func (g *Cgroups) Name() string {
	var n []string
	if g.opts.CPU {
		n = append(n, IsolatorCgroupsCPU)
	}
	if g.opts.Mem {
		n = append(n, IsolatorCgroupsMem)
	}
	if g.opts.Pids {
		n = append(n, IsolatorCgroupsPids)
	}
	if g.opts.Devices {
		n = append(n, IsolatorCgroupsDevices)
	}
	if g.opts.GPUs != nil {
		n = append(n, IsolatorGPUNvidia)
	}
	return strings.Join(n, ",")
}

// controllers are the v1 hierarchies the container's cgroup is made in.
func (g *Cgroups) controllers() []string {
	if g.opts.Devices {
		return append(slices.Clip(v1Controllers), v1Devices)
	}
	return v1Controllers
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
	for _, c := range g.controllers() {
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

// hierarchy is the v1 hierarchy limited to the controllers used here. It
// is found once (the mounts do not change under a running agent).
func (g *Cgroups) hierarchy() ([]cgroup1.Subsystem, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.subsystems != nil {
		return g.subsystems, nil
	}
	all, err := cgroup1.Default()
	if err != nil {
		return nil, err
	}
	var out []cgroup1.Subsystem
	for _, s := range all {
		if slices.Contains(g.controllers(), string(s.Name())) {
			out = append(out, s)
		}
	}
	g.subsystems = out
	return out, nil
}

// limitsOf are the container's limits from its resources and its limits
// beyond them (TaskInfo.limits), as Mesos computes them: cpu shares from
// the cpus request; a CFS quota at the cpus limit when there is one (none
// at all for an infinite one), else at the request with
// --cgroups_enable_cfs; the memory hard limit at the mem limit when there
// is one (none for an infinite one), else at the request, and the soft
// limit at the request.
type limitsOf struct {
	shares       uint64
	quota        int64 // microseconds per period; 0 leaves it, -1 is none
	memory       int64 // bytes; 0 without cgroups/mem or mem, -1 is none
	soft         int64 // bytes; the memory request
	pids         int64
	haveCPU, mem bool
}

func (g *Cgroups) limitsFor(resources []*mesos.Resource, limits map[string]float64) limitsOf {
	cpus, mem, haveCPU, haveMem := cpusAndMem(resources)
	var l limitsOf
	if g.opts.Pids {
		l.pids = g.opts.PidsMax
	}
	quota := func(cpus float64) int64 {
		return max(int64(cpus*float64(cfsPeriod.Microseconds())), minCFSQuota.Microseconds())
	}
	if g.opts.CPU && haveCPU {
		l.haveCPU = true
		l.shares = max(uint64(cpuSharesPerCPU*cpus), minCPUShares)
		if limit, ok := limits["cpus"]; ok {
			l.quota = -1
			if !math.IsInf(limit, 1) {
				l.quota = quota(limit)
			}
		} else if g.opts.EnableCFS {
			l.quota = quota(cpus)
		}
	}
	if g.opts.Mem && haveMem {
		l.mem = true
		l.memory = max(int64(mem*(1<<20)), minMemory)
		l.soft = l.memory
		if limit, ok := limits["mem"]; ok {
			l.memory = -1
			if !math.IsInf(limit, 1) {
				l.memory = max(int64(limit*(1<<20)), minMemory)
			}
		}
	}
	return l
}

func (l limitsOf) v1() *specs.LinuxResources {
	r := &specs.LinuxResources{}
	if l.haveCPU {
		shares := l.shares
		r.CPU = &specs.LinuxCPU{Shares: &shares}
		if l.quota != 0 {
			quota, period := l.quota, uint64(cfsPeriod.Microseconds())
			r.CPU.Quota, r.CPU.Period = &quota, &period
		}
	}
	if l.mem {
		// The kernel's OOM killer is disabled in the container's cgroup:
		// a container over its limit stalls until the isolator, told by
		// the OOM notification, destroys it, so that its end is always
		// reported as the memory limitation (Mesos lets the kernel kill a
		// process, after which an executor may report its task first).
		// Without a hard limit the kernel keeps it, for the host's sake.
		limit, soft, disable := l.memory, l.soft, l.memory > 0
		r.Memory = &specs.LinuxMemory{Limit: &limit, Reservation: &soft, DisableOOMKiller: &disable}
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
		switch {
		case l.quota > 0:
			r.CPU.Max = cgroup2.NewCPUMax(&l.quota, ptr(uint64(cfsPeriod.Microseconds())))
		case l.quota < 0:
			r.CPU.Max = cgroup2.NewCPUMax(nil, ptr(uint64(cfsPeriod.Microseconds())))
		}
	}
	if l.mem {
		// memory.low protects the request, as v1's soft limit asks for it.
		limit := l.memory
		if limit < 0 {
			limit = math.MaxInt64 // "max"
		}
		r.Memory = &cgroup2.Memory{Max: &limit, Low: ptr(l.soft)}
	}
	if l.pids > 0 {
		r.Pids = &cgroup2.Pids{Max: l.pids}
	}
	return r
}

// Prepare implements Isolator: it creates the container's cgroup with its
// limits (and device list, and GPUs) and has the supervisor join it before
// the executor starts.
func (g *Cgroups) Prepare(spec *Spec, cmd *exec.Cmd) error {
	if err := ids.Validate(spec.ID); err != nil {
		return fmt.Errorf("container ID %q: %w", spec.ID, err)
	}
	// A cgroup left by an earlier container of the same ID goes first.
	if err := g.remove(spec.ID); err != nil {
		return err
	}
	var gpus []GPU
	if g.opts.GPUs != nil {
		n, err := gpusOf(spec.Resources)
		if err != nil {
			return fmt.Errorf("%s: %w", IsolatorGPUNvidia, err)
		}
		if gpus, err = g.opts.GPUs.Allocate(spec.ID, n); err != nil {
			return fmt.Errorf("%s: %w", IsolatorGPUNvidia, err)
		}
	}
	fail := func(err error) error {
		_ = g.remove(spec.ID)
		if g.opts.GPUs != nil {
			g.opts.GPUs.Release(spec.ID)
		}
		return err
	}
	l := g.limitsFor(spec.Resources, spec.Limits)
	devices := g.deviceRules(gpus)
	if g.host.Version == 2 {
		r := l.v2()
		r.Devices = specDevices(devices)
		if _, err := cgroup2.NewManager(g.host.Mounts[""], g.rel(spec.ID), r); err != nil {
			return fail(fmt.Errorf("create cgroup %s: %w", g.rel(spec.ID), err))
		}
	} else {
		r := l.v1()
		r.Devices = specDevices(devices)
		if _, err := cgroup1.New(cgroup1.StaticPath(g.rel(spec.ID)), r, cgroup1.WithHierarchy(g.hierarchy)); err != nil {
			return fail(fmt.Errorf("create cgroup %s: %w", g.rel(spec.ID), err))
		}
	}
	if g.opts.GPUs != nil {
		if err := g.recordGPUs(spec.ID, gpus); err != nil {
			return fail(err)
		}
	}
	env := cmd.Env
	if env == nil {
		env = os.Environ()
	}
	env = env[:len(env):len(env)]
	supervised := false
	if len(cmd.Args) > 1 && cmd.Args[1] == SuperviseArg {
		var procs []string
		for _, p := range g.Paths(spec.ID) {
			procs = append(procs, filepath.Join(p, "cgroup.procs"))
		}
		env = append(env, cgroupProcsEnv+"="+strings.Join(procs, ":"))
		supervised = true
	}
	if len(gpus) > 0 {
		// The GPUs held at launch: CUDA numbers the devices it may use
		// by their NVML index.
		env = append(env, "CUDA_VISIBLE_DEVICES="+visibleDevices(gpus))
	}
	cmd.Env = env
	if l.mem {
		if err := g.watchOOM(spec.ID, l.memory); err != nil {
			return fail(err)
		}
	}
	if supervised {
		g.mu.Lock()
		g.joined[spec.ID] = true
		g.mu.Unlock()
	}
	return nil
}

// Isolate implements Isolator: the container's first process joins the
// cgroup, unless it is a supervisor, which has joined it itself before it
// reported (a move costs the kernel a wait for an RCU grace period per
// hierarchy, so it is not done twice).
func (g *Cgroups) Isolate(id string, pid int) error {
	g.mu.Lock()
	joined := g.joined[id]
	g.mu.Unlock()
	if joined {
		return nil
	}
	for _, p := range g.Paths(id) {
		if err := os.WriteFile(filepath.Join(p, "cgroup.procs"), []byte(strconv.Itoa(pid)), 0); err != nil {
			return fmt.Errorf("move pid %d into cgroup %s: %w", pid, p, err)
		}
	}
	return nil
}

// Update implements Isolator: the requests are the limits.
func (g *Cgroups) Update(id string, resources []*mesos.Resource) error {
	return g.UpdateLimits(id, resources, nil)
}

// UpdateLimits implements LimitsIsolator: new limits, and with gpu/nvidia
// as many GPUs as the resources now ask for (the device list changes
// with them).
func (g *Cgroups) UpdateLimits(id string, resources []*mesos.Resource, limits map[string]float64) error {
	g.lifeMu.Lock()
	defer g.lifeMu.Unlock()
	if g.removing[id] {
		return nil
	}
	for _, p := range g.Paths(id) {
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			return nil // removed: nothing to update, nothing to create
		}
	}
	l := g.limitsFor(resources, limits)
	var devices []DeviceRule
	if g.opts.GPUs != nil {
		n, err := gpusOf(resources)
		if err != nil {
			return fmt.Errorf("%s: %w", IsolatorGPUNvidia, err)
		}
		before := g.opts.GPUs.Of(id)
		if n != len(before) {
			gpus, err := g.opts.GPUs.Allocate(id, n)
			if err != nil {
				return fmt.Errorf("%s: %w", IsolatorGPUNvidia, err)
			}
			if err := g.recordGPUs(id, gpus); err != nil {
				return err
			}
			devices = g.deviceRules(gpus)
			if g.host.Version == 1 {
				if err := g.updateDevicesV1(id, before, gpus); err != nil {
					return err
				}
				devices = nil
			}
		}
	}
	if g.host.Version == 2 {
		m, err := cgroup2.Load(g.rel(id), cgroup2.WithMountpoint(g.host.Mounts[""]))
		if err != nil {
			return fmt.Errorf("load cgroup %s: %w", g.rel(id), err)
		}
		if err := m.Update(l.v2()); err != nil {
			return fmt.Errorf("update cgroup %s: %w", g.rel(id), err)
		}
		if devices != nil {
			return replaceDeviceProgram(filepath.Join(g.host.Mounts[""], g.rel(id)), specDevices(devices))
		}
		return nil
	}
	c, err := cgroup1.Load(cgroup1.StaticPath(g.rel(id)), cgroup1.WithHierarchy(g.hierarchy))
	if err != nil {
		return fmt.Errorf("load cgroup %s: %w", g.rel(id), err)
	}
	// The device list is left out: written again whole, it would deny
	// every device for a moment.
	if err := c.Update(l.v1()); err != nil {
		return fmt.Errorf("update cgroup %s: %w", g.rel(id), err)
	}
	return nil
}

// KillAll implements Killer: it sends SIGKILL to every process in the
// container's cgroup (v2: through cgroup.kill, which also kills what is
// forked meanwhile). A process forked while the list was read is in the
// cgroup too, and is killed by the next pass: Cleanup's, which kills
// until the cgroup is empty.
func (g *Cgroups) KillAll(id string) error {
	g.killOnce(id, false)
	return nil
}

// killWait kills the cgroup's processes until none is left (a few
// seconds at most). Passes after the first few freeze the cgroup around
// the kill, so that a fork bomb cannot outpace them.
func (g *Cgroups) killWait(id string) error {
	deadline := time.Now().Add(10 * time.Second)
	for pass := 0; ; pass++ {
		pids, err := g.pids(id)
		if err != nil || len(pids) == 0 {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("cgroup %s still holds processes %v", g.rel(id), pids)
		}
		g.killOnce(id, pass >= 3)
		time.Sleep(time.Duration(min(pass+1, 5)) * time.Millisecond)
	}
}

// killOnce kills every member of the cgroup; with freeze (v1), it freezes
// the cgroup first and thaws it after. Freezing is kept for processes that
// survive plain passes: on v1 the first frozen cgroup switches on a kernel
// static key (and the last thaw off), which patches the kernel's text on
// every CPU, costing milliseconds per container.
func (g *Cgroups) killOnce(id string, freeze bool) {
	if g.host.Version == 2 {
		if m, err := cgroup2.Load(g.rel(id), cgroup2.WithMountpoint(g.host.Mounts[""])); err == nil {
			if err := m.Kill(); err != nil {
				g.log.Warn("killing the cgroup's processes", "cgroup", g.rel(id), "err", err)
			}
		}
		return
	}
	if !freeze {
		pids, _ := g.pids(id)
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL)
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

// writeFreezer sets freezer.state and waits until it is reached. The
// kernel freezes a cgroup's tasks (and any it forks meanwhile) after one
// write; the state is then read, with growing pauses, until every task is
// frozen. Writing it again on every look, as older kernels' documentation
// suggested, costs a walk of the cgroup's tasks each time: it is done only
// every 16 looks, in case an old kernel needs it. Thawing is immediate.
func writeFreezer(dir, state string) error {
	f := filepath.Join(dir, "freezer.state")
	if err := os.WriteFile(f, []byte(state), 0); err != nil {
		return err
	}
	deadline := time.Now().Add(500 * time.Millisecond)
	buf := make([]byte, 16)
	delay := 20 * time.Microsecond
	for look := 1; ; look++ {
		got, err := readSmall(f, buf)
		if err != nil {
			return err
		}
		if got == state {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s stays %s", f, got)
		}
		if look%16 == 0 {
			_ = os.WriteFile(f, []byte(state), 0)
		}
		time.Sleep(delay)
		delay = min(2*delay, 5*time.Millisecond)
	}
}

// readSmall reads a short control file (a state word) into buf, trimmed.
func readSmall(path string, buf []byte) (string, error) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return "", &fs.PathError{Op: "open", Path: path, Err: err}
	}
	n, err := syscall.Read(fd, buf)
	_ = syscall.Close(fd)
	if err != nil {
		return "", &fs.PathError{Op: "read", Path: path, Err: err}
	}
	return strings.TrimSpace(string(buf[:max(n, 0)])), nil
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
	g.lifeMu.Lock()
	if g.removing == nil {
		g.removing = map[string]bool{}
	}
	g.removing[id] = true
	g.lifeMu.Unlock()
	err := g.remove(id)
	g.lifeMu.Lock()
	delete(g.removing, id)
	g.lifeMu.Unlock()
	if g.opts.GPUs != nil && err == nil {
		// A cgroup that could not be removed may still hold processes
		// that use its GPUs: they are not handed out again.
		g.opts.GPUs.Release(id)
	}
	g.mu.Lock()
	w := g.watched[id]
	delete(g.watched, id)
	delete(g.limits, id)
	delete(g.joined, id)
	g.mu.Unlock()
	if w != nil {
		w.stop(g.log, id)
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
		if g.opts.GPUs != nil {
			if err := g.recoverGPUs(id); err != nil {
				errs = append(errs, err)
			}
		}
		if mem := g.memoryLimit(id); mem > 0 {
			if err := g.watchOOM(id, mem); err != nil {
				g.log.Warn("cannot watch a recovered container's memory", "container", id, "err", err)
			}
		}
	}
	return errors.Join(errs...)
}

// recoverGPUs gives an adopted container back the GPUs its cgroup
// records.
func (g *Cgroups) recoverGPUs(id string) error {
	if _, err := os.Stat(g.devicesPath(id)); errors.Is(err, fs.ErrNotExist) {
		return nil // it ended meanwhile; its cleanup follows
	}
	minors, err := g.recordedGPUs(id)
	if err != nil {
		return err
	}
	if err := g.opts.GPUs.Claim(id, minors); err != nil {
		return fmt.Errorf("%s: recover the GPUs of container %s: %w", IsolatorGPUNvidia, id, err)
	}
	return nil
}

// AgentResources are the resources the isolator adds to the agent's: its
// GPUs, with gpu/nvidia.
func (g *Cgroups) AgentResources() []*mesos.Resource {
	if g.opts.GPUs == nil {
		return nil
	}
	return g.opts.GPUs.Resources()
}

// GPUAllocator is the gpu/nvidia allocator (nil without it).
func (g *Cgroups) GPUAllocator() *GPUAllocator { return g.opts.GPUs }

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
