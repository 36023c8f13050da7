package allocator

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/gomesos/gomesos/resources"
)

// BenchResult is what Bench measured.
type BenchResult struct {
	Agents, Frameworks, Rounds int
	// Cycle times of Allocate: median, 99th percentile, maximum and mean.
	P50, P99, Max, Mean time.Duration
	// CPU time the process spent in each cycle, the collector's included
	// (zero without a CPU clock): median, 99th percentile and maximum. On
	// a shared machine it moves much less than the wall time.
	CPUP50, CPUP99, CPUMax time.Duration
	// Allocations made over all rounds, and in the first round.
	Allocations, FirstRound int
	// FullScan is the median time of a cycle that examines every agent
	// and every framework's filters after all have declined everything:
	// what a cycle costs when everything changed since the last one.
	FullScan time.Duration
	// Roles is how many roles the frameworks are spread over.
	Roles int
	// Pass is the full pass (see FullPass).
	Pass PassResult
}

// PassResult is what FullPass measured.
type PassResult struct {
	Agents, Frameworks, Roles, Passes int
	// Times of one allocation cycle over the whole cluster: median and
	// 99th percentile.
	P50, P99 time.Duration
	// Allocations made by each pass (one per agent).
	Allocations int
}

// FullPasses is how many full passes FullPass times.
const FullPasses = 25

// FullPass times allocation cycles in which every agent is free and every
// framework wants resources: agents of cpus:24;mem:4096;disk:4096;
// ports:[31000-32000] with nothing in use, frameworks spread round robin
// over roles ("*" when roles is 1, else role-0 .. role-R-1) and none of
// them filtering anything. Each pass offers every agent to a framework;
// between passes (untimed) every offer is declined without a filter, so
// each pass starts from the same state. It stops with ctx's error between
// two passes once ctx is done.
func FullPass(ctx context.Context, agents, frameworks, roles int, clock func() time.Time) (PassResult, error) {
	if agents <= 0 || frameworks <= 0 || roles <= 0 {
		return PassResult{}, fmt.Errorf("full pass: need agents, frameworks and roles, got %d, %d and %d", agents, frameworks, roles)
	}
	h := NewPassHarness(agents, frameworks, roles)
	res := PassResult{Agents: agents, Frameworks: frameworks, Roles: roles, Passes: FullPasses}
	times := make([]time.Duration, 0, res.Passes)
	for i := range res.Passes {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("full pass: stopped after %d passes: %w", i, err)
		}
		start := clock()
		n := h.Pass()
		times = append(times, clock().Sub(start))
		if n != agents {
			return res, fmt.Errorf("full pass: %d allocations, want one per agent (%d)", n, agents)
		}
		res.Allocations = n
		h.Recover()
	}
	if err := h.Allocator.CheckInvariants(); err != nil {
		return res, fmt.Errorf("full pass: %w", err)
	}
	slices.Sort(times)
	res.P50 = times[len(times)/2]
	res.P99 = times[(len(times)*99-1)/100]
	return res, nil
}

// PassLine is the last line of `gomesos bench allocator`.
func (r PassResult) PassLine() string {
	return fmt.Sprintf("allocation pass p50=%sms p99=%sms agents=%d frameworks=%d",
		millis(r.P50), millis(r.P99), r.Agents, r.Frameworks)
}

func millis(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64)
}

// benchRole is the role of the i-th of frameworks spread over roles.
func benchRole(i, roles int) string {
	if roles <= 1 {
		return "*"
	}
	return fmt.Sprintf("role-%d", i%roles)
}

// benchTotal is every bench agent's total resources.
func benchTotal() resources.Resources {
	return resources.New(
		resources.ScalarResource("cpus", resources.ScalarFromInt(24)),
		resources.ScalarResource("mem", resources.ScalarFromInt(4096)),
		resources.ScalarResource("disk", resources.ScalarFromInt(4096)),
		resources.PortsResource(resources.Range{Begin: 31000, End: 32000}),
	)
}

// PassHarness drives an allocator through full passes (see FullPass).
type PassHarness struct {
	Allocator *HierarchicalDRF
	Now       time.Time
	offers    []Allocation
}

