package core

import (
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/gomesos/gomesos/api/v1/maintenance"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/api/v1/quota"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/internal/ptree"
	"github.com/gomesos/gomesos/master/allocator"
	"github.com/gomesos/gomesos/resources"
)

// Snapshots: what readers (the legacy endpoints, metrics) see of the master.
//
// A Snapshot is immutable and safe for any number of goroutines. It is made
// of records, one per framework, agent, task, offer and executor, that are
// never changed once published: when an entity changes, the Core publishes
// a new record for it. Records are held in copy-on-write B+trees
// (internal/ptree), so the next snapshot shares everything that did not
// change with the previous one, and publishing costs O(what changed), not
// O(cluster).
//
// The Core learns what changed because its handlers say so (taskChanged,
// agentChanged, frameworkChanged, offerChanged, executorsChanged) wherever
// they change what a view shows; Snapshot applies those changes.
// FullSnapshot builds the same thing from scratch, so that tests and the
// simulator can check that no change went unsaid.
//
// Records point at the Core's protobuf messages (TaskInfo, FrameworkInfo,
// AgentInfo, ExecutorInfo, TaskStatus) and Resources values: the Core never
// changes one of these after storing it, it replaces it. A record encodes
// itself as JSON once, when first read, on the reader's goroutine.

// Snapshot is the master's state as readers see it. Its methods encode the
// legacy endpoints (snapshot_json.go) and the metrics.
type Snapshot struct {
	info        *mesos.MasterInfo
	startTime   time.Time
	electedTime time.Time // zero while the master does not lead
	now         time.Time
	leader      *mesos.MasterInfo // nil while no leader is known
	// recovered are the agents recovered from the registry that have not
	// re-registered, in the registry's order.
	recovered []*mesos.AgentInfo

	agents     ptree.Map[*agentRec]     // admitted agents by id
	agentSums  *agentSums               // over agents; nil with none
	frameworks ptree.Map[*frameworkRec] // active frameworks by id
	completed  []*frameworkRec          // completed frameworks, oldest first

	weights map[string]float64 // shared with no one: replaced on change
	// quotas is each role's quota configuration, allocQuotas the quotas
	// the allocator holds (its Stats().Quotas): replaced on change.
	quotas      map[string]*quota.QuotaConfig
	allocQuotas map[string]allocator.Quota
	// schedule and maintStatus are the maintenance schedule and status,
	// replaced on change.
	schedule    *maintenance.Schedule
	maintStatus *maintenance.ClusterStatus
	// inverseOffers are the outstanding inverse offers by framework id.
	inverseOffers     map[string][]*mesos.InverseOffer
	unreachableAgents int
	outstandingOffers int
	allocationRuns    int64
	counterNames      []string
	counterValues     []float64
}

// taskRec is a published task.
type taskRec struct {
	*taskFixed // the task's own

	statuses []taskStatus
	// The small fields together, before json: the record takes 80 bytes,
	// not 88 (96 allocated).
	state     mesos.TaskState
	recovered bool // its resources went back to the allocator
	onAgent   bool // its agent counts it (in what the agent uses)

	json cachedJSON
}

func (c *Core) newTaskRec(t *task) *taskRec {
	a := c.agents[t.agentID]
	return &taskRec{
		taskFixed: t.taskFixed,
		// The statuses are shared: the core never changes those a record
		// holds (task.addStatus).
		state: t.state, statuses: slices.Clip(t.statuses),
		recovered: t.resourcesRecovered, onAgent: a != nil && a.tasks[t.agentKey()] == t,
	}
}

// changesAgent reports whether the agent's view differs between a task's
// records old and r.
func (r *taskRec) changesAgent(old *taskRec) bool {
	return old == nil || old.recovered != r.recovered || old.onAgent != r.onAgent
}

// agentRec is a published agent.
type agentRec struct {
	id                       string
	info                     *mesos.AgentInfo
	total, used, offered     resources.Resources
	pid, version             string
	registered, reregistered time.Time
	active, connected        bool
	deactivated              bool
	drain                    *mesos.DrainInfo

	json, fullJSON cachedJSON
	summary        sync.Once
	summaryMap     map[string]any
}

func newAgentRec(a *agent) *agentRec {
	return &agentRec{
		id: a.id, info: a.info, total: a.total, used: a.used(), offered: a.offered(), pid: a.pid(), version: a.version,
		registered: a.registeredTime, reregistered: a.reregisteredTime, active: a.active, connected: a.conn != "",
		deactivated: a.deactivated, drain: a.drain,
	}
}

