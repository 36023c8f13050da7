package core

import (
	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/resources"
)

// Oversubscription (Mesos's docs/oversubscription.md). The driver runs a
// resource estimator and a QoS controller and feeds their results in as
// inputs; the core keeps the bookkeeping: the revocable total it told the
// master, and the evictions.

// Oversubscribable is the resource estimator's latest estimate: the
// revocable resources the agent may offer beyond what its executors hold
// already (Mesos's ResourceEstimator::oversubscribable). Every resource
// must be revocable; the core drops any that is not.
type Oversubscribable struct{ Resources []*mesos.Resource }

// QoSCorrection asks for executors to be evicted (Mesos's QoSCorrection
// of type KILL): each is destroyed, and its unfinished tasks end
// TASK_LOST (TASK_GONE for a PARTITION_AWARE framework) with
// REASON_CONTAINER_PREEMPTED.
type QoSCorrection struct{ Kills []QoSKill }

// QoSKill names an executor to evict. ContainerID, when set, must be the
// executor's current container (a correction computed for an executor that
// has since been relaunched is ignored).
type QoSKill struct {
	FrameworkID string
	ExecutorID  string
	ContainerID string
}

func (Oversubscribable) isInput() {}
func (QoSCorrection) isInput()    {}

// oversubscribable is Mesos's _forwardOversubscribed: the agent's
// revocable total is the estimate plus what its executors hold of
// revocable resources; the master hears it when it changed.
func (c *core) oversubscribable(in Oversubscribable) {
	est, err := resources.FromProto(in.Resources)
	if err != nil {
		c.log.Warn("ignoring an invalid estimate of oversubscribable resources", "err", err)
		return
	}
	if nonRev := est.NonRevocable(); !nonRev.IsEmpty() {
		c.log.Warn("the resource estimator gave non-revocable resources; dropping them", "resources", nonRev.String())
	}
	total := est.Revocable().Unallocated().Add(c.allocatedRevocable())
	if c.oversubscribedSet && c.oversubscribed.Equal(total) {
		return
	}
	c.log.Info("forwarding total oversubscribed resources", "resources", total.String(), "previous", c.oversubscribed.String())
	c.oversubscribed, c.oversubscribedSet = total, true
	c.sendOversubscribed()
}

// allocatedRevocable is what the agent's live executors hold of revocable
// resources, unallocated.
func (c *core) allocatedRevocable() resources.Resources {
	var sum resources.Resources
	for _, ex := range c.sortedExecutors() { // in order: the same inputs give the same message
		if ex.state == execTerminated {
			continue
		}
		for _, pb := range ex.resources() {
			if pb.Revocable == nil {
				continue
			}
			if r, err := resources.FromProto([]*mesos.Resource{pb}); err == nil {
				sum.AddInPlace(r)
			}
		}
	}
	return sum.Unallocated()
}

// sendOversubscribed tells the master the agent's revocable total (when
// registered; registered sends it again).
func (c *core) sendOversubscribed() {
	if !c.oversubscribedSet {
		return
	}
	c.sendToMaster(&agentproto.AgentMessage{
		Type: agentproto.AgentMessage_UPDATE_AGENT.Enum(),
		UpdateAgent: &agentproto.UpdateAgent{
			UpdateOversubscribedResources: proto.Bool(true),
			OversubscribedResources:       resources.ToProto(c.oversubscribed),
		},
	})
}

// qosCorrection is Mesos's Slave::_qosCorrections: every executor named
// that runs is destroyed, its tasks lost to preemption.
func (c *core) qosCorrection(in QoSCorrection) {
	for _, k := range in.Kills {
		fw := c.frameworks[k.FrameworkID]
		if fw == nil || fw.terminating {
			c.log.Warn("ignoring a QoS correction for an unknown or terminating framework", "framework", k.FrameworkID)
			continue
		}
		ex := fw.executors[k.ExecutorID]
		if ex == nil || (k.ContainerID != "" && k.ContainerID != ex.containerID) {
			c.log.Warn("ignoring a QoS correction for an unknown executor", "executor", k.ExecutorID, "framework", k.FrameworkID, "container", k.ContainerID)
			continue
		}
		if ex.state != execRegistering && ex.state != execRunning {
			c.log.Warn("ignoring a QoS correction for an executor that is ending", "executor", ex.id, "framework", fw.id, "state", ex.state)
			continue
		}
		c.log.Info("evicting executor by QoS correction", "executor", ex.id, "framework", fw.id, "container", ex.containerID)
		st := mesos.TaskState_TASK_LOST
		if partitionAware(fw.info) {
			st = mesos.TaskState_TASK_GONE
		}
		ex.pendingTermination = &termination{
			state:   st,
			reason:  mesos.TaskStatus_REASON_CONTAINER_PREEMPTED,
			message: "Container preempted by QoS correction",
		}
		ex.state = execTerminating
		c.touchEx(ex)
		c.metrics.executorsPreempted++
		c.destroy(ex)
	}
}