// NewPassHarness builds the full-pass cluster (see FullPass).
func NewPassHarness(agents, frameworks, roles int) *PassHarness {
	a := New(Options{Seed: 1})
	h := &PassHarness{Allocator: a, Now: time.Unix(1_700_000_000, 0)}
	for i := range frameworks {
		a.AddFramework(fmt.Sprintf("framework-%d", i), Framework{Roles: []string{benchRole(i, roles)}}, nil)
	}
	total := benchTotal()
	for i := range agents {
		a.AddAgent(fmt.Sprintf("agent-%d", i), Agent{Hostname: fmt.Sprintf("host-%d", i)}, total, nil)
	}
	return h
}

// Pass advances the clock by the allocation interval and runs one cycle.
// It returns the number of allocations made.
func (h *PassHarness) Pass() int {
	h.Now = h.Now.Add(h.Allocator.interval)
	h.offers = h.Allocator.Allocate(h.Now)
	return len(h.offers)
}

// Recover declines the last pass's offers without a filter.
func (h *PassHarness) Recover() {
	for _, o := range h.offers {
		h.Allocator.RecoverResources(o.FrameworkID, o.AgentID, o.Resources, 0, h.Now)
	}
	h.offers = nil
}

// BenchRounds is how many allocation cycles Bench times: twice the
// frameworks, as in Mesos's DeclineOffers benchmark, and at least 20.
func BenchRounds(frameworks int) int {
	return max(2*frameworks, 20)
}

// Bench reproduces Mesos's DeclineOffers allocator benchmark and writes a
// summary to w (for `gomesos bench allocator`). Agents have
// cpus:24;mem:4096;disk:4096;ports:[31000-32000], of which cpus:16, mem:2014,
// disk:1024 and 16 ports are in use by one framework (round robin); all
// frameworks subscribe to "*" and decline every offer with a 365-day filter.
// It times BenchRounds(frameworks) allocation cycles.
//
// The caller's clock (time.Now in the binary) times the cycles; the
// allocator itself never reads a clock.
//
// It then times FullPass and ends with its PassLine.
//
// cpu, when not nil, is the process's CPU time (user and system, every
// thread): the cycles' CPU times are then reported too.
//
// It stops with ctx's error between two cycles once ctx is done.
func Bench(ctx context.Context, agents, frameworks, roles int, clock func() time.Time, cpu func() time.Duration, w io.Writer) (BenchResult, error) {
	if agents <= 0 || frameworks <= 0 || roles <= 0 {
		return BenchResult{}, fmt.Errorf("bench: need agents, frameworks and roles, got %d, %d and %d", agents, frameworks, roles)
	}
	h := NewBenchHarness(agents, frameworks, roles)
	h.Clock, h.CPU = clock, cpu
	res := BenchResult{Agents: agents, Frameworks: frameworks, Roles: roles, Rounds: BenchRounds(frameworks)}
	times := make([]time.Duration, 0, res.Rounds)
	var cpuTimes []time.Duration
	var sum time.Duration
	for i := range res.Rounds {
		if err := ctx.Err(); err != nil {
			return res, fmt.Errorf("bench: stopped after %d rounds: %w", i, err)
		}
		var cpu0 time.Duration
		if cpu != nil {
			cpu0 = cpu()
		}
		start := clock()
		n := h.Round()
		d := clock().Sub(start) - h.LastDecline
		if cpu != nil {
			cpuTimes = append(cpuTimes, cpu()-cpu0-h.LastDeclineCPU)
		}
		times = append(times, d)
		sum += d
		res.Allocations += n
		if i == 0 {
			res.FirstRound = n
		}
	}
	slices.Sort(times)
	res.P50 = times[len(times)/2]
	res.P99 = times[(len(times)*99-1)/100]
	res.Max = times[len(times)-1]
	res.Mean = sum / time.Duration(len(times))
	if len(cpuTimes) > 0 {
		slices.Sort(cpuTimes)
		res.CPUP50 = cpuTimes[len(cpuTimes)/2]
		res.CPUP99 = cpuTimes[(len(cpuTimes)*99-1)/100]
		res.CPUMax = cpuTimes[len(cpuTimes)-1]
	}

	scans := make([]time.Duration, 5)
	for i := range scans {
		h.Allocator.forceFullScan()
		start := clock()
		h.Allocator.Allocate(h.Now)
		scans[i] = clock().Sub(start)
	}
	slices.Sort(scans)
	res.FullScan = scans[len(scans)/2]

	if err := h.Allocator.CheckInvariants(); err != nil {
		return res, fmt.Errorf("bench: %w", err)
	}
	inRoles := ""
	if roles > 1 {
		inRoles = fmt.Sprintf(" in %d roles", roles)
	}
	cpuText := ""
	if cpu != nil {
		cpuText = fmt.Sprintf("; cycle CPU p50 %v p99 %v max %v", res.CPUP50, res.CPUP99, res.CPUMax)
	}
	if _, err := fmt.Fprintf(w, "allocator: %d agents, %d frameworks%s, %d rounds: cycle p50 %v p99 %v max %v mean %v; %d allocations (%d in the first round); full scan %v%s\n",
		agents, frameworks, inRoles, res.Rounds, res.P50, res.P99, res.Max, res.Mean, res.Allocations, res.FirstRound, res.FullScan, cpuText); err != nil {
		return res, err
	}
	pass, err := FullPass(ctx, agents, frameworks, roles, clock)
	res.Pass = pass
	if err != nil {
		return res, fmt.Errorf("bench: %w", err)
	}
	_, err = fmt.Fprintln(w, pass.PassLine())
	return res, err
}

