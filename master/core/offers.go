package core

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/resources"
)

// offer is an outstanding offer: resources of one agent allocated to one
// framework under one role.
type offer struct {
	id          string
	frameworkID string
	agentID     string
	role        string
	res         resources.Resources
	created     time.Time
}

// maxRefuse caps Filters.refuse_seconds at 365 days, as Mesos does.
const maxRefuse = 365 * 24 * time.Hour

// refuseDuration turns Filters into a filter duration: 5 s by default, the
// default again for negative or invalid values, capped at 365 days.
func refuseDuration(f *mesos.Filters) time.Duration {
	s := f.GetRefuseSeconds() // the proto default is 5.0
	if math.IsNaN(s) || s < 0 || math.IsInf(s, 0) {
		s = 5
	}
	d := time.Duration(s * float64(time.Second))
	if s*float64(time.Second) > float64(maxRefuse) {
		d = maxRefuse
	}
	return d
}

func (c *Core) allocate() {
	c.allocateSoon = false
	c.nextAllocation = c.now.Add(c.opts.AllocationInterval)
	allocs := c.alloc.Allocate(c.now)
	c.allocationRuns++
	byFramework := map[string][]*mesos.Offer{}
	for _, al := range allocs {
		fw := c.frameworks[al.FrameworkID]
		a := c.agents[al.AgentID]
		if fw == nil || a == nil || fw.stream == "" || a.conn == "" {
			// The allocator raced with a removal: hand the resources back.
			c.alloc.RecoverResources(al.FrameworkID, al.AgentID, al.Resources, 0, c.now)
			continue
		}
		res, err := fw.resourcesProto(al.Resources)
		if err != nil {
			// Refined reservations are not allocated to a framework that
			// cannot read them; should any come, they go back unsent.
			c.log.Error("cannot offer resources in the framework's format", "framework", fw.id, "agent", a.id, "error", err)
			c.alloc.RecoverResources(al.FrameworkID, al.AgentID, al.Resources, 0, c.now)
			continue
		}
		id := fmt.Sprintf("%s-O%d", c.info.GetId(), c.nextOffer)
		c.nextOffer++
		o := &offer{id: id, frameworkID: fw.id, agentID: a.id, role: al.Role, res: al.Resources, created: c.now}
		c.offers[id] = o
		fw.offers[id] = o
		a.offers[id] = o
		c.offerChanged(fw, o)
		byFramework[fw.id] = append(byFramework[fw.id], c.offerProto(o, a, fw, res))
	}
	for _, fwID := range sortedKeys(byFramework) {
		fw := c.frameworks[fwID]
		c.countOffers(fw, fwOffersSent, len(byFramework[fwID]))
		c.sendToFramework(fw, &schedpb.Event{Type: schedpb.Event_OFFERS.Enum(), Offers: &schedpb.Event_Offers{Offers: byFramework[fwID]}})
	}
	c.sendInverseOffers()
}

// offerProto is the Offer message for fw, with res, the offered resources
// already in fw's format. Only a MULTI_ROLE framework gets the offer's
// allocation_info.
func (c *Core) offerProto(o *offer, a *agent, fw *framework, res []*mesos.Resource) *mesos.Offer {
	var exIDs []*mesos.ExecutorID
	for _, exID := range sortedKeys(fw.executors[a.id]) {
		exIDs = append(exIDs, &mesos.ExecutorID{Value: ptr(exID)})
	}
	pb := &mesos.Offer{
		Id:          &mesos.OfferID{Value: &o.id},
		FrameworkId: &mesos.FrameworkID{Value: &fw.id},
		AgentId:     &mesos.AgentID{Value: &a.id},
		Hostname:    a.info.Hostname,
		Url: &mesos.URL{
			Scheme:  ptr("http"),
			Address: &mesos.Address{Hostname: a.info.Hostname, Ip: ptr(a.ip()), Port: ptr(a.info.GetPort())},
			Path:    ptr("/slave(1)"),
		},
		Resources:   res,
		Attributes:  a.info.GetAttributes(),
		ExecutorIds: exIDs,
	}
	if u := c.unavailabilityOf(a); u != nil {
		pb.Unavailability = clone(u)
	}
	if fw.multiRole() {
		pb.AllocationInfo = &mesos.Resource_AllocationInfo{Role: ptr(o.role)}
	}
	return pb
}

