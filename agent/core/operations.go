package core

import (
	"slices"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/resources"
)

// The agent's side of the resource operations (RESERVE, UNRESERVE,
// CREATE, DESTROY, GROW_VOLUME, SHRINK_VOLUME): the master applies them
// and sends APPLY_OPERATION with the agent's whole set of checkpointed
// resources (its dynamic reservations and persistent volumes) afterwards.
// The agent checkpoints them with its identity, has the volume
// directories made or removed to match (the Volumes output), and answers
// OPERATION_STATUS. Its total, reported on every (re-)registration, is
// --resources with the checkpointed resources applied, so a restarted
// agent keeps its reservations and volumes.

// Volume is a persistent volume's place: the role it is reserved to and
// its persistence id.
type Volume struct {
	Role string
	ID   string
}

// Volumes asks the driver to make the directories of Create and remove
// those of Remove (with everything in them), under the work directory's
// volumes/roles/<role>/<id>, before the outputs that follow.
type Volumes struct {
	Create []Volume
	Remove []Volume
}

func (Volumes) isOutput() {}

// volumesOf lists the persistent volumes of rs.
func volumesOf(rs resources.Resources) []Volume {
	var out []Volume
	for _, r := range rs.PersistentVolumes() {
		out = append(out, Volume{Role: r.ReservationRole(), ID: r.Disk.PersistenceID})
	}
	return out
}

// totalResources is the agent's total: --resources with the checkpointed
// resources applied. Should they no longer fit (--resources shrank), the
// agent reports --resources alone and logs why. Without checkpointed
// resources it is the configuration's own slice, not to be changed.
func (c *core) totalResources() []*mesos.Resource {
	flags := c.cfg.AgentInfo.GetResources()
	if len(c.ckptRes) == 0 {
		return flags
	}
	total, err := c.applied(c.ckptRes)
	if err != nil {
		c.log.Error("cannot apply the checkpointed resources to --resources", "err", err)
		return flags
	}
	return resources.ToProto(total)
}

// applied is --resources with ckpt applied.
func (c *core) applied(ckpt []*mesos.Resource) (resources.Resources, error) {
	base, err := resources.FromProto(c.cfg.AgentInfo.GetResources())
	if err != nil {
		return nil, err
	}
	cr, err := resources.FromProto(ckpt)
	if err != nil {
		return nil, err
	}
	return resources.ApplyCheckpointed(base, cr)
}

// applyOperation takes APPLY_OPERATION.
func (c *core) applyOperation(m *agentproto.ApplyOperation) {
	if m == nil {
		return
	}
	answer := func(state mesos.OperationState, msg string) {
		u := &agentproto.OperationStatusUpdate{OperationUuid: m.GetOperationUuid(), State: state.Enum()}
		if msg != "" {
			u.Message = proto.String(msg)
		}
		c.sendToMaster(&agentproto.AgentMessage{Type: agentproto.AgentMessage_OPERATION_STATUS.Enum(), OperationStatus: u})
	}
	total, err := c.applied(m.GetResources())
	if err != nil {
		c.log.Error("refusing an operation the agent's resources cannot hold", "type", m.GetOperation().GetType().String(), "err", err)
		answer(mesos.OperationState_OPERATION_FAILED, err.Error())
		return
	}
	oldRes, _ := resources.FromProto(c.ckptRes)
	old, now := volumesOf(oldRes), volumesOf(total)
	var v Volumes
	for _, vol := range now {
		if !slices.Contains(old, vol) {
			v.Create = append(v.Create, vol)
		}
	}
	for _, vol := range old {
		if !slices.Contains(now, vol) {
			v.Remove = append(v.Remove, vol)
		}
	}
	c.ckptRes = m.GetResources()
	c.ckpt.meta = true
	if len(v.Create)+len(v.Remove) > 0 {
		c.emit(v)
	}
	c.log.Info("applied an operation", "type", m.GetOperation().GetType().String(), "resources", total.String())
	answer(mesos.OperationState_OPERATION_FINISHED, "")
}

// recoveredVolumes lists the volumes of the checkpointed resources.
func (c *core) recoveredVolumes() []Volume {
	rs, err := resources.FromProto(c.ckptRes)
	if err != nil {
		return nil
	}
	return volumesOf(rs)
}
