package core

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/gomesos/gomesos/api/v1/maintenance"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/master/allocator"
	"github.com/gomesos/gomesos/resources"
)

// framework is the master's record of a registered framework.
type framework struct {
	id     string
	info   *mesos.FrameworkInfo
	stream string // current event stream; "" when disconnected
	active bool
	// recovered: learnt from a re-registering agent after a failover; its
	// scheduler has not resubscribed to this master yet.
	recovered bool

	registeredTime   time.Time
	reregisteredTime time.Time
	unregisteredTime time.Time
	failoverDeadline time.Time // zero unless disconnected

	tasks       map[string]*task // by task id
	completed   []*task          // oldest first, bounded
	unreachable []*task
	offers      map[string]*offer
	// executors launched for it (custom and default executors), by agent id
	// then executor id.
	executors map[string]map[string]*mesos.ExecutorInfo
	// counters are its master/frameworks/* counters (framework_metrics.go).
	counters []float64
	// suppressed are its roles offers are suppressed for, as the
	// allocator holds them (for master/frameworks/*/roles/*/suppressed).
	suppressed map[string]bool
	// constraints are its offer_constraints as given and as compiled for
	// the allocator (nil when it has none).
	constraintsPB *schedpb.OfferConstraints
	constraints   *allocator.OfferConstraints

	pub publishedFramework
}

func (f *framework) roles() []string { return frameworkRoles(f.info) }

// idProto is the framework's id as a message, for messages that name it:
// its info's, which the Core never changes.
func (f *framework) idProto() *mesos.FrameworkID {
	if id := f.info.GetId(); id.GetValue() == f.id {
		return id
	}
	return &mesos.FrameworkID{Value: &f.id}
}

func (f *framework) hasCapability(t mesos.FrameworkInfo_Capability_Type) bool {
	for _, c := range f.info.GetCapabilities() {
		if c.GetType() == t {
			return true
		}
	}
	return false
}

func (f *framework) partitionAware() bool {
	return f.hasCapability(mesos.FrameworkInfo_Capability_PARTITION_AWARE)
}

// multiRole reports the MULTI_ROLE capability. Only such a framework is told
// the role an offer and its resources are allocated to (allocation_info):
// Mesos strips it for the others (MESOS-8237), whose client libraries
// compare resources field by field and would not recognise their own.
func (f *framework) multiRole() bool {
	return f.hasCapability(mesos.FrameworkInfo_Capability_MULTI_ROLE)
}

// resourceFormat is how the resources the master sends the framework write
// their reservations: the reservations stack for a framework with the
// RESERVATION_REFINEMENT capability, the older role and reservation fields
// for the others.
func (f *framework) resourceFormat() resources.Format {
	if f.hasCapability(mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT) {
		return resources.PostRefinementFormat
	}
	return resources.PreRefinementFormat
}

// resourcesProto writes resources for the framework in the form it asked
// for with its capabilities (see multiRole and resourceFormat).
func (f *framework) resourcesProto(rs resources.Resources) ([]*mesos.Resource, error) {
	if !f.multiRole() {
		rs = rs.Unallocated()
	}
	return resources.ToProtoFormat(rs, f.resourceFormat())
}

// frameworkRoles is the roles a framework subscribes with: `roles` for
// MULTI_ROLE frameworks, else the deprecated `role` (default "*").
func frameworkRoles(info *mesos.FrameworkInfo) []string {
	for _, c := range info.GetCapabilities() {
		if c.GetType() == mesos.FrameworkInfo_Capability_MULTI_ROLE {
			return info.GetRoles()
		}
	}
	return []string{info.GetRole()}
}

