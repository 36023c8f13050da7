package core

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/gomesos/gomesos/api/agentproto"
	masterpb "github.com/gomesos/gomesos/api/v1/master"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/resources"
)

// Operations that reshape an agent's resources: RESERVE, UNRESERVE,
// CREATE, DESTROY, GROW_VOLUME and SHRINK_VOLUME, from an accepted offer
// or from the operator API. As Mesos's master does for an agent's default
// resources, the master validates an operation, applies it at once
// (speculatively) to the agent's total and to the allocator, and sends it
// to the agent (APPLY_OPERATION, with the agent's whole set of
// checkpointed resources afterwards). The agent checkpoints the resources,
// makes or removes the volume directories, and answers OPERATION_STATUS;
// then a framework that asked for feedback (the operation has an id) gets
// OPERATION_FINISHED, which it acknowledges (ACKNOWLEDGE_OPERATION_STATUS).
// An operation the master will not carry out is answered OPERATION_ERROR
// (dropOperation). GET_OPERATIONS lists the operations the master tracks:
// pending ones, and finished ones whose status is not yet acknowledged.

// operation is an operation the master applied and tracks.
type operation struct {
	uuid        []byte
	frameworkID string // "" for the operator API's
	agentID     string
	info        *mesos.Offer_Operation
	statuses    []*mesos.OperationStatus
}

func (o *operation) latest() *mesos.OperationStatus { return o.statuses[len(o.statuses)-1] }

func (o *operation) proto() *mesos.Operation {
	pb := &mesos.Operation{
		AgentId:      agentIDProto(o.agentID),
		Info:         o.info,
		LatestStatus: o.latest(),
		Statuses:     o.statuses,
		Uuid:         &mesos.UUID{Value: o.uuid},
	}
	if o.frameworkID != "" {
		pb.FrameworkId = frameworkIDProto(o.frameworkID)
	}
	return pb
}

// newOperationUUID is a fresh 16-byte id: the master's id hashed, and a
// counter (the core has no randomness of its own).
func (c *Core) newOperationUUID() []byte {
	h := fnv.New64a()
	h.Write([]byte(c.info.GetId()))
	c.nextOperation++
	b := make([]byte, 16)
	binary.BigEndian.PutUint64(b, h.Sum64())
	binary.BigEndian.PutUint64(b[8:], c.nextOperation)
	return b
}

// isResourceOperation reports whether the master carries out t on an
// agent's resources (operations.go) rather than launching tasks.
func isResourceOperation(t mesos.Offer_Operation_Type) bool {
	switch t {
	case mesos.Offer_Operation_RESERVE, mesos.Offer_Operation_UNRESERVE, mesos.Offer_Operation_CREATE,
		mesos.Offer_Operation_DESTROY, mesos.Offer_Operation_GROW_VOLUME, mesos.Offer_Operation_SHRINK_VOLUME:
		return true
	}
	return false
}

// offerOperation carries out a resource operation of an accepted offer on
// available, what is left of the offered resources (allocated to role),
// and returns what is left after it.
func (c *Core) offerOperation(fw *framework, a *agent, role string, available resources.Resources, op *mesos.Offer_Operation) resources.Resources {
	consumed, converted, err := c.conversion(fw, a, role, op)
	if err == nil && !available.Contains(consumed) {
		err = fmt.Errorf("%s does not contain %s", available.String(), consumed.String())
	}
	if err == nil && op.GetType() == mesos.Offer_Operation_DESTROY {
		c.rescindSharedOffers(a, consumed)
	}
	if err == nil && !c.alloc.UpdateAllocation(fw.id, a.id, consumed, converted) {
		err = fmt.Errorf("the allocator does not hold %s for the framework", consumed.String())
	}
	if err != nil {
		c.dropOperation(fw, op, fmt.Sprintf("Invalid %s operation: %s", op.GetType(), err))
		return available
	}
	c.applyToAgent(fw, a, op, consumed, converted)
	return available.Subtract(consumed).Add(converted)
}