// removeOffer forgets an offer; the caller decides what happens to its
// resources.
func (c *Core) removeOffer(o *offer) {
	delete(c.offers, o.id)
	if fw := c.frameworks[o.frameworkID]; fw != nil {
		delete(fw.offers, o.id)
		c.offerChanged(fw, o)
	}
	if a := c.agents[o.agentID]; a != nil {
		delete(a.offers, o.id)
		c.agentChanged(a)
	}
}

// rescindOffer takes an offer back: the framework is told when notify is
// set, and its resources return to the allocator.
func (c *Core) rescindOffer(o *offer, notify bool) {
	c.removeOffer(o)
	c.alloc.RecoverResources(o.frameworkID, o.agentID, o.res, 0, c.now)
	c.allocateSoon = true
	if notify {
		c.metrics.inc("master/offers_rescinded")
		c.countOffers(c.frameworks[o.frameworkID], fwOffersRescinded, 1)
		c.sendToFramework(c.frameworks[o.frameworkID], &schedpb.Event{
			Type: schedpb.Event_RESCIND.Enum(), Rescind: &schedpb.Event_Rescind{OfferId: &mesos.OfferID{Value: &o.id}},
		})
	}
}

func (c *Core) rescindAgentOffers(a *agent) {
	for _, id := range sortedKeys(a.offers) {
		c.rescindOffer(a.offers[id], true)
	}
}

func (c *Core) rescindFrameworkOffers(fw *framework, notify bool) {
	for _, id := range sortedKeys(fw.offers) {
		c.rescindOffer(fw.offers[id], notify)
	}
}

func (c *Core) checkOfferTimeouts() {
	if c.opts.OfferTimeout <= 0 {
		return
	}
	for _, id := range sortedKeys(c.offers) {
		if o := c.offers[id]; c.now.Sub(o.created) >= c.opts.OfferTimeout {
			c.rescindOffer(o, true)
		}
	}
}

func (c *Core) decline(fw *framework, ids []*mesos.OfferID, filters *mesos.Filters) {
	refuse := refuseDuration(filters)
	for _, id := range ids {
		o := fw.offers[id.GetValue()]
		if o == nil {
			continue
		}
		c.removeOffer(o)
		c.alloc.RecoverResources(fw.id, o.agentID, o.res, refuse, c.now)
		c.countOffers(fw, fwOffersDeclined, 1)
	}
}

// accept carries out ACCEPT: the offers are validated and taken, every
// LAUNCH and LAUNCH_GROUP is validated task by task against what is left of
// them, and whatever is unused goes back with the call's filter.
func (c *Core) accept(fw *framework, acc *schedpb.Call_Accept) {
	refuse := refuseDuration(acc.GetFilters())
	var offers []*offer
	var offerErr string
	seen := map[string]bool{}
	for _, id := range acc.GetOfferIds() {
		v := id.GetValue()
		if seen[v] {
			offerErr = "Duplicate offer " + v + " in ACCEPT"
			continue
		}
		seen[v] = true
		o := fw.offers[v]
		if o == nil {
			offerErr = "Offer " + v + " is no longer valid"
			continue
		}
		offers = append(offers, o)
	}
	if offerErr == "" && len(offers) == 0 {
		offerErr = "No offers specified"
	}
	for _, o := range offers[min(1, len(offers)):] {
		if o.agentID != offers[0].agentID {
			offerErr = "Aggregated offers must belong to one single agent"
		}
	}
	// The named offers are used up either way. available is the ACCEPT's
	// own copy (Add makes a new one), as is every value the operations
	// below return: launch takes a task's resources out of it in place.
	var available resources.Resources
	for _, o := range offers {
		c.removeOffer(o)
		available = available.Add(o.res)
	}
	if offerErr != "" {
		c.metrics.inc("master/invalid_operations")
		for _, o := range offers {
			c.alloc.RecoverResources(fw.id, o.agentID, o.res, 0, c.now)
		}
		state := mesos.TaskState_TASK_LOST
		if fw.partitionAware() {
			state = mesos.TaskState_TASK_DROPPED
		}
		for _, op := range acc.GetOperations() {
			for _, ti := range operationTasks(op) {
				c.rejectTask(fw, ti, state, mesos.TaskStatus_REASON_INVALID_OFFERS, offerErr)
			}
		}
		c.allocateSoon = true
		return
	}
	a := c.agents[offers[0].agentID]
	role := offers[0].role
	c.countOffers(fw, fwOffersAccepted, len(offers))
	// The shared resources the tasks may use copies of (shared.go).
	var shared resources.Resources
	for _, op := range acc.GetOperations() {
		shared = sharedSeen(shared, available)
		c.countOperation(fw, op.GetType())
		switch op.GetType() {
		case mesos.Offer_Operation_LAUNCH:
			for _, ti := range op.GetLaunch().GetTaskInfos() {
				available = c.launch(fw, a, role, available, shared, nil, []*mesos.TaskInfo{ti})
			}
		case mesos.Offer_Operation_LAUNCH_GROUP:
			lg := op.GetLaunchGroup()
			available = c.launch(fw, a, role, available, shared, lg.GetExecutor(), lg.GetTaskGroup().GetTasks())
		default:
			if isResourceOperation(op.GetType()) {
				available = c.offerOperation(fw, a, role, available, op)
				break
			}
			c.dropOperation(fw, op, fmt.Sprintf("Offer operation %s is not supported by this master", op.GetType()))
		}
	}
	if !available.IsEmpty() {
		c.alloc.RecoverResources(fw.id, a.id, available, refuse, c.now)
	}
	c.allocateSoon = true
}