func allocatorFramework(info *mesos.FrameworkInfo, suppressed []string) allocator.Framework {
	fw := allocator.Framework{Roles: frameworkRoles(info), SuppressedRoles: suppressed}
	// offer_filters.min_allocatable_resources: per role, an offer needs
	// one of the quantity sets (an empty list: no minimum).
	for _, role := range sortedKeys(info.GetOfferFilters()) {
		mar := info.GetOfferFilters()[role].GetMinAllocatableResources()
		if mar == nil {
			continue
		}
		if fw.MinAllocatable == nil {
			fw.MinAllocatable = map[string][]map[string]resources.Scalar{}
		}
		sets := []map[string]resources.Scalar{}
		for _, q := range mar.GetQuantities() {
			set := map[string]resources.Scalar{}
			for name, v := range q.GetQuantities() {
				set[name] = resources.ScalarFromFloat(v.GetValue())
			}
			if len(set) > 0 {
				sets = append(sets, set)
			}
		}
		fw.MinAllocatable[role] = sets
	}
	for _, c := range info.GetCapabilities() {
		switch c.GetType() {
		case mesos.FrameworkInfo_Capability_GPU_RESOURCES:
			fw.Capabilities.GPUResources = true
		case mesos.FrameworkInfo_Capability_REVOCABLE_RESOURCES:
			fw.Capabilities.RevocableResources = true
		case mesos.FrameworkInfo_Capability_SHARED_RESOURCES:
			fw.Capabilities.SharedResources = true
		case mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT:
			fw.Capabilities.ReservationRefinement = true
		}
	}
	return fw
}

// usedResources sums the resources of the framework's live tasks per agent.
func (f *framework) usedByAgent() map[string]resources.Resources {
	used := map[string]resources.Resources{}
	for _, t := range f.tasks {
		if t.resourcesRecovered {
			continue
		}
		used[t.agentID] = used[t.agentID].Add(t.res)
	}
	return used
}

func (c *Core) schedulerCall(in SchedulerCall) Result {
	call := in.Call
	if call.GetType() == schedpb.Call_SUBSCRIBE {
		return c.subscribe(call, in.Stream)
	}
	fw := c.frameworks[call.GetFrameworkId().GetValue()]
	if fw == nil {
		return fail(Invalid, "Framework cannot be found")
	}
	if fw.stream == "" {
		return fail(NotSubscribed, "Framework is not subscribed")
	}
	if in.Stream == "" {
		return fail(Invalid, "All non-subscribe calls should include the 'Mesos-Stream-Id' header")
	}
	if in.Stream != fw.stream {
		return fail(Invalid, "The stream ID '%s' included in this request didn't match the stream ID currently associated with framework ID %s", in.Stream, fw.id)
	}
	c.countCall(fw, call.GetType())
	switch call.GetType() {
	case schedpb.Call_TEARDOWN:
		c.metrics.inc("master/messages_unregister_framework")
		c.removeFramework(fw)
	case schedpb.Call_ACCEPT:
		c.metrics.inc("master/messages_launch_tasks")
		c.accept(fw, call.GetAccept())
	case schedpb.Call_DECLINE:
		c.metrics.inc("master/messages_decline_offers")
		c.decline(fw, call.GetDecline().GetOfferIds(), call.GetDecline().GetFilters())
	case schedpb.Call_ACCEPT_INVERSE_OFFERS:
		c.answerInverseOffers(fw, call.GetAcceptInverseOffers().GetInverseOfferIds(), call.GetAcceptInverseOffers().GetFilters(), maintenance.InverseOfferStatus_ACCEPT)
	case schedpb.Call_DECLINE_INVERSE_OFFERS:
		c.answerInverseOffers(fw, call.GetDeclineInverseOffers().GetInverseOfferIds(), call.GetDeclineInverseOffers().GetFilters(), maintenance.InverseOfferStatus_DECLINE)
	case schedpb.Call_REVIVE:
		c.metrics.inc("master/messages_revive_offers")
		c.alloc.ReviveOffers(fw.id, call.GetRevive().GetRoles())
		c.setSuppressed(fw, call.GetRevive().GetRoles(), false)
		c.allocateSoon = true
	case schedpb.Call_SUPPRESS:
		c.metrics.inc("master/messages_suppress_offers")
		c.alloc.SuppressOffers(fw.id, call.GetSuppress().GetRoles())
		c.setSuppressed(fw, call.GetSuppress().GetRoles(), true)
	case schedpb.Call_KILL:
		c.metrics.inc("master/messages_kill_task")
		c.kill(fw, call.GetKill())
	case schedpb.Call_SHUTDOWN:
		c.shutdownExecutor(fw, call.GetShutdown())
	case schedpb.Call_ACKNOWLEDGE:
		c.metrics.inc("master/messages_status_update_acknowledgement")
		c.acknowledge(fw, call.GetAcknowledge())
	case schedpb.Call_RECONCILE:
		c.metrics.inc("master/messages_reconcile_tasks")
		c.reconcile(fw, call.GetReconcile())
	case schedpb.Call_MESSAGE:
		c.metrics.inc("master/messages_framework_to_executor")
		c.frameworkMessage(fw, call.GetMessage())
	case schedpb.Call_REQUEST:
		// The built-in allocator ignores resource requests, as Mesos's does.
		c.metrics.inc("master/messages_resource_request")
	case schedpb.Call_ACKNOWLEDGE_OPERATION_STATUS:
		c.metrics.inc("master/messages_operation_status_update_acknowledgement")
		c.acknowledgeOperation(fw, call.GetAcknowledgeOperationStatus())
	case schedpb.Call_RECONCILE_OPERATIONS:
		c.metrics.inc("master/messages_reconcile_operations")
		c.reconcileOperations(fw, call.GetReconcileOperations())
	case schedpb.Call_UPDATE_FRAMEWORK:
		return c.updateFramework(fw, call.GetUpdateFramework())
	case schedpb.Call_UNKNOWN:
		return fail(Unsupported, "Received an unknown call type")
	default:
		return fail(Unsupported, "Unsupported call type %s", call.GetType())
	}
	return ok()
}