// offerRec is a published offer.
type offerRec struct {
	id, frameworkID, agentID, role string
	res                            resources.Resources

	json cachedJSON
}

// executorRec is a published custom or default executor.
type executorRec struct {
	id, frameworkID, agentID string
	info                     *mesos.ExecutorInfo

	json cachedJSON
}

// frameworkRec is a published framework, active or completed.
type frameworkRec struct {
	id                                     string
	info                                   *mesos.FrameworkInfo
	active, connected, recovered           bool
	registered, unregistered, reregistered time.Time

	tasks       ptree.Map[*taskRec]     // by task id
	offers      ptree.Map[*offerRec]    // by offer id
	executors   ptree.Map[*executorRec] // by executorKeyOf(agent id, executor id)
	completed   []*taskRec              // oldest first
	unreachable []*taskRec
	// usage is what its live tasks and executors use, by agent id: the
	// parts of its used resources, so that a change on one agent does not
	// cost a sum over all its tasks.
	usage ptree.Map[resources.Resources]
	// constraints are its offer_constraints (shared: never modified).
	constraints *schedpb.OfferConstraints
	// states counts tasks by state, offeredTotals sums offers.
	states        taskCounts
	offeredTotals scalarTotals

	counters      []float64 // master/frameworks/* counters
	suppressed    []string  // roles suppressed, sorted
	sums          sync.Once
	used, offered resources.Resources
	head, tail    cachedJSON
}

// executorKeyOf orders a framework's executors by agent id, then executor
// id: no agent id holds a NUL byte.
func executorKeyOf(agentID, exID string) string {
	return agentID + "\x00" + exID
}

// cachedJSON is a record's JSON encoding, made once by the first reader
// that needs it (others wait for it rather than encode it again).
type cachedJSON struct {
	once sync.Once
	b    []byte
}

func (c *cachedJSON) get(encode func() []byte) []byte {
	c.once.Do(func() { c.b = encode() })
	return c.b
}

// publishedTask, publishedAgent and publishedFramework are what an
// entity's snapshots were made of, and whether it changed since.
type publishedTask struct {
	rec   *taskRec
	dirty bool
}

type publishedAgent struct {
	rec   *agentRec
	dirty bool
}

type publishedFramework struct {
	rec       *frameworkRec
	tasks     ptree.Map[*taskRec]
	offers    ptree.Map[*offerRec]
	executors ptree.Map[*executorRec]
	usage     ptree.Map[resources.Resources]
	// states and offered are the sums over tasks and offers (sums.go);
	// offered is shared with the published record unless offeredOwn.
	states     taskCounts
	offered    scalarTotals
	offeredOwn bool
	dirty      bool
	// lists is set when its completed or unreachable tasks changed.
	lists bool
}

// changes is what the handlers changed since the last snapshot.
type changes struct {
	tasks      []taskChange
	frameworks []*framework
	agents     []*agent
	offers     []offerChange
	executors  []executorChange
	completed  bool // the completed frameworks changed
	// tasksAhead counts the first tasks whose records PublishAhead made
	// already.
	tasksAhead int
}

type taskChange struct {
	fw *framework // nil for a task whose framework is gone
	t  *task
}

type offerChange struct {
	fw *framework
	o  *offer
}

type executorChange struct {
	fw      *framework
	agentID string
}

// taskChanged says that what the views show of t changed: its state, its
// statuses, its resources' recovery, or which list of fw holds it.
func (c *Core) taskChanged(fw *framework, t *task) {
	if !t.pub.dirty {
		t.pub.dirty = true
		c.changes.tasks = append(c.changes.tasks, taskChange{fw: fw, t: t})
	}
}

// taskListsChanged says that tasks left fw's completed or unreachable
// tasks. (A task that enters them is said to change.)
func (c *Core) taskListsChanged(fw *framework) {
	fw.pub.lists = true
	c.frameworkChanged(fw)
}

// agentChanged says that what the views show of a changed.
func (c *Core) agentChanged(a *agent) {
	if a != nil && !a.pub.dirty {
		a.pub.dirty = true
		c.changes.agents = append(c.changes.agents, a)
	}
}

// frameworkChanged says that what the views show of fw changed.
func (c *Core) frameworkChanged(fw *framework) {
	if fw != nil && !fw.pub.dirty {
		fw.pub.dirty = true
		c.changes.frameworks = append(c.changes.frameworks, fw)
	}
}