// dropOperation refuses an offer operation the master will not carry out;
// its resources stay with the rest of the offer and go back to the
// allocator. As Mesos's master drops an operation, a framework that asked
// for feedback (the operation has an id) is told with an OPERATION_ERROR
// status (not reliably delivered, so it carries no uuid). A framework that
// did not ask gets an ERROR event saying what was dropped, so that it does
// not wait for resources the operation would have made.
func (c *Core) dropOperation(fw *framework, op *mesos.Offer_Operation, why string) {
	c.log.Warn("dropping an offer operation", "framework", fw.id, "type", op.GetType().String(), "reason", why)
	c.metrics.inc("master/invalid_operations")
	c.metrics.operationState(op.GetType(), mesos.OperationState_OPERATION_ERROR, 1)
	if op.GetId() == nil {
		c.sendToFramework(fw, errorEvent(why))
		return
	}
	c.sendToFramework(fw, &schedpb.Event{
		Type: schedpb.Event_UPDATE_OPERATION_STATUS.Enum(),
		UpdateOperationStatus: &schedpb.Event_UpdateOperationStatus{Status: &mesos.OperationStatus{
			OperationId: clone(op.GetId()),
			State:       mesos.OperationState_OPERATION_ERROR.Enum(),
			Message:     &why,
		}},
	})
}

func operationTasks(op *mesos.Offer_Operation) []*mesos.TaskInfo {
	switch op.GetType() {
	case mesos.Offer_Operation_LAUNCH:
		return op.GetLaunch().GetTaskInfos()
	case mesos.Offer_Operation_LAUNCH_GROUP:
		return op.GetLaunchGroup().GetTaskGroup().GetTasks()
	}
	return nil
}

func (c *Core) rejectTask(fw *framework, ti *mesos.TaskInfo, state mesos.TaskState, reason mesos.TaskStatus_Reason, msg string) {
	status := &mesos.TaskStatus{
		TaskId:    ti.GetTaskId(),
		State:     state.Enum(),
		Source:    mesos.TaskStatus_SOURCE_MASTER.Enum(),
		Reason:    reason.Enum(),
		Message:   &msg,
		AgentId:   ti.GetAgentId(),
		Timestamp: ptr(secs(c.now)),
	}
	c.metrics.taskTerminal(state, mesos.TaskStatus_SOURCE_MASTER, reason)
	c.countFrameworkTerminal(fw, state)
	c.sendToFramework(fw, &schedpb.Event{Type: schedpb.Event_UPDATE.Enum(), Update: &schedpb.Event_Update{Status: status}})
}

// cloneWithout is a copy of ti with pb for its resources and agentID for
// its agent id (the same id, valid tasks name their agent's): ti's own,
// about to be replaced, are not copied. ti is left as it was.
func cloneWithout(ti *mesos.TaskInfo, pb []*mesos.Resource, agentID *mesos.AgentID) *mesos.TaskInfo {
	res, id := ti.Resources, ti.AgentId
	ti.Resources, ti.AgentId = nil, nil
	out := clone(ti)
	ti.Resources, ti.AgentId = res, id
	out.Resources, out.AgentId = pb, agentID
	return out
}

