package core

import (
	"strings"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// Operation gauges, as Mesos 1.11's master keeps them (src/master/metrics.cpp,
// OperationStates): master/operations/<state> and master/operations/total
// over every operation, and master/operations/<type>/<state> and
// master/operations/<type>/total for the types that change resources
// (reserve, unreserve, create, destroy, grow_volume, shrink_volume,
// create_disk, destroy_disk). They are push gauges: an operation the master
// tracks counts under its latest state, moves when its state changes and
// stops counting when the master forgets it (acknowledged, its agent
// removed, its framework gone). An operation the master refuses is counted
// under error and total and stays counted, as Mesos's Master::drop does;
// total is the sum of the states. Operations without feedback are
// forgotten as soon as they end, so they leave the gauges then.

// operationMetricTypes are the operation types with gauges of their own.
var operationMetricTypes = []mesos.Offer_Operation_Type{
	mesos.Offer_Operation_RESERVE, mesos.Offer_Operation_UNRESERVE,
	mesos.Offer_Operation_CREATE, mesos.Offer_Operation_DESTROY,
	mesos.Offer_Operation_GROW_VOLUME, mesos.Offer_Operation_SHRINK_VOLUME,
	mesos.Offer_Operation_CREATE_DISK, mesos.Offer_Operation_DESTROY_DISK,
}

// operationMetricStates are the states with gauges, by their metric name.
var operationMetricStates = map[mesos.OperationState]string{
	mesos.OperationState_OPERATION_PENDING:          "pending",
	mesos.OperationState_OPERATION_RECOVERING:       "recovering",
	mesos.OperationState_OPERATION_UNREACHABLE:      "unreachable",
	mesos.OperationState_OPERATION_FINISHED:         "finished",
	mesos.OperationState_OPERATION_FAILED:           "failed",
	mesos.OperationState_OPERATION_ERROR:            "error",
	mesos.OperationState_OPERATION_DROPPED:          "dropped",
	mesos.OperationState_OPERATION_GONE_BY_OPERATOR: "gone_by_operator",
}

func operationTypeName(t mesos.Offer_Operation_Type) string {
	return strings.ToLower(t.String())
}

func init() {
	// Reported as 0 before they first count, as Mesos registers them.
	states := make([]string, 0, len(operationMetricStates)+1)
	states = append(states, "total")
	for _, s := range operationMetricStates {
		states = append(states, s)
	}
	for _, s := range states {
		counterNames = append(counterNames, "master/operations/"+s)
		for _, t := range operationMetricTypes {
			counterNames = append(counterNames, "master/operations/"+operationTypeName(t)+"/"+s)
		}
	}
}

// add changes the value of name by delta (a push gauge).
func (m *metrics) add(name string, delta float64) {
	i, ok := m.index[name]
	if !ok {
		if m.index == nil {
			m.index = map[string]int{}
		}
		i = len(m.names)
		m.index[name] = i
		m.names = append(m.names, name)
		m.values = append(m.values, 0)
	}
	m.values[i] += delta
	m.changed = true
}

// operationState counts an operation of type t in state by delta (+1 when
// it enters the state, -1 when it leaves it or is forgotten).
func (m *metrics) operationState(t mesos.Offer_Operation_Type, state mesos.OperationState, delta float64) {
	name, ok := operationMetricStates[state]
	if !ok {
		return
	}
	m.add("master/operations/total", delta)
	m.add("master/operations/"+name, delta)
	for _, typ := range operationMetricTypes {
		if typ == t {
			prefix := "master/operations/" + operationTypeName(t) + "/"
			m.add(prefix+"total", delta)
			m.add(prefix+name, delta)
			return
		}
	}
}

// forgetOperation stops tracking the operation under key.
func (c *Core) forgetOperation(key string, o *operation) {
	delete(c.operations, key)
	c.metrics.operationState(o.info.GetType(), o.latest().GetState(), -1)
}