// forceFullScan makes the next cycle examine every agent in full, as if
// more frameworks had changed than the eligibility log remembers.
func (a *HierarchicalDRF) forceFullScan() {
	for _, ag := range a.agentList {
		ag.blocked = false
	}
	a.fullScan = true
}

// BenchHarness drives an allocator through the DeclineOffers workload: a
// stand-in for the master that declines every offer.
type BenchHarness struct {
	Allocator *HierarchicalDRF
	Now       time.Time
	// Clock times the declines of each Round (LastDecline); nil leaves
	// LastDecline zero.
	Clock func() time.Time
	// LastDecline is how long the declines of the last Round took.
	LastDecline time.Duration
	// CPU, when not nil, gives the process's CPU time, and LastDeclineCPU
	// is then the CPU the declines of the last Round took.
	CPU            func() time.Duration
	LastDeclineCPU time.Duration
	offers         []Allocation
}

// NewBenchHarness builds the DeclineOffers cluster (see Bench), with the
// frameworks spread round robin over roles (see FullPass).
func NewBenchHarness(agents, frameworks, roles int) *BenchHarness {
	a := New(Options{Seed: 1})
	h := &BenchHarness{Allocator: a, Now: time.Unix(1_700_000_000, 0)}

	ids := make([]string, frameworks)
	for i := range ids {
		ids[i] = fmt.Sprintf("framework-%d", i)
		a.AddFramework(ids[i], Framework{Roles: []string{benchRole(i, roles)}}, nil)
	}

	total := benchTotal()
	ports := make([]resources.Range, 16)
	for i := range ports {
		p := uint64(31000 + i*62)
		ports[i] = resources.Range{Begin: p, End: p}
	}
	used := resources.New(
		resources.ScalarResource("cpus", resources.ScalarFromInt(16)),
		resources.ScalarResource("mem", resources.ScalarFromInt(2014)),
		resources.ScalarResource("disk", resources.ScalarFromInt(1024)),
		resources.PortsResource(ports...),
	)
	usedIn := map[string]resources.Resources{}
	for i := range min(roles, frameworks) {
		usedIn[benchRole(i, roles)] = used.AllocatedTo(benchRole(i, roles))
	}

	for i := range agents {
		fw := i % frameworks
		a.AddAgent(fmt.Sprintf("agent-%d", i), Agent{Hostname: fmt.Sprintf("host-%d", i)}, total,
			map[string]resources.Resources{ids[fw]: usedIn[benchRole(fw, roles)]})
	}
	return h
}

// Round declines the previous round's offers with a 365-day filter, advances
// the clock by the allocation interval and runs one cycle. It returns the
// number of allocations made.
func (h *BenchHarness) Round() int {
	var start time.Time
	var cpu0 time.Duration
	if h.Clock != nil {
		start = h.Clock()
	}
	if h.CPU != nil {
		cpu0 = h.CPU()
	}
	for _, o := range h.offers {
		h.Allocator.RecoverResources(o.FrameworkID, o.AgentID, o.Resources, MaxRefuse, h.Now)
	}
	if h.CPU != nil {
		h.LastDeclineCPU = h.CPU() - cpu0
	}
	if h.Clock != nil {
		h.LastDecline = h.Clock().Sub(start)
	}
	h.Now = h.Now.Add(h.Allocator.interval)
	h.offers = h.Allocator.Allocate(h.Now)
	return len(h.offers)
}
