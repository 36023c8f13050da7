package allocator

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/gomesos/gomesos/resources"
)

// Allocator decides which framework is offered which agent's resources.
//
// Identifiers are the master's: framework IDs and agent IDs. Calls naming an
// unknown framework or agent are ignored (the master may race a removal with
// a recovery, as in Mesos), and adding one that is already known is ignored.
type Allocator interface {
	// AddFramework adds a framework. It starts active. used holds, by agent
	// ID, the resources the framework already uses (on re-registration);
	// each resource's allocation role names the role it is charged to
	// (unallocated ones go to the framework's first role).
	AddFramework(id string, info Framework, used map[string]resources.Resources)
	// UpdateFramework changes a framework's roles, suppressed roles,
	// capabilities and minimum allocatable resources. Roles no longer
	// subscribed keep their allocations until these are recovered; roles
	// that stop being suppressed are revived (their filters are cleared).
	UpdateFramework(id string, info Framework)
	// RemoveFramework removes a framework and releases everything
	// allocated to it.
	RemoveFramework(id string)
	// ActivateFramework lets a framework receive offers again.
	ActivateFramework(id string)
	// DeactivateFramework stops offers to a framework and clears its
	// filters; its allocations stay charged to it.
	DeactivateFramework(id string)

	// AddAgent adds an agent with its total resources. used holds, by
	// framework ID, the resources already in use on the agent (on
	// re-registration), with their allocation roles. Usage of frameworks not
	// yet added is held aside and charged when they are added.
	AddAgent(id string, info Agent, total resources.Resources, used map[string]resources.Resources)
	// RemoveAgent removes an agent, its allocations and its filters.
	RemoveAgent(id string)
	// ActivateAgent lets an agent's resources be offered again.
	ActivateAgent(id string)
	// DeactivateAgent stops offers of an agent's resources.
	DeactivateAgent(id string)

	// RecoverResources returns resources allocated to a framework on an
	// agent (an offer declined or rescinded, unused parts of an accepted
	// offer, a finished task). Each resource's allocation role names the
	// role it was allocated to. A refuse > 0 installs a filter: that
	// framework is not offered those resources (or a subset of them) on that
	// agent in that role until now+max(refuse, AllocationInterval), capped at
	// 365 days. Resources that are not allocated to the framework are
	// refused as a whole and counted in Stats.RejectedRecoveries.
	RecoverResources(frameworkID, agentID string, res resources.Resources, refuse time.Duration, now time.Time)

	// UpdateAllocation converts resources a framework holds on an agent
	// (consumed, with their allocation role) into converted, of the same
	// quantities, in its allocation and in the agent's total: an accepted
	// offer's RESERVE, UNRESERVE, CREATE, DESTROY, GROW_VOLUME or
	// SHRINK_VOLUME. It reports false, changing nothing, when the framework
	// does not hold consumed there. See reserve.go.
	UpdateAllocation(frameworkID, agentID string, consumed, converted resources.Resources) bool
	// UpdateAvailable converts resources nobody holds on an agent (the
	// operator API's reservations and volumes) into converted, of the
	// same quantities. It reports false, changing nothing, when they are
	// not available.
	UpdateAvailable(agentID string, consumed, converted resources.Resources) bool
	// AllocateSharedCopies charges a framework with further copies of
	// shared resources of an agent (with their allocation role), which it
	// already holds in that role: tasks of one ACCEPT using one shared
	// volume each hold a copy. It reports false, changing nothing, when a
	// resource is not shared or not in the agent's total, or the framework
	// holds nothing there in that role. See shared.go.
	AllocateSharedCopies(frameworkID, agentID string, res resources.Resources) bool
	// UpdateAgentRevocable sets an agent's revocable resources (its
	// oversubscribed resources: what its estimator offers plus what
	// revocable tasks hold). What frameworks hold stays charged; only the
	// free part follows. See revocable.go.
	UpdateAgentRevocable(agentID string, revocable resources.Resources)

	// SuppressOffers stops offers to the given roles of a framework (all
	// its roles when roles is empty).
	SuppressOffers(frameworkID string, roles []string)
	// ReviveOffers un-suppresses the given roles of a framework (all its
	// roles when roles is empty) and clears their filters.
	ReviveOffers(frameworkID string, roles []string)

	// UpdateWeights sets the weight of each role named (1 is the default;
	// a role not named keeps its weight). A role's weight divides its
	// dominant share when roles compete.
	UpdateWeights(weights map[string]float64)

	// UpdateQuota sets a role's quota (guarantees and limits, QUOTA_V2);
	// a zero Quota removes it. See quota.go.
	UpdateQuota(role string, q Quota)

	// Allocate runs one allocation cycle at time now and returns the new
	// allocations; their resources are charged to the frameworks until
	// recovered.
	Allocate(now time.Time) []Allocation

	// Stats is a read-only view for metrics and state endpoints.
	Stats() Stats
}

