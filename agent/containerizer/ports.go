package containerizer

import (
	"fmt"
	"log/slog"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// Mesos's defaults for the network/ports isolator's flags.
const (
	// DefaultContainerPortsWatchInterval is
	// --container_ports_watch_interval's default.
	DefaultContainerPortsWatchInterval = 30 * time.Second
)

// PortRange is an inclusive range of ports.
type PortRange struct{ Begin, End uint64 }

// PortsOptions configure the network/ports isolator.
type PortsOptions struct {
	// WatchInterval is how often every container's listening sockets are
	// scanned (--container_ports_watch_interval); 0 means the default.
	WatchInterval time.Duration
	// Enforce kills a container that listens on a port it was not given
	// (--enforce_container_ports); without it, that is only logged.
	Enforce bool
	// Isolated, when not nil, are the only ports checked: the agent's own
	// ports resource, with --check_agent_port_range_only.
	Isolated []PortRange
	Logger   *slog.Logger
}

// Ports is the network/ports isolator (Mesos 1.6's): every WatchInterval
// it finds the TCP sockets each container's processes listen on (from
// /proc/net/tcp and tcp6, by socket inode, and /proc/<pid>/fd) and checks
// their ports against the container's ports resources. A container
// listening on one it was not given is logged, once per new set of such
// ports, and with Enforce ended with REASON_CONTAINER_LIMITATION.
//
// A container's processes are those of its cgroup when a cgroups isolator
// runs beside it, else its session and the descendants of its first
// process. A container is checked only once its ports are known: from its
// launch, or, for one recovered after an agent restart, from the next
// update of its resources (as in Mesos).
type Ports struct {
	opts PortsOptions
	log  *slog.Logger
	// pidsOf lists a container's processes from its cgroup; nil without
	// a cgroups isolator.
	pidsOf func(id string) ([]int, error)

	mu       sync.Mutex
	limited  func(id string)
	infos    map[string]*portsInfo
	watching bool
}

type portsInfo struct {
	// allocated is nil until the container's ports are known.
	allocated []PortRange
	known     bool
	root      int // its first process; 0 when not known
	// active is the last set of unallocated ports reported, so that each
	// is logged once.
	active string
	limit  *Limitation
}

var (
	_ Isolator = (*Ports)(nil)
	_ Limiter  = (*Ports)(nil)
)

// NewPorts returns the network/ports isolator; g, when not nil, lists
// each container's processes from its cgroup.
func NewPorts(opts PortsOptions, g *Cgroups) (*Ports, error) {
	if opts.WatchInterval < 0 {
		return nil, fmt.Errorf("--container_ports_watch_interval must not be negative, not %s", opts.WatchInterval)
	}
	if opts.WatchInterval == 0 {
		opts.WatchInterval = DefaultContainerPortsWatchInterval
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Ports{opts: opts, log: log, infos: map[string]*portsInfo{}}
	if lister, ok := any(g).(interface{ Pids(string) ([]int, error) }); ok && g != nil {
		p.pidsOf = lister.Pids
	}
	return p, nil
}

// Name implements Isolator.
func (p *Ports) Name() string { return IsolatorNetworkPorts }

// WatchLimits implements Limiter.
func (p *Ports) WatchLimits(limited func(id string)) {
	p.mu.Lock()
	p.limited = limited
	p.mu.Unlock()
}

// Limitation implements Limiter.
func (p *Ports) Limitation(id string) *Limitation {
	p.mu.Lock()
	defer p.mu.Unlock()
	if in := p.infos[id]; in != nil {
		return in.limit
	}
	return nil
}

// Prepare implements Isolator: the container's ports are its resources'.
func (p *Ports) Prepare(spec *Spec, _ *exec.Cmd) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.infos[spec.ID] = &portsInfo{allocated: portsOf(spec.Resources), known: true}
	p.startWatch()
	return nil
}

// Isolate implements Isolator.
func (p *Ports) Isolate(id string, pid int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if in := p.infos[id]; in != nil {
		in.root = pid
	}
	return nil
}

// Update implements Isolator.
func (p *Ports) Update(id string, resources []*mesos.Resource) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	in := p.infos[id]
	if in == nil {
		return nil
	}
	in.allocated, in.known = portsOf(resources), true
	p.log.Info("updated the ports of a container", "container", id, "ports", formatRanges(in.allocated))
	return nil
}

// Cleanup implements Isolator.
func (p *Ports) Cleanup(id string) error {
	p.mu.Lock()
	delete(p.infos, id)
	p.mu.Unlock()
	return nil
}

// adopt implements rootAdopter: a recovered container is checked once an
// update tells its ports.
func (p *Ports) adopt(id string, root int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.infos[id] = &portsInfo{root: root}
	p.startWatch()
}