// applyToAgent applies a validated conversion to the agent's total,
// records the operation and sends it to the agent. The allocator has
// applied it already.
func (c *Core) applyToAgent(fw *framework, a *agent, op *mesos.Offer_Operation, consumed, converted resources.Resources) {
	a.total = a.total.Subtract(consumed.Unallocated()).Add(converted.Unallocated())
	info := clone(a.info)
	info.Resources = resources.ToProto(a.total)
	a.info = info
	c.agentChanged(a)
	o := &operation{uuid: c.newOperationUUID(), agentID: a.id, info: clone(op)}
	if fw != nil {
		o.frameworkID = fw.id
	}
	o.statuses = []*mesos.OperationStatus{{
		OperationId: op.GetId(), State: mesos.OperationState_OPERATION_PENDING.Enum(), AgentId: agentIDProto(a.id),
	}}
	if c.operations == nil {
		c.operations = map[string]*operation{}
	}
	c.operations[string(o.uuid)] = o
	c.metrics.operationState(op.GetType(), mesos.OperationState_OPERATION_PENDING, 1)
	c.log.Info("applying an operation", "type", op.GetType().String(), "agent", a.id, "framework", o.frameworkID, "converted", converted.String())
	msg := &agentproto.ApplyOperation{
		OperationUuid: o.uuid, Operation: o.info, Resources: resources.ToProto(a.total.Checkpointed()),
	}
	if fw != nil {
		msg.FrameworkId = frameworkIDProto(fw.id)
	}
	c.sendToAgent(a, &agentproto.MasterMessage{Type: agentproto.MasterMessage_APPLY_OPERATION.Enum(), ApplyOperation: msg})
}

// operationStatus takes an agent's answer to APPLY_OPERATION: the
// operation's status goes to its framework when it asked for feedback.
func (c *Core) operationStatus(a *agent, u *agentproto.OperationStatusUpdate) {
	c.metrics.inc("master/messages_operation_status_update")
	o := c.operations[string(u.GetOperationUuid())]
	if o == nil || o.agentID != a.id {
		c.metrics.inc("master/invalid_operation_status_updates")
		c.log.Warn("status of an unknown operation", "agent", a.id, "state", u.GetState().String())
		return
	}
	c.metrics.inc("master/valid_operation_status_updates")
	st := &mesos.OperationStatus{
		OperationId: o.info.GetId(), State: u.GetState().Enum(), AgentId: agentIDProto(a.id),
		Uuid: &mesos.UUID{Value: o.uuid},
	}
	if u.Message != nil {
		st.Message = ptr(u.GetMessage())
	}
	c.metrics.operationState(o.info.GetType(), o.latest().GetState(), -1)
	o.statuses = append(o.statuses, st)
	c.metrics.operationState(o.info.GetType(), st.GetState(), 1)
	fw := c.frameworks[o.frameworkID]
	if o.info.GetId() == nil || fw == nil {
		// Nobody acknowledges it: the master is done with it.
		c.forgetOperation(string(o.uuid), o)
		return
	}
	c.sendToFramework(fw, &schedpb.Event{
		Type:                  schedpb.Event_UPDATE_OPERATION_STATUS.Enum(),
		UpdateOperationStatus: &schedpb.Event_UpdateOperationStatus{Status: clone(st)},
	})
}

// acknowledgeOperation takes ACKNOWLEDGE_OPERATION_STATUS: the
// acknowledged terminal status ends the master's record of the operation.
func (c *Core) acknowledgeOperation(fw *framework, ack *schedpb.Call_AcknowledgeOperationStatus) {
	valid := false
	defer func() {
		if valid {
			c.metrics.inc("master/valid_operation_status_update_acknowledgements")
		} else {
			c.metrics.inc("master/invalid_operation_status_update_acknowledgements")
		}
	}()
	for _, key := range sortedKeys(c.operations) {
		o := c.operations[key]
		if o.frameworkID != fw.id || o.info.GetId().GetValue() != ack.GetOperationId().GetValue() {
			continue
		}
		if ack.AgentId != nil && ack.GetAgentId().GetValue() != o.agentID {
			continue
		}
		if st := o.latest(); string(st.GetUuid().GetValue()) == string(ack.GetUuid()) && st.GetState() != mesos.OperationState_OPERATION_PENDING {
			c.forgetOperation(key, o)
			valid = true
		}
	}
}