// sharedTaskRes is a task's resources in their internal and proto forms,
// which the tasks launched with the same resources share: a framework
// launching many tasks launches them alike, and a master keeping hundreds
// of thousands of tasks would otherwise hold a copy of both forms for
// each. Neither form is changed once stored (the Core replaces, never
// changes, what it stores), so sharing them is safe.
type sharedTaskRes struct {
	res resources.Resources
	pb  []*mesos.Resource
}

// share is res with its proto form, the last task's if res equals its
// resources, else a new pair that becomes the last.
func (s *sharedTaskRes) share(res resources.Resources) (resources.Resources, []*mesos.Resource) {
	if s.res == nil || !sameOrder(s.res, res) {
		*s = sharedTaskRes{res: res, pb: resources.ToProto(res)}
	}
	return s.res, s.pb
}

// sameOrder reports whether a and b hold the same resources in the same
// order, so that one's proto form is the other's too.
func sameOrder(a, b resources.Resources) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !a[i].Equal(&b[i]) {
			return false
		}
	}
	return true
}

// launch validates one LAUNCH task (executor nil) or one task group and, if
// valid, records the tasks and sends them to the agent. It returns what is
// left of the offered resources: available itself, taken from in place (it
// must be the caller's own), or a new value. A group is all or nothing.
// shared are the shared resources the tasks may use further copies of
// (shared.go).
func (c *Core) launch(fw *framework, a *agent, role string, available, shared resources.Resources, groupExecutor *mesos.ExecutorInfo, tasks []*mesos.TaskInfo) resources.Resources {
	group := groupExecutor != nil
	var err error
	var needed resources.Resources
	taskRes := make([]resources.Resources, len(tasks))
	var executor *mesos.ExecutorInfo
	newExecutor := false
	if group {
		executor = clone(groupExecutor)
		err = validateGroupExecutor(executor, fw, tasks)
	} else if len(tasks) == 1 && tasks[0].GetExecutor() != nil {
		executor = clone(tasks[0].GetExecutor())
		err = validateExecutor(executor, fw)
	}
	if err == nil && executor != nil {
		if executor.FrameworkId == nil {
			executor.FrameworkId = &mesos.FrameworkID{Value: &fw.id}
		}
		existing := a.executors[executorKey(fw.id, executor.GetExecutorId().GetValue())]
		if existing == nil {
			newExecutor = true
			var exRes resources.Resources
			exRes, err = allocatedResources(executor.GetResources(), role)
			if err == nil {
				needed = needed.Add(exRes)
				executor.Resources = resources.ToProto(exRes)
			}
		} else {
			executor = existing
		}
	}
	ids := map[string]bool{}
	for i, ti := range tasks {
		if err != nil {
			break
		}
		if err = validateTask(ti, a, fw, group); err != nil {
			if group {
				// Mesos names the task of a group that failed.
				err = fmt.Errorf("Task '%s' is invalid: %w", ti.GetTaskId().GetValue(), err)
			}
			break
		}
		if ids[ti.GetTaskId().GetValue()] {
			err = fmt.Errorf("Task '%s' appears more than once in the task group", ti.GetTaskId().GetValue())
			break
		}
		ids[ti.GetTaskId().GetValue()] = true
		taskRes[i], err = allocatedResources(ti.GetResources(), role)
		if err != nil {
			err = fmt.Errorf("Task '%s' uses invalid resources: %v", ti.GetTaskId().GetValue(), err)
			break
		}
		if needed == nil && i == len(tasks)-1 {
			// A lone task's own resources (the usual LAUNCH, task by
			// task): only read below, so not copied.
			needed = taskRes[i]
		} else {
			needed.AddInPlace(taskRes[i]) // needed is its own: no copy each task
		}
	}
	if err == nil {
		available, err = c.takeShared(fw, a, shared, available, needed)
	}
	if err != nil {
		c.metrics.inc("master/invalid_operations")
		reason := mesos.TaskStatus_REASON_TASK_INVALID
		if group {
			reason = mesos.TaskStatus_REASON_TASK_GROUP_INVALID
		}
		for _, ti := range tasks {
			c.rejectTask(fw, ti, mesos.TaskState_TASK_ERROR, reason, err.Error())
		}
		return available
	}
	// available is the ACCEPT's own (see accept): taken from in place,
	// not copied for every task.
	available.SubtractInPlace(needed)
	if newExecutor {
		a.executors[executorKey(fw.id, executor.GetExecutorId().GetValue())] = executor
		if fw.executors[a.id] == nil {
			fw.executors[a.id] = map[string]*mesos.ExecutorInfo{}
		}
		fw.executors[a.id][executor.GetExecutorId().GetValue()] = executor
		c.executorsChanged(fw, a.id)
	}
	launched := make([]*mesos.TaskInfo, len(tasks))
	// The tasks share their agent's id, as they share their resources.
	agentID := a.info.GetId()
	if agentID.GetValue() != a.id {
		agentID = &mesos.AgentID{Value: &a.id}
	}
	for i, ti := range tasks {
		var pb []*mesos.Resource
		taskRes[i], pb = c.lastTaskRes.share(taskRes[i])
		ti = cloneWithout(ti, pb, agentID)
		if executor != nil && !group {
			ti.Executor = executor
		}
		launched[i] = ti
		// The task's id is kept inside its key among its agent's tasks:
		// one string for both, and none of the call's.
		key := taskKey(fw.id, ti.GetTaskId().GetValue())
		t := &task{taskFixed: &taskFixed{
			id: key[len(key)-len(ti.GetTaskId().GetValue()):], frameworkID: fw.id, agentID: a.id, info: keepTaskInfo(ti),
			res: taskRes[i], role: role, user: taskUser(ti),
		}, key: key}
		if executor != nil {
			t.executorID = optionalString(executor.GetExecutorId().GetValue())
		}
		// Mesos lists statuses from the agent only: none yet.
		t.state = mesos.TaskState_TASK_STAGING
		fw.tasks[t.id] = t
		a.tasks[t.agentKey()] = t
		c.taskChanged(fw, t)
		c.opTaskAdded(t)
		c.metrics.inc("master/tasks_launched")
	}
	// The framework's info goes out as it is: the Core replaces it, never
	// changes it, and the message is encoded before it is dropped.
	info := fw.info
	if group {
		c.sendToAgent(a, &agentproto.MasterMessage{
			Type: agentproto.MasterMessage_RUN_TASK_GROUP.Enum(),
			RunTaskGroup: &agentproto.MasterMessage_RunTaskGroup{
				FrameworkInfo: info, Executor: executor, TaskGroup: &mesos.TaskGroupInfo{Tasks: launched},
			},
		})
	} else {
		c.sendToAgent(a, &agentproto.MasterMessage{
			Type:    agentproto.MasterMessage_RUN_TASK.Enum(),
			RunTask: &agentproto.MasterMessage_RunTask{FrameworkInfo: info, Task: launched[0]},
		})
	}
	return available
}