// offerChanged says that o was made or went away.
func (c *Core) offerChanged(fw *framework, o *offer) {
	c.changes.offers = append(c.changes.offers, offerChange{fw: fw, o: o})
	c.frameworkChanged(fw)
	c.agentChanged(c.agents[o.agentID])
}

// executorsChanged says that fw's executors on an agent changed.
func (c *Core) executorsChanged(fw *framework, agentID string) {
	c.changes.executors = append(c.changes.executors, executorChange{fw: fw, agentID: agentID})
	c.frameworkChanged(fw)
	c.agentChanged(c.agents[agentID])
}

// Snapshot publishes what changed since the last call and returns the
// master's state as readers see it. It costs O(changes).
func (c *Core) Snapshot() *Snapshot {
	ch := &c.changes
	prev := c.snap
	if prev != nil && !c.metrics.changed && !ch.completed && prev.now.Equal(c.now) && prev.electedTime.Equal(c.electedTime) && prev.leader == c.leader && !c.recoveredChanged && !c.weightsChanged && !c.quotasChanged && !c.maintChanged &&
		len(ch.tasks)+len(ch.frameworks)+len(ch.agents)+len(ch.offers)+len(ch.executors) == 0 &&
		prev.unreachableAgents == len(c.unreachable) && prev.outstandingOffers == len(c.offers) &&
		prev.allocationRuns == c.allocationRuns {
		return prev // nothing happened since
	}
	s := &Snapshot{info: c.info, startTime: c.startTime, electedTime: c.electedTime, leader: c.leader}
	if prev != nil {
		*s = Snapshot{info: prev.info, startTime: prev.startTime, electedTime: c.electedTime, leader: c.leader, agents: prev.agents, agentSums: prev.agentSums, frameworks: prev.frameworks,
			completed: prev.completed, counterNames: prev.counterNames, counterValues: prev.counterValues}
	}
	// What PublishAhead began is this publication's.
	p := c.ahead
	c.ahead = publication{}
	// Tasks first: they say which frameworks and agents changed with them.
	c.publishTasks(&p)
	c.publishOffers(&p)
	c.publishExecutors(&p)
	c.publishFrameworks(&p, s)
	c.publishAgents(s)
	if c.metrics.changed || s.counterValues == nil {
		c.metrics.changed = false
		s.counterNames = c.metrics.names[:len(c.metrics.names):len(c.metrics.names)]
		s.counterValues = slices.Clone(c.metrics.values)
	}
	s.now = c.now
	if c.recoveredChanged || prev == nil {
		c.recoveredChanged = false
		c.recoveredPub = c.recoveredList()
	}
	s.recovered = c.recoveredPub
	if c.weightsChanged || prev == nil {
		c.weightsChanged = false
		c.weightsPub = maps.Clone(c.weights)
	}
	s.weights = c.weightsPub
	if c.quotasChanged || prev == nil {
		c.quotasChanged = false
		c.quotasPub, c.allocQuotasPub = c.publishQuotas()
	}
	s.quotas, s.allocQuotas = c.quotasPub, c.allocQuotasPub
	if c.maintChanged || prev == nil {
		c.maintChanged = false
		c.schedulePub, c.maintStatusPub, c.inverseOffersPub = c.maintenanceSchedule(), c.maintenanceStatus(), c.inverseOffersByFramework()
	}
	s.schedule, s.maintStatus, s.inverseOffers = c.schedulePub, c.maintStatusPub, c.inverseOffersPub
	s.unreachableAgents = len(c.unreachable)
	s.outstandingOffers = len(c.offers)
	s.allocationRuns = c.allocationRuns

	clear(ch.tasks)
	clear(ch.frameworks)
	clear(ch.agents)
	clear(ch.offers)
	clear(ch.executors)
	*ch = changes{tasks: ch.tasks[:0], frameworks: ch.frameworks[:0], agents: ch.agents[:0], offers: ch.offers[:0], executors: ch.executors[:0]}
	c.snap = s
	return s
}

// publication is one Snapshot call's changes to the frameworks' trees.
type publication struct {
	tasks     map[*framework]*ptree.Txn[*taskRec]
	offers    map[*framework]*ptree.Txn[*offerRec]
	executors map[*framework]*ptree.Txn[*executorRec]
	// usage holds, by framework, the agents on which what it uses is to
	// be summed again.
	usage map[*framework]map[string]bool
}