// reconcileOperations answers RECONCILE_OPERATIONS: the latest state of
// each operation named (each of the framework's when none is), without a
// uuid, as Mesos answers reconciliation; an operation the master does not
// know is OPERATION_UNKNOWN, or what became of its agent.
func (c *Core) reconcileOperations(fw *framework, r *schedpb.Call_ReconcileOperations) {
	send := func(st *mesos.OperationStatus) {
		c.sendToFramework(fw, &schedpb.Event{
			Type:                  schedpb.Event_UPDATE_OPERATION_STATUS.Enum(),
			UpdateOperationStatus: &schedpb.Event_UpdateOperationStatus{Status: st},
		})
	}
	latestOf := func(o *operation) *mesos.OperationStatus {
		st := clone(o.latest())
		st.Uuid = nil
		return st
	}
	if len(r.GetOperations()) == 0 {
		for _, key := range sortedKeys(c.operations) {
			if o := c.operations[key]; o.frameworkID == fw.id && o.info.GetId() != nil {
				send(latestOf(o))
			}
		}
		return
	}
	for _, want := range r.GetOperations() {
		var found *operation
		for _, key := range sortedKeys(c.operations) {
			o := c.operations[key]
			if o.frameworkID == fw.id && o.info.GetId().GetValue() == want.GetOperationId().GetValue() &&
				(want.AgentId == nil || want.GetAgentId().GetValue() == o.agentID) {
				found = o
				break
			}
		}
		if found != nil {
			send(latestOf(found))
			continue
		}
		state := mesos.OperationState_OPERATION_UNKNOWN
		if id := want.GetAgentId().GetValue(); id != "" {
			switch {
			case c.agents[id] != nil:
			case c.recovered[id] != nil:
				state = mesos.OperationState_OPERATION_RECOVERING
			default:
				if _, ok := c.unreachable[id]; ok {
					state = mesos.OperationState_OPERATION_UNREACHABLE
				} else if _, ok := c.gone[id]; ok {
					state = mesos.OperationState_OPERATION_GONE_BY_OPERATOR
				}
			}
		}
		st := &mesos.OperationStatus{OperationId: clone(want.GetOperationId()), State: state.Enum()}
		if want.AgentId != nil {
			st.AgentId = clone(want.GetAgentId())
		}
		send(st)
	}
}

// operationsRemovedWith ends the operations of an agent that is removed:
// a framework waiting for their feedback learns they are unreachable, or
// gone by operator when the agent is marked gone.
func (c *Core) operationsRemovedWith(agentID string, gone bool) {
	state := mesos.OperationState_OPERATION_UNREACHABLE
	if gone {
		state = mesos.OperationState_OPERATION_GONE_BY_OPERATOR
	}
	for _, key := range sortedKeys(c.operations) {
		o := c.operations[key]
		if o.agentID != agentID {
			continue
		}
		c.forgetOperation(key, o)
		if fw := c.frameworks[o.frameworkID]; fw != nil && o.info.GetId() != nil && o.latest().GetState() == mesos.OperationState_OPERATION_PENDING {
			c.sendToFramework(fw, &schedpb.Event{
				Type: schedpb.Event_UPDATE_OPERATION_STATUS.Enum(),
				UpdateOperationStatus: &schedpb.Event_UpdateOperationStatus{Status: &mesos.OperationStatus{
					OperationId: o.info.GetId(), State: state.Enum(), AgentId: agentIDProto(agentID),
				}},
			})
		}
	}
}

// OperationsProto lists the operations the master tracks, for
// GET_OPERATIONS.
func (c *Core) operationsProto() *masterpb.Response_GetOperations {
	out := &masterpb.Response_GetOperations{}
	for _, key := range sortedKeys(c.operations) {
		out.Operations = append(out.Operations, clone(c.operations[key].proto()))
	}
	return out
}