// Framework is what the allocator knows of a framework.
type Framework struct {
	// Roles the framework subscribes to; empty means "*".
	Roles []string
	// SuppressedRoles is the subset of Roles that gets no offers.
	SuppressedRoles []string
	// Capabilities changes what the framework may be offered.
	Capabilities Capabilities
	// MinAllocatable overrides Options.MinAllocatable per role
	// (FrameworkInfo.offer_filters.min_allocatable_resources): an offer in
	// that role is made only if it holds at least one of the quantity sets.
	// An empty list for a role means no minimum.
	MinAllocatable map[string][]map[string]resources.Scalar
	// OfferConstraints (UPDATE_FRAMEWORK/SUBSCRIBE offer_constraints) rule
	// agents out of its offers per role; nil has none. See constraints.go.
	OfferConstraints *OfferConstraints
}

// Capabilities are the FrameworkInfo capabilities the allocator looks at.
type Capabilities struct {
	// GPUResources (GPU_RESOURCES): the framework may be offered resources
	// of agents that have GPUs (when Options.FilterGPUResources is on).
	GPUResources bool
	// RevocableResources (REVOCABLE_RESOURCES): the framework may be
	// offered revocable resources.
	RevocableResources bool
	// SharedResources (SHARED_RESOURCES): the framework may be offered
	// shared resources.
	SharedResources bool
	// ReservationRefinement (RESERVATION_REFINEMENT): the framework may be
	// offered resources with refined (stacked) reservations.
	ReservationRefinement bool
}

// Agent is what the allocator knows of an agent besides its resources.
type Agent struct {
	Hostname   string
	Attributes []resources.Attribute // --attributes
	// Region and Zone are the agent's fault domain ("" when it has none),
	// for offer constraints on the REGION and ZONE pseudoattributes.
	Region, Zone string
}

// Allocation is resources of one agent allocated to one framework in one
// role: the master makes it an offer.
type Allocation struct {
	FrameworkID string
	AgentID     string
	Role        string
	// Resources carry Role as their allocation role.
	Resources resources.Resources
}

// Options configure a HierarchicalDRF.
type Options struct {
	// AllocationInterval is the master's --allocation_interval (1s when
	// zero). A filter lasts at least this long, so that it outlives the
	// next periodic allocation (MESOS-4302).
	AllocationInterval time.Duration
	// MinAllocatable is --min_allocatable_resources: an offer is made only if
	// it holds at least one of these quantity sets. nil means Mesos's default
	// cpus:0.01|mem:32; an empty non-nil list means no minimum.
	MinAllocatable []map[string]resources.Scalar
	// Seed seeds the shuffle of agents in each cycle.
	Seed int64
	// FilterGPUResources is --filter_gpu_resources: only frameworks with the
	// GPU_RESOURCES capability are offered resources of agents with GPUs.
	// nil means true, the Mesos default.
	FilterGPUResources *bool
	// FairnessExcludeResourceNames is --fair_sharing_excluded_resource_names:
	// resources left out of the dominant share (e.g. "gpus").
	FairnessExcludeResourceNames []string
}

// DefaultAllocationInterval is --allocation_interval's default.
const DefaultAllocationInterval = time.Second

// MaxRefuse caps a refuse filter, as Mesos does.
const MaxRefuse = 365 * 24 * time.Hour

// DefaultRefuse is Filters.refuse_seconds's default (5 s).
const DefaultRefuse = 5 * time.Second

// RefuseDuration converts Filters.refuse_seconds to the duration of a refuse
// filter the way Mesos does: negative or invalid values give the default 5 s,
// values above 365 days give 365 days, and 0 gives no filter.
func RefuseDuration(refuseSeconds float64) time.Duration {
	switch {
	case refuseSeconds != refuseSeconds || refuseSeconds < 0: // NaN or negative
		return DefaultRefuse
	case refuseSeconds > MaxRefuse.Seconds():
		return MaxRefuse
	}
	return time.Duration(refuseSeconds * float64(time.Second))
}

// DefaultMinAllocatable returns Mesos's default minimum allocatable
// resources: 0.01 cpus or 32 MB of memory (MIN_CPUS, MIN_MEM).
func DefaultMinAllocatable() []map[string]resources.Scalar {
	return []map[string]resources.Scalar{
		{"cpus": resources.ScalarFromFloat(0.01)},
		{"mem": resources.ScalarFromInt(32)},
	}
}