// txnOf is fw's transaction in txns, started on base if there is none.
func txnOf[V any](txns *map[*framework]*ptree.Txn[V], fw *framework, base ptree.Map[V]) *ptree.Txn[V] {
	txn := (*txns)[fw]
	if txn == nil {
		if *txns == nil {
			*txns = map[*framework]*ptree.Txn[V]{}
		}
		txn = base.Txn()
		(*txns)[fw] = txn
	}
	return txn
}

func (p *publication) usedOn(fw *framework, agentID string) {
	if p.usage == nil {
		p.usage = map[*framework]map[string]bool{}
	}
	if p.usage[fw] == nil {
		p.usage[fw] = map[string]bool{}
	}
	p.usage[fw][agentID] = true
}

// publishTasks makes the changed tasks' records and puts them in (or takes
// them out of) their frameworks' task trees.
func (c *Core) publishTasks(p *publication) {
	for _, tc := range c.changes.tasks[c.changes.tasksAhead:] {
		c.publishTask(p, tc)
	}
}

// publishTask makes the record of a changed task and puts it in (or takes
// it out of) its framework's tree, in p.
func (c *Core) publishTask(p *publication, tc taskChange) {
	t, fw := tc.t, tc.fw
	t.pub.dirty = false
	old := t.pub.rec
	t.pub.rec = c.newTaskRec(t)
	if t.pub.rec.changesAgent(old) {
		c.agentChanged(c.agents[t.agentID])
		if fw != nil {
			p.usedOn(fw, t.agentID)
		}
	}
	if fw == nil {
		return
	}
	c.frameworkChanged(fw)
	txn := txnOf(&p.tasks, fw, fw.pub.tasks)
	if fw.tasks[t.id] == t {
		if prev, had := txn.Swap(t.id, t.pub.rec); had {
			fw.pub.states.add(prev.state, -1)
		}
		fw.pub.states.add(t.state, 1)
		return
	}
	fw.pub.lists = true // it may have entered one
	if cur, ok := txn.Get(t.id); ok && cur == old {
		txn.Delete(t.id)
		fw.pub.states.add(old.state, -1)
	}
}

// PublishAhead makes the records of the tasks changed since the last
// publication and puts them in the next one's trees, which Snapshot then
// commits; a task that changes again before then is made again. While
// thousands of agents re-register after a failover the master calls it
// between batches of requests: a tick's publication then no longer stops
// the loop, and every request waiting on it, for the tens of milliseconds
// that making the records of a half-second's re-registrations takes.
// (The agents' records are left to Snapshot: an agent changes again soon
// after it is back, when it is offered, and its record sums its tasks.)
func (c *Core) PublishAhead() {
	ch := &c.changes
	for ch.tasksAhead < len(ch.tasks) {
		c.publishTask(&c.ahead, ch.tasks[ch.tasksAhead])
		ch.tasksAhead++
	}
}

func (c *Core) publishOffers(p *publication) {
	for _, oc := range c.changes.offers {
		fw, o := oc.fw, oc.o
		txn := txnOf(&p.offers, fw, fw.pub.offers)
		if !fw.pub.offeredOwn {
			fw.pub.offered, fw.pub.offeredOwn = maps.Clone(fw.pub.offered), true
		}
		if fw.offers[o.id] == o {
			rec := newOfferRec(o)
			if prev, had := txn.Swap(o.id, rec); had {
				fw.pub.offered.add(prev.res, -1, true, false)
			}
			fw.pub.offered.add(rec.res, 1, true, false)
		} else if prev, had := txn.Get(o.id); had {
			txn.Delete(o.id)
			fw.pub.offered.add(prev.res, -1, true, false)
		}
	}
}

func (c *Core) publishExecutors(p *publication) {
	for _, ec := range c.changes.executors {
		fw := ec.fw
		p.usedOn(fw, ec.agentID)
		txn := txnOf(&p.executors, fw, fw.pub.executors)
		txn.DeletePrefix(ec.agentID + "\x00")
		for exID, ex := range fw.executors[ec.agentID] {
			txn.Set(executorKeyOf(ec.agentID, exID), &executorRec{id: exID, frameworkID: fw.id, agentID: ec.agentID, info: ex})
		}
	}
}