// conversion validates a resource operation, as Mesos's master validates
// it (src/master/validation.cpp), and returns the resources it consumes
// and those it makes of them. fw is nil for the operator API, whose
// resources are unallocated; a framework's are allocated to role.
func (c *Core) conversion(fw *framework, a *agent, role string, op *mesos.Offer_Operation) (consumed, converted resources.Resources, err error) {
	parse := func(pbs []*mesos.Resource) (resources.Resources, error) {
		if fw == nil {
			for _, pb := range pbs {
				if pb.AllocationInfo != nil {
					return nil, fmt.Errorf("A %s operation was attempted with an allocated resource, but the operator API only allows operations on unallocated resources", strings.ToLower(op.GetType().String()))
				}
			}
			res, err := resources.FromProto(pbs)
			if err != nil {
				return nil, fmt.Errorf("Invalid resources: %v", err)
			}
			return res, nil
		}
		res, err := allocatedResources(pbs, role)
		if err != nil {
			return nil, fmt.Errorf("Invalid resources: %v", err)
		}
		return res, nil
	}
	principal := ""
	if fw != nil {
		principal = fw.info.GetPrincipal()
	}
	switch op.GetType() {
	case mesos.Offer_Operation_RESERVE:
		if op.Reserve == nil {
			return nil, nil, fmt.Errorf("Expecting 'reserve' to be present")
		}
		if len(op.GetReserve().GetSource()) > 0 {
			// Mesos 1.10's re-reservation from one reservation to another.
			return nil, nil, fmt.Errorf("Changing a reservation ('reserve.source') is not supported by this master")
		}
		res, err := parse(op.GetReserve().GetResources())
		if err != nil {
			return nil, nil, err
		}
		if err := c.validateReserve(fw, res, principal); err != nil {
			return nil, nil, err
		}
		return res.PopReservation(), res, nil
	case mesos.Offer_Operation_UNRESERVE:
		if op.Unreserve == nil {
			return nil, nil, fmt.Errorf("Expecting 'unreserve' to be present")
		}
		res, err := parse(op.GetUnreserve().GetResources())
		if err != nil {
			return nil, nil, err
		}
		if res.IsEmpty() {
			return nil, nil, fmt.Errorf("Invalid resources: no resources to unreserve")
		}
		for i := range res {
			r := &res[i]
			if !r.IsDynamicallyReserved() {
				return nil, nil, fmt.Errorf("Resource %s is not dynamically reserved", r.String())
			}
			if r.IsPersistentVolume() {
				return nil, nil, fmt.Errorf("A dynamically reserved persistent volume %s cannot be unreserved directly. Please destroy the persistent volume first then unreserve the resource", r.String())
			}
		}
		return res, res.PopReservation(), nil
	case mesos.Offer_Operation_CREATE:
		if op.Create == nil {
			return nil, nil, fmt.Errorf("Expecting 'create' to be present")
		}
		vols, err := parse(op.GetCreate().GetVolumes())
		if err != nil {
			return nil, nil, err
		}
		if err := c.validateCreate(fw, a, vols, op.GetCreate().GetVolumes(), principal); err != nil {
			return nil, nil, err
		}
		return vols.StripPersistence(), vols, nil
	case mesos.Offer_Operation_DESTROY:
		if op.Destroy == nil {
			return nil, nil, fmt.Errorf("Expecting 'destroy' to be present")
		}
		vols, err := parse(op.GetDestroy().GetVolumes())
		if err != nil {
			return nil, nil, err
		}
		if err := validateVolumes(vols); err != nil {
			return nil, nil, err
		}
		if !a.total.Contains(vols.Unallocated()) {
			return nil, nil, fmt.Errorf("Persistent volumes not found")
		}
		used := a.used().Unallocated()
		for i := range vols {
			if used.Contains(resources.New(vols[i]).Unallocated()) {
				return nil, nil, fmt.Errorf("Persistent volumes in use")
			}
		}
		return vols, vols.StripPersistence(), nil
	case mesos.Offer_Operation_GROW_VOLUME:
		g := op.GetGrowVolume()
		if g == nil || g.Volume == nil || g.Addition == nil {
			return nil, nil, fmt.Errorf("Expecting 'grow_volume' with 'volume' and 'addition' to be present")
		}
		vol, err := parse([]*mesos.Resource{g.GetVolume()})
		if err != nil {
			return nil, nil, fmt.Errorf("Invalid resource in the 'GrowVolume.volume' field: %v", err)
		}
		add, err := parse([]*mesos.Resource{g.GetAddition()})
		if err != nil {
			return nil, nil, fmt.Errorf("Invalid resource in the 'GrowVolume.addition' field: %v", err)
		}
		if len(add) != 1 || add[0].Type != resources.TypeScalar || add[0].Scalar <= 0 {
			return nil, nil, fmt.Errorf("The size of 'GrowVolume.addition' field must be greater than zero")
		}
		if err := validateVolumes(vol); err != nil {
			return nil, nil, fmt.Errorf("Invalid persistent volume in the 'GrowVolume.volume' field: %v", err)
		}
		if vol[0].Shared {
			return nil, nil, fmt.Errorf("Growing a shared persistent volume is not supported")
		}
		if len(vol.StripPersistence().Add(add)) != 1 {
			return nil, nil, fmt.Errorf("Incompatible resources in the 'GrowVolume.volume' and 'GrowVolume.addition' fields")
		}
		grown := vol[0].Clone()
		grown.Scalar += add[0].Scalar
		return vol.Add(add), resources.New(grown), nil
	case mesos.Offer_Operation_SHRINK_VOLUME:
		s := op.GetShrinkVolume()
		if s == nil || s.Volume == nil || s.Subtract == nil {
			return nil, nil, fmt.Errorf("Expecting 'shrink_volume' with 'volume' and 'subtract' to be present")
		}
		vol, err := parse([]*mesos.Resource{s.GetVolume()})
		if err != nil {
			return nil, nil, fmt.Errorf("Invalid resource in the 'ShrinkVolume.volume' field: %v", err)
		}
		sub := resources.ScalarFromFloat(s.GetSubtract().GetValue())
		if sub <= 0 {
			return nil, nil, fmt.Errorf("Value of 'ShrinkVolume.subtract' must be greater than zero")
		}
		if len(vol) != 1 || vol[0].Scalar <= sub {
			return nil, nil, fmt.Errorf("Value of 'ShrinkVolume.subtract' must be smaller than the size of 'ShrinkVolume.volume'")
		}
		if d := vol[0].Disk; d != nil && d.Source != nil && d.Source.Type == resources.DiskSourceMount {
			return nil, nil, fmt.Errorf("Shrinking a volume on a MOUNT disk is not supported")
		}
		if err := validateVolumes(vol); err != nil {
			return nil, nil, fmt.Errorf("Invalid persistent volume in the 'ShrinkVolume.volume' field: %v", err)
		}
		if vol[0].Shared {
			return nil, nil, fmt.Errorf("Shrinking a shared persistent volume is not supported")
		}
		shrunk, freed := vol[0].Clone(), vol.StripPersistence()[0].Clone()
		shrunk.Scalar -= sub
		freed.Scalar = sub
		return vol, resources.New(shrunk, freed), nil
	}
	return nil, nil, fmt.Errorf("Offer operation %s is not supported by this master", op.GetType())
}