func (c *Core) subscribe(call *schedpb.Call, stream string) Result {
	sub := call.GetSubscribe()
	info := clone(sub.GetFrameworkInfo())
	err := validateFrameworkInfo(info, sub.GetSuppressedRoles())
	if err == nil {
		err = c.checkWhitelist(info)
	}
	var constraints *allocator.OfferConstraints
	if err == nil {
		constraints, err = compileOfferConstraints(sub.GetOfferConstraints(), frameworkRoles(info))
	}
	if err != nil {
		// Mesos answers an invalid subscription on the stream with ERROR.
		c.emit(SendEvent{Stream: stream, Event: errorEvent(err.Error())})
		c.emit(CloseStream{Stream: stream})
		return Result{Code: OK}
	}
	id := info.GetId().GetValue()
	if id != "" && c.removedFWs[id] {
		c.emit(SendEvent{Stream: stream, Event: errorEvent("Framework has been removed")})
		c.emit(CloseStream{Stream: stream})
		return Result{Code: OK}
	}
	c.metrics.inc("master/messages_register_framework")
	fw := c.frameworks[id]
	wasKnown := fw != nil
	if fw == nil {
		if id == "" {
			id = fmt.Sprintf("%s-%04d", c.info.GetId(), c.nextFramework)
			c.nextFramework++
			info.Id = &mesos.FrameworkID{Value: &id}
		}
		fw = &framework{
			id:             id,
			info:           info,
			registeredTime: c.now,
			tasks:          map[string]*task{},
			offers:         map[string]*offer{},
			executors:      map[string]map[string]*mesos.ExecutorInfo{},
		}
		c.frameworks[id] = fw
		fw.setConstraints(sub.GetOfferConstraints(), constraints)
		c.alloc.AddFramework(id, fw.allocatorInfo(sub.GetSuppressedRoles()), fw.usedByAgent())
		c.log.Info("framework registered", "framework", id, "name", info.GetName())
	} else {
		// Failover or resubscription: the old stream learns it was replaced.
		c.metrics.inc("master/messages_reregister_framework")
		if fw.stream != "" {
			c.emit(SendEvent{Stream: fw.stream, Event: errorEvent("Framework failed over")})
			c.emit(CloseStream{Stream: fw.stream})
			delete(c.streams, fw.stream)
		}
		// Changes to user and checkpoint are ignored on resubscription.
		info.User = fw.info.User
		info.Checkpoint = fw.info.Checkpoint
		info.Id = fw.info.Id
		fw.info = info
		fw.reregisteredTime = c.now
		c.rescindFrameworkOffers(fw, false)
		fw.setConstraints(sub.GetOfferConstraints(), constraints)
		c.alloc.UpdateFramework(id, fw.allocatorInfo(sub.GetSuppressedRoles()))
		c.log.Info("framework resubscribed", "framework", id)
	}
	fw.stream = stream
	fw.recovered = false
	// A subscription says which roles are suppressed, afresh.
	fw.suppressed = nil
	if roles := sub.GetSuppressedRoles(); len(roles) > 0 {
		c.setSuppressed(fw, roles, true)
	}
	c.frameworkChanged(fw)
	fw.failoverDeadline = time.Time{}
	fw.unregisteredTime = time.Time{}
	c.streams[stream] = fw
	if !fw.active {
		fw.active = true
		c.alloc.ActivateFramework(id)
	}
	c.countCall(fw, schedpb.Call_SUBSCRIBE)
	c.countEvent(fw, schedpb.Event_SUBSCRIBED)
	c.emit(SendEvent{Stream: stream, Event: &schedpb.Event{
		Type: schedpb.Event_SUBSCRIBED.Enum(),
		Subscribed: &schedpb.Event_Subscribed{
			FrameworkId:              &mesos.FrameworkID{Value: &fw.id},
			HeartbeatIntervalSeconds: ptr(c.opts.HeartbeatInterval.Seconds()),
			MasterInfo:               clone(c.info),
		},
	}})
	// Mesos's heartbeater beats as soon as it starts, so a HEARTBEAT
	// follows SUBSCRIBED at once (see mesos-samples/scheduler_subscribe_stream.txt).
	c.countEvent(fw, schedpb.Event_HEARTBEAT)
	c.emit(SendEvent{Stream: stream, Event: &schedpb.Event{Type: schedpb.Event_HEARTBEAT.Enum()}})
	c.opFramework(fw, !wasKnown)
	c.allocateSoon = true
	return Result{Code: OK, FrameworkID: fw.id}
}