// publishFrameworks commits the changed frameworks' trees, makes their
// records and puts them in s.
func (c *Core) publishFrameworks(p *publication, s *Snapshot) {
	ch := &c.changes
	if len(ch.frameworks) > 0 {
		fwTxn := s.frameworks.Txn()
		for _, fw := range ch.frameworks {
			fw.pub.dirty = false
			if txn := p.tasks[fw]; txn != nil {
				fw.pub.tasks = txn.Commit()
			}
			if txn := p.offers[fw]; txn != nil {
				fw.pub.offers = txn.Commit()
			}
			if txn := p.executors[fw]; txn != nil {
				fw.pub.executors = txn.Commit()
			}
			if agents := p.usage[fw]; agents != nil {
				txn := fw.pub.usage.Txn()
				for agentID := range agents {
					if used := c.usedOn(fw, agentID); used.IsEmpty() {
						txn.Delete(agentID)
					} else {
						txn.Set(agentID, used)
					}
				}
				fw.pub.usage = txn.Commit()
			}
			old := fw.pub.rec
			fw.pub.rec = c.newFrameworkRec(fw)
			if c.frameworks[fw.id] == fw {
				fwTxn.Set(fw.id, fw.pub.rec)
				continue
			}
			ch.completed = true
			if cur, ok := fwTxn.Get(fw.id); ok && cur == old {
				fwTxn.Delete(fw.id)
			}
		}
		s.frameworks = fwTxn.Commit()
	}
	if ch.completed {
		s.completed = make([]*frameworkRec, len(c.completed))
		for i, fw := range c.completed {
			s.completed[i] = fw.pub.rec
		}
	}
}

func (c *Core) publishAgents(s *Snapshot) {
	if len(c.changes.agents) == 0 {
		return
	}
	txn := s.agents.Txn()
	sums := s.agentSums.clone()
	for _, a := range c.changes.agents {
		a.pub.dirty = false
		old := a.pub.rec
		a.pub.rec = newAgentRec(a)
		if c.agents[a.id] == a {
			if prev, had := txn.Swap(a.id, a.pub.rec); had {
				sums.add(prev, -1)
			}
			sums.add(a.pub.rec, 1)
		} else if cur, ok := txn.Get(a.id); ok && cur == old {
			txn.Delete(a.id)
			sums.add(old, -1)
		}
	}
	s.agents, s.agentSums = txn.Commit(), sums
}

// FullSnapshot builds the snapshot Snapshot would publish from scratch, in
// O(cluster), without publishing anything: for checks that every change
// was said.
func (c *Core) FullSnapshot() *Snapshot {
	s := &Snapshot{
		info: c.info, startTime: c.startTime, electedTime: c.electedTime, now: c.now, leader: c.leader, recovered: c.recoveredList(), weights: maps.Clone(c.weights),
		quotas: maps.Clone(c.quotas), allocQuotas: c.alloc.Stats().Quotas,
		schedule: c.maintenanceSchedule(), maintStatus: c.maintenanceStatus(), inverseOffers: c.inverseOffersByFramework(),
		unreachableAgents: len(c.unreachable), outstandingOffers: len(c.offers), allocationRuns: c.allocationRuns,
		counterNames: slices.Clone(c.metrics.names), counterValues: slices.Clone(c.metrics.values),
	}
	recs := map[*task]*taskRec{}
	recOf := func(t *task) *taskRec {
		if recs[t] == nil {
			recs[t] = c.newTaskRec(t)
		}
		return recs[t]
	}
	build := func(fw *framework) *frameworkRec {
		tasks := ptree.Map[*taskRec]{}.Txn()
		for id, t := range fw.tasks {
			tasks.Set(id, recOf(t))
		}
		offers := ptree.Map[*offerRec]{}.Txn()
		for id, o := range fw.offers {
			offers.Set(id, newOfferRec(o))
		}
		execs := ptree.Map[*executorRec]{}.Txn()
		for agentID, exs := range fw.executors {
			for exID, ex := range exs {
				execs.Set(executorKeyOf(agentID, exID), &executorRec{id: exID, frameworkID: fw.id, agentID: agentID, info: ex})
			}
		}
		r := newFrameworkRecOn(fw, tasks.Commit(), offers.Commit(), execs.Commit())
		// The sums, from the trees.
		r.tasks.Walk(func(_ string, t *taskRec) bool {
			r.states.add(t.state, 1)
			return true
		})
		r.offers.Walk(func(_ string, o *offerRec) bool {
			r.offeredTotals.add(o.res, 1, true, false)
			return true
		})
		r.completed, r.unreachable = recsOf(fw.completed, recOf), recsOf(fw.unreachable, recOf)
		// From the framework's own books, which the agents' must match.
		byAgent := map[string]resources.Resources{}
		for _, t := range fw.tasks {
			if !t.resourcesRecovered {
				byAgent[t.agentID] = byAgent[t.agentID].Add(t.res)
			}
		}
		for agentID, exs := range fw.executors {
			for _, ex := range exs {
				if res, err := resources.FromProto(ex.GetResources()); err == nil {
					byAgent[agentID] = byAgent[agentID].Add(res)
				}
			}
		}
		usage := ptree.Map[resources.Resources]{}.Txn()
		for agentID, used := range byAgent {
			if !used.IsEmpty() {
				usage.Set(agentID, used)
			}
		}
		r.usage = usage.Commit()
		return r
	}
	fws := ptree.Map[*frameworkRec]{}.Txn()
	for id, fw := range c.frameworks {
		fws.Set(id, build(fw))
	}
	s.frameworks = fws.Commit()
	for _, fw := range c.completed {
		s.completed = append(s.completed, build(fw))
	}
	agents := ptree.Map[*agentRec]{}.Txn()
	for id, a := range c.agents {
		agents.Set(id, newAgentRec(a))
	}
	s.agents = agents.Commit()
	if s.agents.Len() > 0 {
		s.agentSums = &agentSums{}
		s.agents.Walk(func(_ string, a *agentRec) bool {
			s.agentSums.add(a, 1)
			return true
		})
	}
	return s
}