// validateReserve checks RESERVE's resources as Mesos does.
func (c *Core) validateReserve(fw *framework, res resources.Resources, principal string) error {
	if res.IsEmpty() {
		return fmt.Errorf("Invalid resources: no resources to reserve")
	}
	var roles []string
	if fw != nil {
		roles = fw.roles()
	}
	rolesText := "{ " + strings.Join(roles, ", ") + " }"
	allocRole := ""
	for i := range res {
		r := &res[i]
		if !r.IsDynamicallyReserved() {
			return fmt.Errorf("Resource %s is not dynamically reserved", r.String())
		}
		if r.IsPersistentVolume() {
			return fmt.Errorf("Invalid resources: a persistent volume %s cannot be reserved", r.String())
		}
		last := r.Reservations[len(r.Reservations)-1]
		if principal != "" {
			if last.Principal == "" {
				return fmt.Errorf("A reserve operation was attempted by principal '%s', but there is a reserved resource in the request with no principal set", principal)
			}
			if last.Principal != principal {
				return fmt.Errorf("A reserve operation was attempted by authenticated principal '%s', which does not match a reserved resource in the request with principal '%s'", principal, last.Principal)
			}
		}
		if fw == nil {
			continue
		}
		if len(r.Reservations) > 1 && !fw.hasCapability(mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT) {
			return fmt.Errorf("Resource %s with reservation refinement cannot be reserved by a framework without the RESERVATION_REFINEMENT capability", r.String())
		}
		if r.AllocationRole != last.Role {
			return fmt.Errorf("A reserve operation was attempted for a resource with role '%s', but the resource was allocated to role '%s'", last.Role, r.AllocationRole)
		}
		if !slices.Contains(roles, r.AllocationRole) {
			return fmt.Errorf("A reserve operation was attempted for a resource allocated to role '%s', but the framework only has roles '%s'", r.AllocationRole, rolesText)
		}
		if allocRole != "" && allocRole != r.AllocationRole {
			return fmt.Errorf("Invalid reservation resources: Expected allocation role '%s', but found '%s'", allocRole, r.AllocationRole)
		}
		allocRole = r.AllocationRole
	}
	return nil
}