// allocatedResources parses a task's or executor's resources and gives the
// ones without allocation_info the role of the offer, as Mesos's master does
// for frameworks that are not MULTI_ROLE. The messages are read, not
// copied: the role goes on the parsed resources.
func allocatedResources(rs []*mesos.Resource, role string) (resources.Resources, error) {
	for _, r := range rs {
		if ai := r.GetAllocationInfo(); ai != nil && ai.GetRole() != role {
			return nil, fmt.Errorf("resource %s is allocated to role '%s', not the offer's role '%s'", r.GetName(), ai.GetRole(), role)
		}
	}
	res, err := resources.FromProto(rs)
	if err != nil {
		return nil, err
	}
	for i := range res {
		if res[i].AllocationRole != "" {
			// Some named the role already: those without it may
			// now merge with them.
			return res.AllocatedTo(role), nil
		}
	}
	for i := range res {
		res[i].AllocationRole = role
	}
	return res, nil
}

// masterPID is the libprocess-style pid Mesos shows for a master.
func masterPID(info *mesos.MasterInfo) string {
	return "master@" + info.GetAddress().GetIp() + ":" + strconv.Itoa(int(info.GetPort()))
}

// taskUser is the user a task names, as Mesos's createTask takes it: its
// command's, else its executor's command's, else none (the framework's
// user is not the task's).
func taskUser(ti *mesos.TaskInfo) string {
	if u := ti.GetCommand().GetUser(); u != "" {
		return u
	}
	return ti.GetExecutor().GetCommand().GetUser()
}