func newOfferRec(o *offer) *offerRec {
	return &offerRec{id: o.id, frameworkID: o.frameworkID, agentID: o.agentID, role: o.role, res: o.res}
}

// newFrameworkRec is fw's record on its published trees. Its completed and
// unreachable tasks are the last record's unless they changed.
func (c *Core) newFrameworkRec(fw *framework) *frameworkRec {
	r := newFrameworkRecOn(fw, fw.pub.tasks, fw.pub.offers, fw.pub.executors)
	r.usage = fw.pub.usage
	r.states, r.offeredTotals, fw.pub.offeredOwn = fw.pub.states, fw.pub.offered, false
	if prev := fw.pub.rec; prev != nil && !fw.pub.lists {
		r.completed, r.unreachable = prev.completed, prev.unreachable
		return r
	}
	fw.pub.lists = false
	r.completed = recsOf(fw.completed, func(t *task) *taskRec { return t.pub.rec })
	r.unreachable = recsOf(fw.unreachable, func(t *task) *taskRec { return t.pub.rec })
	return r
}

func newFrameworkRecOn(fw *framework, tasks ptree.Map[*taskRec], offers ptree.Map[*offerRec], execs ptree.Map[*executorRec]) *frameworkRec {
	return &frameworkRec{
		id: fw.id, info: fw.info, active: fw.active, connected: fw.stream != "", recovered: fw.recovered,
		registered: fw.registeredTime, unregistered: fw.unregisteredTime, reregistered: fw.reregisteredTime,
		tasks: tasks, offers: offers, executors: execs, counters: slices.Clone(fw.counters),
		suppressed: sortedKeys(fw.suppressed), constraints: fw.constraintsPB,
	}
}

func recsOf(tasks []*task, recOf func(*task) *taskRec) []*taskRec {
	out := make([]*taskRec, len(tasks))
	for i, t := range tasks {
		out[i] = recOf(t)
	}
	return out
}

// usedOn is what fw's live tasks and its executors use on an agent, from
// the agent's books (which hold the same tasks as the framework's).
func (c *Core) usedOn(fw *framework, agentID string) resources.Resources {
	var used resources.Resources
	if a := c.agents[agentID]; a != nil {
		for _, t := range a.tasks {
			if t.frameworkID == fw.id && !t.resourcesRecovered {
				used.AddInPlace(t.res)
			}
		}
	}
	for _, ex := range fw.executors[agentID] {
		if res, err := resources.FromProto(ex.GetResources()); err == nil {
			used.AddInPlace(res)
		}
	}
	return used
}

// sumResources computes, once, what the framework uses and what it is
// offered. The views show these sums by resource name only, so the order
// of the parts does not matter.
func (r *frameworkRec) sumResources() {
	r.sums.Do(func() {
		var used, offered resources.Resources
		r.usage.Walk(func(_ string, res resources.Resources) bool {
			used.AddInPlace(res)
			return true
		})
		r.offers.Walk(func(_ string, o *offerRec) bool {
			offered.AddInPlace(o.res)
			return true
		})
		r.used, r.offered = used, offered
	})
}