// validateVolumes checks that every resource is a persistent volume on
// reserved disk.
func validateVolumes(vols resources.Resources) error {
	if vols.IsEmpty() {
		return fmt.Errorf("Not a persistent volume: no volumes")
	}
	for i := range vols {
		r := &vols[i]
		if r.Name != "disk" || !r.IsPersistentVolume() {
			return fmt.Errorf("Not a persistent volume: Resource %s is not a persistent volume", r.String())
		}
		if !r.IsReserved() {
			return fmt.Errorf("Not a persistent volume: Persistent volumes cannot be created from unreserved resources")
		}
	}
	return nil
}

// validateCreate checks CREATE's volumes as Mesos does: persistent volumes
// on reserved disk with ids unique on the agent, a relative container
// path, principals that match, and sharing only for frameworks that can.
func (c *Core) validateCreate(fw *framework, a *agent, vols resources.Resources, pbs []*mesos.Resource, principal string) error {
	if err := validateVolumes(vols); err != nil {
		return err
	}
	ids := map[string]bool{}
	for _, v := range a.total.PersistentVolumes() {
		ids[v.Disk.PersistenceID] = true
	}
	for _, pb := range pbs {
		id := pb.GetDisk().GetPersistence().GetId()
		if ids[id] {
			return fmt.Errorf("Persistence ID '%s' is not unique", id)
		}
		ids[id] = true
		if id == "." || id == ".." || strings.ContainsAny(id, "/\x00") {
			return fmt.Errorf("Invalid persistence ID '%s': it must be a valid directory name", id)
		}
		vol := pb.GetDisk().GetVolume()
		if vol == nil || vol.GetContainerPath() == "" {
			return fmt.Errorf("Expecting 'disk.volume.container_path' to be set for persistent volume '%s'", id)
		}
		if p := vol.GetContainerPath(); strings.HasPrefix(p, "/") || slices.Contains(strings.Split(p, "/"), "..") {
			return fmt.Errorf("Persistent volume '%s' has container path '%s': it must be a relative path inside the sandbox", id, p)
		}
		if pb.Shared != nil && fw != nil && !fw.hasCapability(mesos.FrameworkInfo_Capability_SHARED_RESOURCES) {
			// Mesos names the volume as it stringifies a resource.
			name := id
			if r, err := resources.ResourceFromProto(pb); err == nil {
				name = r.String()
			}
			return fmt.Errorf("Create volume operation for '%s' has been attempted by framework '%s' with no SHARED_RESOURCES capability", name, fw.id)
		}
		if principal != "" {
			p := pb.GetDisk().GetPersistence().Principal
			if p == nil {
				return fmt.Errorf("Create volume operation attempted by principal '%s', but there is a volume in the operation with no principal set in 'disk.persistence'", principal)
			}
			if *p != principal {
				return fmt.Errorf("Create volume operation attempted by authenticated principal '%s', which does not match a volume in the operation with principal '%s' set in 'disk.persistence'", principal, *p)
			}
		}
	}
	if fw != nil {
		role := vols[0].AllocationRole
		for i := range vols {
			if vols[i].AllocationRole != role {
				return fmt.Errorf("Invalid volume resources: Expected allocation role '%s', but found '%s'", role, vols[i].AllocationRole)
			}
		}
	}
	return nil
}

// operatorOperation carries out the operator API's RESERVE_RESOURCES,
// UNRESERVE_RESOURCES, CREATE_VOLUMES and DESTROY_VOLUMES on an agent's
// unallocated resources: offers of the agent are rescinded when the
// resources are offered, and the call is refused with 409 Conflict when
// they are in use.
func (c *Core) operatorOperation(agentID string, op *mesos.Offer_Operation) Result {
	if agentID == "" {
		return fail(Invalid, "Expecting 'agent_id' to be present")
	}
	a := c.agents[agentID]
	if a == nil {
		return fail(Invalid, "No agent found with specified ID")
	}
	if a.conn == "" {
		return fail(Conflict, "Agent %s is disconnected", agentID)
	}
	consumed, converted, err := c.conversion(nil, a, "", op)
	if err != nil {
		return fail(Invalid, "%s", err)
	}
	if !c.alloc.UpdateAvailable(a.id, consumed, converted) {
		// The resources may be in outstanding offers: take those back.
		c.rescindAgentOffers(a)
		if !c.alloc.UpdateAvailable(a.id, consumed, converted) {
			return fail(Conflict, "Insufficient resources on agent %s: %s are not available", a.id, consumed.String())
		}
	}
	c.applyToAgent(nil, a, op, consumed, converted)
	c.allocateSoon = true
	return Result{Code: Accepted}
}

