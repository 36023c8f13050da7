package core

import (
	"maps"
	"math/bits"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/resources"
)

// The gauges of /metrics/snapshot sum over every agent, task and offer.
// Walking the published trees for them cost a read some 6 ms at 10,000
// agents with 10 tasks each, and tens of milliseconds right after a
// failover, when the records are new and spread over the grown heap (and
// a monitor reads the metrics every few seconds). The publication keeps
// the sums instead, changing them by what each record it puts in or
// takes out of a tree counts (ptree's Swap says which record a new one
// replaced); a snapshot built from scratch (FullSnapshot) sums the trees,
// and the two are compared in the tests.

// taskCounts counts a framework's live tasks, those in its tasks tree, by
// state.
type taskCounts [16]int32

func (n *taskCounts) add(s mesos.TaskState, d int32) {
	if s >= 0 && int(s) < len(n) {
		n[s] += d
	}
}

func (n *taskCounts) get(s mesos.TaskState) float64 {
	if s >= 0 && int(s) < len(n) {
		return float64(n[s])
	}
	return 0
}

// scalarTotals sums scalar resources by name, the amounts above zero as
// ToScalarQuantities takes them; a name whose sum is back at zero goes.
// Replaced, not changed, once published.
type scalarTotals map[string]wideSum

// add adds (d = 1) or takes out (d = -1) rs's scalars, of those whose
// revocability is revocable (or of all, with all).
func (t *scalarTotals) add(rs resources.Resources, d int, all, revocable bool) {
	for i := range rs {
		r := &rs[i]
		if r.Type != resources.TypeScalar || r.Scalar <= 0 || (!all && r.Revocable != revocable) {
			continue
		}
		if *t == nil {
			*t = scalarTotals{}
		}
		v := (*t)[r.Name]
		v.add(int64(r.Scalar), d)
		if v != (wideSum{}) {
			(*t)[r.Name] = v
		} else {
			delete(*t, r.Name)
		}
	}
}

// float is the sum of name as a float.
func (t scalarTotals) float(name string) float64 { return t[name].float() }

// wideSum sums Scalars (thousandths) in 128 bits: exactly, so that taking
// out what was added leaves what was there, whatever the amounts (an
// agent may say it has resources.MaxScalar of something).
type wideSum struct {
	hi int64
	lo uint64
}

// add adds v (d = 1) or takes it out (d = -1); v is not negative.
func (w *wideSum) add(v int64, d int) {
	var borrow uint64
	if d >= 0 {
		w.lo, borrow = bits.Add64(w.lo, uint64(v), 0)
		w.hi += int64(borrow)
		return
	}
	w.lo, borrow = bits.Sub64(w.lo, uint64(v), 0)
	w.hi -= int64(borrow)
}

// plus is w + o.
func (w wideSum) plus(o wideSum) wideSum {
	lo, carry := bits.Add64(w.lo, o.lo, 0)
	return wideSum{hi: w.hi + o.hi + int64(carry), lo: lo}
}

// float is the sum in units, as Scalar.Float64 gives them.
func (w wideSum) float() float64 {
	return (float64(w.hi)*(1<<64) + float64(w.lo)) / 1000
}

// agentSums is what the gauges of the published agents sum: how many are
// active or not, connected or not, and their total and used scalar
// resources, apart from the revocable ones. Replaced, not changed, once
// published.
type agentSums struct {
	active, inactive, connected, disconnected int
	total, used                               [2]scalarTotals // [0] not revocable, [1] revocable
}

func (s *agentSums) clone() *agentSums {
	if s == nil {
		return &agentSums{}
	}
	c := *s
	for k := range c.total {
		c.total[k], c.used[k] = maps.Clone(c.total[k]), maps.Clone(c.used[k])
	}
	return &c
}

// add counts a (d = 1) or takes it out (d = -1).
func (s *agentSums) add(a *agentRec, d int) {
	if a.active {
		s.active += d
	} else {
		s.inactive += d
	}
	if a.connected {
		s.connected += d
	} else {
		s.disconnected += d
	}
	for k, revocable := range []bool{false, true} {
		s.total[k].add(a.total, d, false, revocable)
		s.used[k].add(a.used, d, false, revocable)
	}
}

// same reports whether s and o sum alike (nil sums nothing).
func (s *agentSums) same(o *agentSums) bool {
	if s == nil {
		s = &agentSums{}
	}
	if o == nil {
		o = &agentSums{}
	}
	if s.active != o.active || s.inactive != o.inactive || s.connected != o.connected || s.disconnected != o.disconnected {
		return false
	}
	for k := range s.total {
		if !maps.Equal(s.total[k], o.total[k]) || !maps.Equal(s.used[k], o.used[k]) {
			return false
		}
	}
	return true
}
