package allocator

import (
	"cmp"
	"slices"

	"github.com/gomesos/gomesos/resources"
)

// qty is a vector of scalar quantities indexed by the allocator's name ids
// (see HierarchicalDRF.nameID): the sums DRF shares, minimum allocatable
// checks and metrics are computed from. Missing trailing entries are zero.
type qty []resources.Scalar

func (q *qty) addAt(i int, v resources.Scalar) {
	if i >= len(*q) {
		*q = append(*q, make(qty, i+1-len(*q))...)
	}
	(*q)[i] += v
}

func (q qty) at(i int) resources.Scalar {
	if i < len(q) {
		return q[i]
	}
	return 0
}

func (q *qty) add(o qty) {
	for i, v := range o {
		if v != 0 {
			q.addAt(i, v)
		}
	}
}

func (q *qty) sub(o qty) {
	for i, v := range o {
		if v != 0 {
			q.addAt(i, -v)
		}
	}
}

func (q qty) isZero() bool {
	for _, v := range q {
		if v != 0 {
			return false
		}
	}
	return true
}

// covers reports whether q holds at least min of every name.
func (q qty) covers(min qty) bool {
	for i, v := range min {
		if v > 0 && q.at(i) < v {
			return false
		}
	}
	return true
}

// nameID numbers a scalar resource name.
func (a *HierarchicalDRF) nameID(name string) int {
	if i, ok := a.nameIDs[name]; ok {
		return i
	}
	i := len(a.nameList)
	a.nameIDs[name] = i
	a.nameList = append(a.nameList, name)
	a.excludedID = append(a.excludedID, a.excluded[name])
	return i
}

// toQty sums the scalar resources of rs by name.
func (a *HierarchicalDRF) toQty(rs resources.Resources) qty {
	var q qty
	for i := range rs {
		r := &rs[i]
		if r.Type == resources.TypeScalar && r.Scalar > 0 {
			q.addAt(a.nameID(r.Name), r.Scalar)
		}
	}
	return q
}

// toMap turns q back into a map from name to quantity, without zeros.
func (a *HierarchicalDRF) toMap(q qty) map[string]resources.Scalar {
	out := make(map[string]resources.Scalar, len(q))
	for i, v := range q {
		if v != 0 {
			out[a.nameList[i]] = v
		}
	}
	return out
}

// dominantShare is the largest fraction of the cluster total that alloc
// holds of any scalar resource not excluded from fair sharing.
func (a *HierarchicalDRF) dominantShare(alloc qty) float64 {
	var share float64
	for i, v := range alloc {
		if v <= 0 || a.excludedID[i] {
			continue
		}
		if t := a.totalQ.at(i); t > 0 {
			if s := float64(v) / float64(t); s > share {
				share = s
			}
		}
	}
	return share
}

func sortedKeys[M ~map[K]V, K cmp.Ordered, V any](m M) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
