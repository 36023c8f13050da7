package resources

import (
	"slices"
)

// Resources is a collection of resources, normalized as described in the
// package comment. The zero value is empty and ready to use. Resources built
// by hand should go through New. Order is kept: new identities are appended.
type Resources []Resource

// New returns the normalized Resources holding rs. Empty resources and
// resources with a negative scalar or an unsupported type are dropped, as
// Mesos drops them.
func New(rs ...Resource) Resources {
	out := make(Resources, 0, len(rs))
	for i := range rs {
		out.addOne(&rs[i])
	}
	return out
}

// IsEmpty reports whether rs holds nothing.
func (rs Resources) IsEmpty() bool {
	for i := range rs {
		if !rs[i].IsEmpty() {
			return false
		}
	}
	return true
}

// Clone returns a copy of rs that shares nothing with it.
func (rs Resources) Clone() Resources {
	if rs == nil {
		return nil
	}
	out := make(Resources, len(rs))
	for i := range rs {
		out[i] = rs[i].Clone()
	}
	return out
}

// Add returns rs plus o.
func (rs Resources) Add(o Resources) Resources {
	out := make(Resources, len(rs), len(rs)+rs.newEntries(o))
	copy(out, rs)
	out.AddInPlace(o)
	return out
}

// newEntries returns an upper bound on the entries that adding o to rs
// appends, so that Add allocates once and no more than it needs.
func (rs Resources) newEntries(o Resources) int {
	n := 0
outer:
	for i := range o {
		y := &o[i]
		if y.IsEmpty() {
			continue
		}
		if y.mergeable() {
			for j := range rs {
				if sameIdentity(&rs[j], y) {
					continue outer
				}
			}
		}
		n++
	}
	return n
}

// AddResource returns rs plus r.
func (rs Resources) AddResource(r Resource) Resources {
	out := make(Resources, len(rs), len(rs)+1)
	copy(out, rs)
	out.addOne(&r)
	return out
}

// AddInPlace adds o to rs, modifying rs's backing array. It does not allocate
// when every resource of o merges into an existing scalar entry.
func (rs *Resources) AddInPlace(o Resources) {
	for i := range o {
		rs.addOne(&o[i])
	}
}

func (rs *Resources) addOne(r *Resource) {
	if r.IsEmpty() {
		return
	}
	if r.mergeable() {
		s := *rs
		for i := range s {
			x := &s[i]
			if !sameIdentity(x, r) {
				continue
			}
			switch x.Type {
			case TypeScalar:
				x.Scalar = addScalar(x.Scalar, r.Scalar)
			case TypeRanges:
				x.Ranges = x.Ranges.Union(normRanges(r.Ranges))
			case TypeSet:
				x.Set = x.Set.Union(normSet(r.Set))
			}
			return
		}
	}
	*rs = append(*rs, normalized(r))
}

func addScalar(a, b Scalar) Scalar {
	if s := a + b; s >= a {
		return s
	}
	return MaxScalar
}

func normRanges(r Ranges) Ranges {
	if r.IsNormalized() {
		return r
	}
	return NewRanges(r...)
}

func normSet(s Set) Set {
	if s.IsNormalized() {
		return s
	}
	return NewSet(s...)
}

// Subtract returns rs minus o. Nothing goes below zero: what o holds beyond
// rs is ignored, and entries that become empty are removed. An indivisible
// resource (see the package comment) is removed only by an equal one.
func (rs Resources) Subtract(o Resources) Resources {
	out := make(Resources, len(rs))
	copy(out, rs)
	out.SubtractInPlace(o)
	return out
}

// SubtractResource returns rs minus r.
func (rs Resources) SubtractResource(r Resource) Resources {
	out := make(Resources, len(rs))
	copy(out, rs)
	out.subtractOne(&r)
	return out
}

