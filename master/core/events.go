package core

import (
	masterpb "github.com/gomesos/gomesos/api/v1/master"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/resources"
	"google.golang.org/protobuf/proto"
)

// The operator API's event stream (SUBSCRIBE on /api/v1): the Core says
// what happened as OperatorEvent outputs, in the order it applied it,
// while the driver has subscribers (WatchOperatorEvents). The driver sends
// each to every subscriber; their SUBSCRIBED event is a snapshot taken
// between two steps, so the events that follow it are exactly those after.

// OperatorEvent is an event for the operator API's subscribers.
type OperatorEvent struct{ Event *masterpb.Event }

func (OperatorEvent) isOutput() {}

// WatchOperatorEvents turns the operator events on (while the driver has
// subscribers) or off.
func (c *Core) WatchOperatorEvents(on bool) { c.operatorEvents = on }

// HeartbeatInterval is the interval of the event streams' heartbeats.
func (c *Core) HeartbeatInterval() float64 { return c.opts.HeartbeatInterval.Seconds() }

func (c *Core) operatorEvent(ev *masterpb.Event) { c.emit(OperatorEvent{Event: ev}) }

// opTaskAdded reports a task the master learnt of: launched, or adopted
// from a re-registering agent.
func (c *Core) opTaskAdded(t *task) {
	if !c.operatorEvents {
		return
	}
	c.operatorEvent(&masterpb.Event{Type: masterpb.Event_TASK_ADDED.Enum(),
		TaskAdded: &masterpb.Event_TaskAdded{Task: c.newTaskRec(t).proto()}})
}

// opTaskUpdated reports a task's new status (and its latest state, which
// can be ahead of it).
func (c *Core) opTaskUpdated(t *task, status *mesos.TaskStatus) {
	if !c.operatorEvents {
		return
	}
	c.operatorEvent(&masterpb.Event{Type: masterpb.Event_TASK_UPDATED.Enum(),
		TaskUpdated: &masterpb.Event_TaskUpdated{
			FrameworkId: frameworkIDProto(t.frameworkID),
			Status:      status,
			State:       t.state.Enum(),
		}})
}

// opAgentAdded reports an agent admitted (registered, or back after a
// failover or from unreachable).
func (c *Core) opAgentAdded(a *agent) {
	if !c.operatorEvents {
		return
	}
	c.operatorEvent(&masterpb.Event{Type: masterpb.Event_AGENT_ADDED.Enum(),
		AgentAdded: &masterpb.Event_AgentAdded{Agent: newAgentRec(a).operatorAgent()}})
}

// opAgentRemoved reports an agent the master no longer counts.
func (c *Core) opAgentRemoved(id string) {
	if !c.operatorEvents {
		return
	}
	c.operatorEvent(&masterpb.Event{Type: masterpb.Event_AGENT_REMOVED.Enum(),
		AgentRemoved: &masterpb.Event_AgentRemoved{AgentId: agentIDProto(id)}})
}

// opFramework reports a framework added, or changed (resubscribed,
// disconnected).
func (c *Core) opFramework(fw *framework, added bool) {
	if !c.operatorEvents {
		return
	}
	f := c.operatorFramework(fw)
	if added {
		c.operatorEvent(&masterpb.Event{Type: masterpb.Event_FRAMEWORK_ADDED.Enum(),
			FrameworkAdded: &masterpb.Event_FrameworkAdded{Framework: f}})
		return
	}
	c.operatorEvent(&masterpb.Event{Type: masterpb.Event_FRAMEWORK_UPDATED.Enum(),
		FrameworkUpdated: &masterpb.Event_FrameworkUpdated{Framework: f}})
}

// opFrameworkRemoved reports a framework torn down.
func (c *Core) opFrameworkRemoved(fw *framework) {
	if !c.operatorEvents {
		return
	}
	c.operatorEvent(&masterpb.Event{Type: masterpb.Event_FRAMEWORK_REMOVED.Enum(),
		FrameworkRemoved: &masterpb.Event_FrameworkRemoved{FrameworkInfo: fw.info}})
}

// operatorFramework is a live framework as the events show it.
func (c *Core) operatorFramework(fw *framework) *masterpb.Response_GetFrameworks_Framework {
	var used, offered resources.Resources
	for _, t := range fw.tasks {
		if !t.resourcesRecovered {
			used.AddInPlace(t.res)
		}
	}
	for _, exs := range fw.executors {
		for _, ex := range exs {
			if res, err := resources.FromProto(ex.GetResources()); err == nil {
				used.AddInPlace(res)
			}
		}
	}
	var offers []*mesos.Offer
	for _, id := range sortedKeys(fw.offers) {
		o := fw.offers[id]
		offered.AddInPlace(o.res)
		var hostname string
		if a := c.agents[o.agentID]; a != nil {
			hostname = a.info.GetHostname()
		}
		offers = append(offers, offerProto(o.id, fw.id, o.agentID, o.role, hostname, o.res))
	}
	return &masterpb.Response_GetFrameworks_Framework{
		FrameworkInfo:      fw.info,
		Active:             proto.Bool(fw.active),
		Connected:          proto.Bool(fw.stream != ""),
		Recovered:          proto.Bool(fw.recovered),
		RegisteredTime:     timeProto(fw.registeredTime),
		ReregisteredTime:   timeProto(fw.reregisteredTime),
		UnregisteredTime:   timeProto(fw.unregisteredTime),
		Offers:             offers,
		AllocatedResources: resources.ToProto(used),
		OfferedResources:   resources.ToProto(offered),
	}
}
