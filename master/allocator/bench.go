package allocator

import (
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/gomesos/gomesos/resources"
)

// BenchResult is what Bench measured.
type BenchResult struct {
	Agents, Frameworks, Rounds int
	// Cycle times of Allocate: median, 99th percentile, maximum and mean.
	P50, P99, Max, Mean time.Duration
	// Allocations made over all rounds, and in the first round.
	Allocations, FirstRound int
	// FullScan is the median time of a cycle that examines every agent
	// and every framework's filters after all have declined everything:
	// what a cycle costs when everything changed since the last one.
	FullScan time.Duration
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
func Bench(agents, frameworks int, clock func() time.Time, w io.Writer) (BenchResult, error) {
	if agents <= 0 || frameworks <= 0 {
		return BenchResult{}, fmt.Errorf("bench: need agents and frameworks, got %d and %d", agents, frameworks)
	}
	h := NewBenchHarness(agents, frameworks)
	h.Clock = clock
	res := BenchResult{Agents: agents, Frameworks: frameworks, Rounds: BenchRounds(frameworks)}
	times := make([]time.Duration, 0, res.Rounds)
	var sum time.Duration
	for i := range res.Rounds {
		start := clock()
		n := h.Round()
		d := clock().Sub(start) - h.LastDecline
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
	_, err := fmt.Fprintf(w, "allocator: %d agents, %d frameworks, %d rounds: cycle p50 %v p99 %v max %v mean %v; %d allocations (%d in the first round); full scan %v\n",
		agents, frameworks, res.Rounds, res.P50, res.P99, res.Max, res.Mean, res.Allocations, res.FirstRound, res.FullScan)
	return res, err
}

// forceFullScan makes the next cycle examine every agent in full, as if
// more frameworks had changed than the eligibility log remembers.
func (a *HierarchicalDRF) forceFullScan() {
	for _, ag := range a.agentList {
		ag.blocked = false
	}
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
	offers      []Allocation
}

// NewBenchHarness builds the DeclineOffers cluster (see Bench).
func NewBenchHarness(agents, frameworks int) *BenchHarness {
	a := New(Options{Seed: 1})
	h := &BenchHarness{Allocator: a, Now: time.Unix(1_700_000_000, 0)}

	ids := make([]string, frameworks)
	for i := range ids {
		ids[i] = fmt.Sprintf("framework-%d", i)
		a.AddFramework(ids[i], Framework{Roles: []string{"*"}}, nil)
	}

	total := resources.New(
		resources.ScalarResource("cpus", resources.ScalarFromInt(24)),
		resources.ScalarResource("mem", resources.ScalarFromInt(4096)),
		resources.ScalarResource("disk", resources.ScalarFromInt(4096)),
		resources.PortsResource(resources.Range{Begin: 31000, End: 32000}),
	)
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
	).AllocatedTo("*")

	for i := range agents {
		a.AddAgent(fmt.Sprintf("agent-%d", i), Agent{Hostname: fmt.Sprintf("host-%d", i)}, total,
			map[string]resources.Resources{ids[i%frameworks]: used})
	}
	return h
}

// Round declines the previous round's offers with a 365-day filter, advances
// the clock by the allocation interval and runs one cycle. It returns the
// number of allocations made.
func (h *BenchHarness) Round() int {
	var start time.Time
	if h.Clock != nil {
		start = h.Clock()
	}
	for _, o := range h.offers {
		h.Allocator.RecoverResources(o.FrameworkID, o.AgentID, o.Resources, MaxRefuse, h.Now)
	}
	if h.Clock != nil {
		h.LastDecline = h.Clock().Sub(start)
	}
	h.Now = h.Now.Add(h.Allocator.interval)
	h.offers = h.Allocator.Allocate(h.Now)
	return len(h.offers)
}