// SubtractInPlace subtracts o from rs, modifying rs's backing array. It does
// not allocate for scalars.
func (rs *Resources) SubtractInPlace(o Resources) {
	for i := range o {
		rs.subtractOne(&o[i])
	}
}

func (rs *Resources) subtractOne(r *Resource) {
	if r.IsEmpty() {
		return
	}
	s := *rs
	for i := range s {
		x := &s[i]
		if !sameIdentity(x, r) {
			continue
		}
		if !x.mergeable() {
			if !valueEqual(x, &Resource{Type: r.Type, Scalar: r.Scalar, Ranges: normRanges(r.Ranges), Set: normSet(r.Set)}) {
				continue
			}
			rs.removeAt(i)
			return
		}
		empty := false
		switch x.Type {
		case TypeScalar:
			x.Scalar -= r.Scalar
			empty = x.Scalar <= 0
		case TypeRanges:
			x.Ranges = x.Ranges.Difference(normRanges(r.Ranges))
			empty = len(x.Ranges) == 0
		case TypeSet:
			x.Set = x.Set.Difference(normSet(r.Set))
			empty = len(x.Set) == 0
		}
		if empty {
			rs.removeAt(i)
		}
		return
	}
}

func (rs *Resources) removeAt(i int) {
	s := *rs
	copy(s[i:], s[i+1:])
	s[len(s)-1] = Resource{}
	*rs = s[:len(s)-1]
}