// startWatch starts the scanning loop unless it runs; it ends when no
// container is left. p.mu is held.
func (p *Ports) startWatch() {
	if p.watching {
		return
	}
	p.watching = true
	go p.watch()
}

func (p *Ports) watch() {
	t := time.NewTicker(p.opts.WatchInterval)
	defer t.Stop()
	for range t.C {
		p.mu.Lock()
		if len(p.infos) == 0 {
			p.watching = false
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
		p.Check()
	}
}

// containerScan is what Check needs of one container.
type containerScan struct {
	id   string
	root int
}

// Check scans every container's listening ports once, and acts on those
// it was not given. The watch calls it every WatchInterval.
func (p *Ports) Check() {
	p.mu.Lock()
	var todo []containerScan
	for id, in := range p.infos {
		if in.known && in.limit == nil {
			todo = append(todo, containerScan{id, in.root})
		}
	}
	p.mu.Unlock()
	if len(todo) == 0 {
		return
	}
	listening, err := listeningSockets()
	if err != nil {
		p.log.Error("failed to list the listening sockets", "err", err)
		return
	}
	for _, c := range todo {
		ports := p.containerListeners(c, listening)
		p.check(c.id, ports)
	}
}

// containerListeners lists the (isolated) ports the container's processes
// listen on.
func (p *Ports) containerListeners(c containerScan, listening map[uint64]uint64) []uint64 {
	var pids []int
	if p.pidsOf != nil {
		got, err := p.pidsOf(c.id)
		if err != nil {
			p.log.Warn("failed to list a container's processes", "container", c.id, "err", err)
		}
		pids = got
	}
	if len(pids) == 0 && c.root > 0 {
		pids = containerProcs(c.root)
	}
	var out []uint64
	for _, pid := range pids {
		for _, inode := range socketInodes(pid) {
			port, ok := listening[inode]
			if !ok || slices.Contains(out, port) {
				continue
			}
			if p.opts.Isolated != nil && !inRanges(p.opts.Isolated, port) {
				continue
			}
			out = append(out, port)
		}
	}
	slices.Sort(out)
	return out
}

// check acts on the ports a container listens on.
func (p *Ports) check(id string, ports []uint64) {
	p.mu.Lock()
	in := p.infos[id]
	if in == nil || !in.known || in.limit != nil {
		p.mu.Unlock()
		return
	}
	var bad []uint64
	for _, port := range ports {
		if !inRanges(in.allocated, port) {
			bad = append(bad, port)
		}
	}
	if len(bad) == 0 {
		in.active = ""
		p.mu.Unlock()
		return
	}
	all := fmt.Sprint(ports)
	if in.active == all {
		p.mu.Unlock()
		return
	}
	in.active = all
	// Mesos's words.
	msg := "Container " + id + " is listening on unallocated port(s): " + formatRanges(toRanges(bad))
	p.log.Info(msg)
	limited := p.limited
	if p.opts.Enforce {
		in.limit = &Limitation{Reason: mesos.TaskStatus_REASON_CONTAINER_LIMITATION, Message: msg}
	} else {
		limited = nil
	}
	p.mu.Unlock()
	if limited != nil {
		limited(id)
	}
}

// portsOf are the ports among resources.
func portsOf(resources []*mesos.Resource) []PortRange {
	out := []PortRange{}
	for _, r := range resources {
		if r.GetName() != "ports" || r.GetType() != mesos.Value_RANGES {
			continue
		}
		for _, rg := range r.GetRanges().GetRange() {
			out = append(out, PortRange{rg.GetBegin(), rg.GetEnd()})
		}
	}
	return out
}

// PortRangesOf are the ranges of the ports among resources.
func PortRangesOf(resources []*mesos.Resource) []PortRange { return portsOf(resources) }

// PortsOf lists the ports among resources, in order, for PORT0..n.
func PortsOf(resources []*mesos.Resource) []uint64 {
	var out []uint64
	for _, r := range portsOf(resources) {
		for port := r.Begin; port <= r.End && len(out) < 65536; port++ {
			out = append(out, port)
		}
	}
	return out
}

func inRanges(rs []PortRange, port uint64) bool {
	for _, r := range rs {
		if port >= r.Begin && port <= r.End {
			return true
		}
	}
	return false
}

// toRanges folds sorted ports into ranges.
func toRanges(ports []uint64) []PortRange {
	var out []PortRange
	for _, port := range ports {
		if n := len(out); n > 0 && out[n-1].End+1 == port {
			out[n-1].End = port
			continue
		}
		out = append(out, PortRange{port, port})
	}
	return out
}

// formatRanges writes ranges as Mesos does: "[31000-31000, 31002-31005]".
func formatRanges(rs []PortRange) string {
	parts := make([]string, len(rs))
	for i, r := range rs {
		parts[i] = strconv.FormatUint(r.Begin, 10) + "-" + strconv.FormatUint(r.End, 10)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