// recoverFramework adds a framework the master learns of from a
// re-registering agent (after a failover, before its scheduler
// resubscribes): known, disconnected and inactive, with no offers, until
// it subscribes with its id. See recoveredFrameworkDeadline for when it is
// removed if it never does.
func (c *Core) recoverFramework(info *mesos.FrameworkInfo) *framework {
	id := info.GetId().GetValue()
	fw := &framework{
		id:               id,
		info:             info,
		registeredTime:   c.now,
		unregisteredTime: c.now,
		failoverDeadline: c.recoveredFrameworkDeadline(info),
		recovered:        true,
		tasks:            map[string]*task{},
		offers:           map[string]*offer{},
		executors:        map[string]map[string]*mesos.ExecutorInfo{},
	}
	c.frameworks[id] = fw
	c.alloc.AddFramework(id, allocatorFramework(info, nil), nil)
	c.alloc.DeactivateFramework(id)
	c.frameworkChanged(fw)
	c.opFramework(fw, true)
	c.log.Info("framework recovered from a re-registered agent", "framework", id, "name", info.GetName())
	return fw
}

func errorEvent(msg string) *schedpb.Event {
	return &schedpb.Event{Type: schedpb.Event_ERROR.Enum(), Error: &schedpb.Event_Error{Message: &msg}}
}

func (c *Core) streamClosed(stream string) {
	fw := c.streams[stream]
	delete(c.streams, stream)
	if fw == nil || fw.stream != stream {
		return
	}
	c.log.Info("framework disconnected", "framework", fw.id)
	fw.stream = ""
	c.frameworkChanged(fw)
	fw.unregisteredTime = c.now
	if fw.active {
		fw.active = false
		c.alloc.DeactivateFramework(fw.id)
	}
	c.rescindFrameworkOffers(fw, false)
	timeout := time.Duration(fw.info.GetFailoverTimeout() * float64(time.Second))
	if timeout <= 0 {
		c.removeFramework(fw)
		return
	}
	fw.failoverDeadline = c.now.Add(timeout)
	c.opFramework(fw, false)
}