// HierarchicalDRF is Mesos's HierarchicalDRFAllocator.
type HierarchicalDRF struct {
	interval  time.Duration
	filterGPU bool
	minAlloc  []qty
	rng       *rand.Rand

	// Scalar resource names are numbered so that quantities are short
	// vectors (see qty).
	nameIDs    map[string]int
	nameList   []string
	excluded   map[string]bool
	excludedID []bool // by name id

	agents    map[string]*agent
	agentList []*agent // in order of addition, for a deterministic shuffle
	// agentByNum and freeAgentNums number the agents (see agent.num).
	agentByNum    []*agent
	freeAgentNums []int32
	totalQ        qty // sum of the agents' totals

	frameworks map[string]*framework
	// pending indexes agents holding usage of frameworks not yet added.
	pending map[string]map[*agent]struct{}

	weights map[string]float64 // by role; 1.0 when absent
	quotas  map[string]Quota   // by role; absent: no quota
	root    *role
	roles   map[string]*role

	expiry      agentHeap // agents with filters, by earliest expiry
	seq         uint64    // numbers framework generations
	sharesStale bool      // totals changed since shares were computed

	// orderVersion changes whenever the role order may have changed.
	orderVersion uint64
	// eligibility counts the times a framework became able to take
	// resources it would not take before; eligible holds the clients of the
	// last eligibilityLog changes (see stillBlocked).
	eligibility uint64
	eligible    [eligibilityLog]*client

	// nextIdx and freeIdx number the clients (see client.idx);
	// clientByIdx finds them by number.
	nextIdx     int
	freeIdx     []int
	clientByIdx []*client

	runs     uint64
	rejected uint64

	// touched lists the agents changed since the last cycle began (see
	// agent.touch). When no framework became newly eligible since then
	// (scanEpoch is still the eligibility epoch) and no full scan is asked
	// for, only they can have anything to give, and a cycle looks at them
	// alone.
	touched   []*agent
	scanEpoch uint64
	fullScan  bool

	// scratch buffers reused across cycles
	candidates []*agent
	outBuf     []Allocation
	roleOrder  []*role
	scratch    []int32
}

var _ Allocator = (*HierarchicalDRF)(nil)

// New returns an allocator with no agents and no frameworks.
func New(opts Options) *HierarchicalDRF {
	a := &HierarchicalDRF{
		interval:   opts.AllocationInterval,
		filterGPU:  opts.FilterGPUResources == nil || *opts.FilterGPUResources,
		rng:        rand.New(rand.NewPCG(uint64(opts.Seed), 0x9e3779b97f4a7c15)),
		nameIDs:    map[string]int{},
		excluded:   map[string]bool{},
		agents:     map[string]*agent{},
		frameworks: map[string]*framework{},
		pending:    map[string]map[*agent]struct{}{},
		weights:    map[string]float64{},
		roles:      map[string]*role{},
	}
	if a.interval <= 0 {
		a.interval = DefaultAllocationInterval
	}
	for _, n := range opts.FairnessExcludeResourceNames {
		a.excluded[n] = true
	}
	// Well-known names first, so their ids are small and stable.
	for _, n := range []string{"cpus", "mem", "disk", "gpus"} {
		a.nameID(n)
	}
	mins := opts.MinAllocatable
	if mins == nil {
		mins = DefaultMinAllocatable()
	}
	a.minAlloc = a.compileMin(mins)
	a.root = &role{children: map[string]*role{}, weight: 1}
	return a
}

// compileMin turns quantity sets into vectors. A set requiring nothing
// becomes an empty vector, which every non-empty offer covers.
func (a *HierarchicalDRF) compileMin(sets []map[string]resources.Scalar) []qty {
	out := make([]qty, 0, len(sets))
	for _, set := range sets {
		var q qty
		for _, name := range sortedKeys(set) {
			if v := set[name]; v > 0 {
				q.addAt(a.nameID(name), v)
			}
		}
		out = append(out, q)
	}
	return out
}

// ParseMinAllocatable parses --min_allocatable_resources: quantity sets
// separated by '|', each a list of name:value separated by ';', e.g.
// "cpus:0.01|mem:32" or "cpus:1;mem:128|gpus:1".
func ParseMinAllocatable(text string) ([]map[string]resources.Scalar, error) {
	var out []map[string]resources.Scalar
	for alt := range strings.SplitSeq(text, "|") {
		set := map[string]resources.Scalar{}
		for item := range strings.SplitSeq(alt, ";") {
			item = strings.TrimSpace(item)
			if item == "" {
				continue
			}
			name, value, ok := strings.Cut(item, ":")
			name = strings.TrimSpace(name)
			if !ok || name == "" {
				return nil, fmt.Errorf("invalid minimum allocatable resource %q: want name:value", item)
			}
			v, err := resources.ParseScalar(strings.TrimSpace(value))
			if err != nil {
				return nil, fmt.Errorf("invalid minimum allocatable resource %q: %v", item, err)
			}
			if _, dup := set[name]; dup {
				return nil, fmt.Errorf("invalid minimum allocatable resources %q: %s given twice", alt, name)
			}
			set[name] = v
		}
		if len(set) == 0 {
			return nil, fmt.Errorf("invalid minimum allocatable resources %q: empty quantity set", text)
		}
		out = append(out, set)
	}
	return out, nil
}