// operatorResourceCall maps an operator call to the offer operation it
// carries out.
func operatorResourceCall(call *masterpb.Call) (agentID string, op *mesos.Offer_Operation, ok bool) {
	switch call.GetType() {
	case masterpb.Call_RESERVE_RESOURCES:
		r := call.GetReserveResources()
		return r.GetAgentId().GetValue(), &mesos.Offer_Operation{Type: mesos.Offer_Operation_RESERVE.Enum(),
			Reserve: &mesos.Offer_Operation_Reserve{Resources: r.GetResources(), Source: r.GetSource()}}, true
	case masterpb.Call_UNRESERVE_RESOURCES:
		r := call.GetUnreserveResources()
		return r.GetAgentId().GetValue(), &mesos.Offer_Operation{Type: mesos.Offer_Operation_UNRESERVE.Enum(),
			Unreserve: &mesos.Offer_Operation_Unreserve{Resources: r.GetResources()}}, true
	case masterpb.Call_CREATE_VOLUMES:
		r := call.GetCreateVolumes()
		return r.GetAgentId().GetValue(), &mesos.Offer_Operation{Type: mesos.Offer_Operation_CREATE.Enum(),
			Create: &mesos.Offer_Operation_Create{Volumes: r.GetVolumes()}}, true
	case masterpb.Call_DESTROY_VOLUMES:
		r := call.GetDestroyVolumes()
		return r.GetAgentId().GetValue(), &mesos.Offer_Operation{Type: mesos.Offer_Operation_DESTROY.Enum(),
			Destroy: &mesos.Offer_Operation_Destroy{Volumes: r.GetVolumes()}}, true
	case masterpb.Call_GROW_VOLUME:
		r := call.GetGrowVolume()
		return r.GetAgentId().GetValue(), &mesos.Offer_Operation{Type: mesos.Offer_Operation_GROW_VOLUME.Enum(),
			GrowVolume: &mesos.Offer_Operation_GrowVolume{Volume: r.GetVolume(), Addition: r.GetAddition()}}, true
	case masterpb.Call_SHRINK_VOLUME:
		r := call.GetShrinkVolume()
		return r.GetAgentId().GetValue(), &mesos.Offer_Operation{Type: mesos.Offer_Operation_SHRINK_VOLUME.Enum(),
			ShrinkVolume: &mesos.Offer_Operation_ShrinkVolume{Volume: r.GetVolume(), Subtract: r.GetSubtract()}}, true
	}
	return "", nil, false
}

// settleOperations settles the pending operations of an agent that
// re-registers with total, before the master takes total as the agent's:
// when total is what the master made of the operations, the agent applied
// them (its answers were lost with its connection) and they are finished;
// otherwise the agent never got them, its total stands, and they are
// dropped.
func (c *Core) settleOperations(a *agent, total resources.Resources) {
	if len(c.operations) == 0 {
		return
	}
	// Only this agent's operations are sorted, not every one the master
	// keeps.
	var keys []string
	for key, o := range c.operations {
		if o.agentID == a.id {
			keys = append(keys, key)
		}
	}
	slices.Sort(keys)
	// Whether the agent's resources are those the operations give is
	// asked once, and only of an agent with one pending: a failover
	// settles every agent's, nearly all with none.
	applied, asked := false, false
	for _, key := range keys {
		o := c.operations[key]
		if o == nil || o.latest().GetState() != mesos.OperationState_OPERATION_PENDING {
			continue
		}
		if !asked {
			applied, asked = a.total.NonRevocable().Equal(total), true
		}
		u := &agentproto.OperationStatusUpdate{OperationUuid: o.uuid, State: mesos.OperationState_OPERATION_FINISHED.Enum()}
		if !applied {
			u.State = mesos.OperationState_OPERATION_DROPPED.Enum()
			u.Message = ptr("The agent re-registered without the operation applied")
		}
		c.operationStatus(a, u)
	}
}

// forgetFrameworkOperations drops the finished operations of a framework
// being removed: nobody will acknowledge them. Pending ones stay until
// their agent answers (operationStatus forgets them then).
func (c *Core) forgetFrameworkOperations(fwID string) {
	for _, key := range sortedKeys(c.operations) {
		if o := c.operations[key]; o.frameworkID == fwID && o.latest().GetState() != mesos.OperationState_OPERATION_PENDING {
			c.forgetOperation(key, o)
		}
	}
}