// Contains reports whether o can be taken out of rs: every resource of o has
// a resource of the same identity in rs whose value contains it (an
// indivisible resource needs an equal one, each used once). It does not
// allocate unless o has indivisible resources and rs has more than 64
// entries.
func (rs Resources) Contains(o Resources) bool {
	var m usedMask
	for k := range o {
		y := &o[k]
		if y.IsEmpty() {
			continue
		}
		found := false
		for i := range rs {
			x := &rs[i]
			if !sameIdentity(x, y) {
				continue
			}
			if x.mergeable() {
				found = valueContains(x, y)
				break
			}
			if !m.used(i) && valueEqual(x, y) {
				m.set(i, len(rs))
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// ContainsResource reports whether r can be taken out of rs.
func (rs Resources) ContainsResource(r Resource) bool {
	return rs.Contains(Resources{normalized(&r)})
}

// Equal reports whether rs and o hold the same resources, in any order.
func (rs Resources) Equal(o Resources) bool {
	if len(rs) != len(o) {
		return rs.Contains(o) && o.Contains(rs)
	}
	var m usedMask
	for k := range o {
		y := &o[k]
		found := false
		for i := range rs {
			x := &rs[i]
			if m.used(i) || !sameIdentity(x, y) || !valueEqual(x, y) {
				continue
			}
			m.set(i, len(rs))
			found = true
			break
		}
		if !found {
			return false
		}
	}
	return true
}

// usedMask marks entries of a Resources already matched.
type usedMask struct {
	small uint64
	big   []bool
}

func (m *usedMask) used(i int) bool {
	if i < 64 {
		return m.small&(1<<uint(i)) != 0
	}
	return m.big != nil && m.big[i]
}

func (m *usedMask) set(i, n int) {
	if i < 64 {
		m.small |= 1 << uint(i)
		return
	}
	if m.big == nil {
		m.big = make([]bool, n)
	}
	m.big[i] = true
}

// Filter returns the resources for which keep returns true. keep must not
// modify its argument.
func (rs Resources) Filter(keep func(r *Resource) bool) Resources {
	var out Resources
	for i := range rs {
		if keep(&rs[i]) {
			if out == nil {
				out = make(Resources, 0, len(rs)-i)
			}
			out = append(out, rs[i])
		}
	}
	return out
}

// Get returns the resources named name.
func (rs Resources) Get(name string) Resources {
	return rs.Filter(func(r *Resource) bool { return r.Name == name })
}

// Scalars returns the scalar resources.
func (rs Resources) Scalars() Resources {
	return rs.Filter(func(r *Resource) bool { return r.Type == TypeScalar })
}

// Reserved returns the resources reserved for role (by the innermost
// reservation), or every reserved resource when role is "".
func (rs Resources) Reserved(role string) Resources {
	return rs.Filter(func(r *Resource) bool {
		return r.IsReserved() && (role == "" || r.ReservationRole() == role)
	})
}

// ReservedToRoleSubtree returns the resources reserved for role or one of its
// descendants.
func (rs Resources) ReservedToRoleSubtree(role string) Resources {
	return rs.Filter(func(r *Resource) bool {
		if !r.IsReserved() {
			return false
		}
		rr := r.ReservationRole()
		return rr == role || IsStrictSubroleOf(rr, role)
	})
}

// Unreserved returns the unreserved resources.
func (rs Resources) Unreserved() Resources {
	return rs.Filter((*Resource).IsUnreserved)
}

// AllocatableTo returns the resources that may be offered to role: the
// unreserved ones and those reserved to role or its ancestors.
func (rs Resources) AllocatableTo(role string) Resources {
	return rs.Filter(func(r *Resource) bool { return r.IsAllocatableTo(role) })
}

// Revocable returns the revocable resources.
func (rs Resources) Revocable() Resources {
	return rs.Filter(func(r *Resource) bool { return r.Revocable })
}

// NonRevocable returns the resources that are not revocable.
func (rs Resources) NonRevocable() Resources {
	return rs.Filter(func(r *Resource) bool { return !r.Revocable })
}

// Shared returns the shared resources.
func (rs Resources) Shared() Resources {
	return rs.Filter(func(r *Resource) bool { return r.Shared })
}

// NonShared returns the resources that are not shared.
func (rs Resources) NonShared() Resources {
	return rs.Filter(func(r *Resource) bool { return !r.Shared })
}

// PersistentVolumes returns the persistent volumes.
func (rs Resources) PersistentVolumes() Resources {
	return rs.Filter((*Resource).IsPersistentVolume)
}

// Reservations groups the reserved resources by reservation role.
func (rs Resources) Reservations() map[string]Resources {
	out := map[string]Resources{}
	for i := range rs {
		if rs[i].IsReserved() {
			role := rs[i].ReservationRole()
			out[role] = append(out[role], rs[i])
		}
	}
	return out
}

// Allocations groups the resources by allocation role; unallocated resources
// are under "".
func (rs Resources) Allocations() map[string]Resources {
	out := map[string]Resources{}
	for i := range rs {
		role := rs[i].AllocationRole
		out[role] = append(out[role], rs[i])
	}
	return out
}

// remap returns rs with f applied to a copy of each resource, merging the
// results again when f can make two identities equal.
func (rs Resources) remap(f func(r *Resource)) Resources {
	out := make(Resources, 0, len(rs))
	for i := range rs {
		c := rs[i]
		f(&c)
		out.addOne(&c)
	}
	return out
}

// ToUnreserved returns rs with every reservation removed.
func (rs Resources) ToUnreserved() Resources {
	return rs.remap(func(r *Resource) { r.Reservations = nil })
}

// Flatten returns rs with every reservation replaced: by none when role is
// "*" or "", else by a single STATIC reservation for role. Allocation and the
// other properties are kept.
func (rs Resources) Flatten(role string) Resources {
	if role == "*" || role == "" {
		return rs.ToUnreserved()
	}
	stack := []Reservation{{Type: ReservationStatic, Role: role}}
	return rs.remap(func(r *Resource) { r.Reservations = stack })
}

// PushReservation returns rs with rv pushed on every resource's reservation
// stack. The caller is responsible for rv being a valid refinement.
func (rs Resources) PushReservation(rv Reservation) Resources {
	return rs.remap(func(r *Resource) {
		s := make([]Reservation, len(r.Reservations)+1)
		copy(s, r.Reservations)
		s[len(s)-1] = rv
		r.Reservations = s
	})
}

// PopReservation returns rs with the innermost reservation of every reserved
// resource removed.
func (rs Resources) PopReservation() Resources {
	return rs.remap(func(r *Resource) {
		if n := len(r.Reservations); n > 0 {
			r.Reservations = r.Reservations[: n-1 : n-1]
		}
	})
}

// AllocatedTo returns rs with every resource's allocation role set to role.
func (rs Resources) AllocatedTo(role string) Resources {
	// Entries can only collide if they differ in allocation role now.
	merge := false
	for i := range rs {
		if rs[i].AllocationRole != rs[0].AllocationRole {
			merge = true
			break
		}
	}
	if merge {
		return rs.remap(func(r *Resource) { r.AllocationRole = role })
	}
	out := make(Resources, len(rs))
	copy(out, rs)
	for i := range out {
		out[i].AllocationRole = role
	}
	return out
}

// Unallocated returns rs with every allocation role cleared.
func (rs Resources) Unallocated() Resources { return rs.AllocatedTo("") }

// ScalarQuantity returns the sum of the scalar resources named name, whatever
// their reservations and other properties.
func (rs Resources) ScalarQuantity(name string) Scalar {
	var s Scalar
	for i := range rs {
		if rs[i].Type == TypeScalar && rs[i].Name == name {
			s = addScalar(s, rs[i].Scalar)
		}
	}
	return s
}

// CPUs, Mem, Disk and GPUs return the scalar quantities of the well-known
// resources (mem and disk in MB).
func (rs Resources) CPUs() Scalar { return rs.ScalarQuantity("cpus") }

// Mem returns the "mem" quantity in MB.
func (rs Resources) Mem() Scalar { return rs.ScalarQuantity("mem") }

// Disk returns the "disk" quantity in MB.
func (rs Resources) Disk() Scalar { return rs.ScalarQuantity("disk") }

// GPUs returns the "gpus" quantity.
func (rs Resources) GPUs() Scalar { return rs.ScalarQuantity("gpus") }

// ToScalarQuantities sums the scalar resources by name, ignoring every other
// property (Mesos's ResourceQuantities, used by DRF and quota).
func (rs Resources) ToScalarQuantities() map[string]Scalar {
	out := make(map[string]Scalar, len(rs))
	for i := range rs {
		if rs[i].Type == TypeScalar && rs[i].Scalar > 0 {
			out[rs[i].Name] = addScalar(out[rs[i].Name], rs[i].Scalar)
		}
	}
	return out
}

// Names returns the sorted distinct resource names.
func (rs Resources) Names() []string {
	out := make([]string, 0, len(rs))
	for i := range rs {
		out = append(out, rs[i].Name)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// RangesOf returns the union of the ranges resources named name.
func (rs Resources) RangesOf(name string) Ranges {
	var out Ranges
	for i := range rs {
		if rs[i].Type == TypeRanges && rs[i].Name == name {
			out = out.Union(rs[i].Ranges)
		}
	}
	return out
}

// SetOf returns the union of the set resources named name.
func (rs Resources) SetOf(name string) Set {
	var out Set
	for i := range rs {
		if rs[i].Type == TypeSet && rs[i].Name == name {
			out = out.Union(rs[i].Set)
		}
	}
	return out
}

// Ports returns the union of all "ports" ranges.
func (rs Resources) Ports() Ranges { return rs.RangesOf("ports") }

// PortsResource returns an unreserved "ports" resource holding rs.
func PortsResource(rs ...Range) Resource { return RangesResource("ports", rs...) }

// String returns the Mesos text form, resources separated by ';', e.g.
// "cpus:2;mem:1024;ports:[31000-32000]". For resources that only have the
// properties --resources can express, Parse(rs.String()) equals rs.
func (rs Resources) String() string {
	var b []byte
	for i := range rs {
		if i > 0 {
			b = append(b, ';')
		}
		b = rs[i].appendText(b)
	}
	return string(b)
}