func (c *Core) checkFailoverTimeouts() {
	for _, id := range sortedKeys(c.frameworks) {
		fw := c.frameworks[id]
		if fw.stream == "" && !fw.failoverDeadline.IsZero() && !c.now.Before(fw.failoverDeadline) {
			c.log.Info("framework failover timeout", "framework", fw.id)
			c.removeFramework(fw)
		}
	}
}

// removeFramework tears a framework down: its offers are recovered, its
// tasks killed and its executors shut down on every agent, its stream closed,
// and it moves to the completed frameworks for good.
func (c *Core) removeFramework(fw *framework) {
	c.log.Info("removing framework", "framework", fw.id)
	c.rescindFrameworkOffers(fw, false)
	c.forgetFrameworkOperations(fw.id)
	c.rescindInverseOffers(func(io *inverseOffer) bool { return io.frameworkID == fw.id }, false)
	// Like Mesos, every agent is told, not only those the master knows to
	// run the framework's tasks or executors: an agent may still hold
	// ended tasks whose end the master has already seen acknowledged (the
	// acknowledgement was lost on the way to the agent), and it resends
	// their updates, which nobody will acknowledge now, until it hears
	// that the framework is gone.
	for _, agentID := range sortedKeys(c.agents) {
		c.sendToAgent(c.agents[agentID], shutdownFrameworkMsg(fw.id))
	}
	drainingOn := map[string]bool{}
	for _, id := range sortedKeys(fw.tasks) {
		t := fw.tasks[id]
		if a := c.agents[t.agentID]; a != nil && a.drain != nil {
			drainingOn[a.id] = true
		}
		c.recoverTaskResources(fw, t)
		if !t.state.IsTerminal() {
			t.setState(mesos.TaskState_TASK_KILLED, c.now)
		}
		c.countTerminal(t, t.state, mesos.TaskStatus_SOURCE_MASTER, mesos.TaskStatus_REASON_FRAMEWORK_REMOVED)
		c.removeTask(fw, t)
	}
	for agentID := range fw.executors {
		if a := c.agents[agentID]; a != nil {
			for exID := range fw.executors[agentID] {
				delete(a.executors, executorKey(fw.id, exID))
			}
			c.agentChanged(a)
		}
	}
	if fw.stream != "" {
		c.emit(CloseStream{Stream: fw.stream})
		delete(c.streams, fw.stream)
		fw.stream = ""
	}
	fw.active = false
	fw.unregisteredTime = c.now
	c.alloc.RemoveFramework(fw.id)
	delete(c.frameworks, fw.id)
	c.removedFWs[fw.id] = true
	c.completed = append(c.completed, fw)
	c.frameworkChanged(fw)
	c.opFrameworkRemoved(fw)
	c.changes.completed = true
	if n := len(c.completed) - c.opts.MaxCompletedFrameworks; n > 0 {
		for _, old := range c.completed[:n] {
			delete(c.removedFWs, old.id)
		}
		c.completed = append([]*framework(nil), c.completed[n:]...)
	}
	// A draining agent whose last tasks were the framework's is drained.
	for _, id := range sortedKeys(drainingOn) {
		c.checkDrained(c.agents[id])
	}
	c.allocateSoon = true
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func ptr[T any](v T) *T { return &v }

// updateFramework carries out UPDATE_FRAMEWORK (Mesos 1.9+): a subscribed
// framework changes its FrameworkInfo (name, failover_timeout,
// capabilities, roles, offer_filters, ...) and its suppressed roles
// without resubscribing. What Mesos does not let change (user, checkpoint,
// principal) is refused, as is an invalid FrameworkInfo, with 400 and
// nothing changed. The allocator follows the new roles; outstanding offers
// are rescinded, since they may be in roles, or of shapes, the framework
// no longer takes; operator subscribers get FRAMEWORK_UPDATED.
func (c *Core) updateFramework(fw *framework, u *schedpb.Call_UpdateFramework) Result {
	info := u.GetFrameworkInfo()
	if info == nil {
		return fail(Invalid, "Expecting 'update_framework.framework_info' to be present")
	}
	if id := info.GetId().GetValue(); id != fw.id {
		return fail(Invalid, "Framework ID in 'update_framework.framework_info' ('%s') does not match the framework ID of the call ('%s')", id, fw.id)
	}
	info = clone(info)
	if err := validateFrameworkInfo(info, u.GetSuppressedRoles()); err != nil {
		return fail(Invalid, "%s", err)
	}
	if err := c.checkWhitelist(info); err != nil {
		return fail(Invalid, "%s", err)
	}
	constraints, err := compileOfferConstraints(u.GetOfferConstraints(), frameworkRoles(info))
	if err != nil {
		return fail(Invalid, "%s", err)
	}
	old := fw.info
	switch {
	case info.GetUser() != old.GetUser():
		return fail(Invalid, "Updating 'FrameworkInfo.user' is unsupported")
	case info.GetCheckpoint() != old.GetCheckpoint():
		return fail(Invalid, "Updating 'FrameworkInfo.checkpoint' is unsupported")
	case info.GetPrincipal() != old.GetPrincipal():
		return fail(Invalid, "Changing framework's principal is not allowed.")
	case fw.multiRole() && !hasCapability(info, mesos.FrameworkInfo_Capability_MULTI_ROLE):
		return fail(Invalid, "Removal of the MULTI_ROLE capability is not supported")
	}
	for _, r := range u.GetSuppressedRoles() {
		if !slices.Contains(frameworkRoles(info), r) {
			return fail(Invalid, "Suppressed role '%s' is not contained in the list of roles", r)
		}
	}
	fw.info = info
	c.rescindFrameworkOffers(fw, true)
	fw.setConstraints(u.GetOfferConstraints(), constraints)
	c.alloc.UpdateFramework(fw.id, fw.allocatorInfo(u.GetSuppressedRoles()))
	fw.suppressed = nil
	if roles := u.GetSuppressedRoles(); len(roles) > 0 {
		c.setSuppressed(fw, roles, true)
	}
	c.frameworkChanged(fw)
	c.opFramework(fw, false)
	c.log.Info("framework updated", "framework", fw.id, "name", info.GetName(), "roles", frameworkRoles(info))
	c.allocateSoon = true
	return Result{Code: OK}
}

func hasCapability(info *mesos.FrameworkInfo, t mesos.FrameworkInfo_Capability_Type) bool {
	for _, c := range info.GetCapabilities() {
		if c.GetType() == t {
			return true
		}
	}
	return false
}

// checkWhitelist refuses a role outside the master's --roles, as Mesos
// does while the deprecated flag is set ("*" is always allowed).
func (c *Core) checkWhitelist(info *mesos.FrameworkInfo) error {
	if c.opts.Roles == nil {
		return nil
	}
	for _, r := range frameworkRoles(info) {
		if r != "*" && !slices.Contains(c.opts.Roles, r) {
			return fmt.Errorf("Role '%s' is not present in the master's --roles", r)
		}
	}
	return nil
}

// setConstraints records the framework's offer constraints (replacing any
// before: SUBSCRIBE and UPDATE_FRAMEWORK give them afresh, as in Mesos).
func (f *framework) setConstraints(pb *schedpb.OfferConstraints, compiled *allocator.OfferConstraints) {
	if compiled == nil {
		f.constraintsPB, f.constraints = nil, nil
		return
	}
	f.constraintsPB, f.constraints = clone(pb), compiled
}

// allocatorInfo is what the allocator is told of the framework.
func (f *framework) allocatorInfo(suppressed []string) allocator.Framework {
	af := allocatorFramework(f.info, suppressed)
	af.OfferConstraints = f.constraints
	return af
}
