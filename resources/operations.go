package resources

import "fmt"

// The helpers the master and the agent share to apply the operations that
// reshape resources (RESERVE, UNRESERVE, CREATE, DESTROY, GROW_VOLUME,
// SHRINK_VOLUME) and to rebuild an agent's total from its checkpoint.

// StripPersistence returns rs with every persistent volume made plain
// disk again: the persistence id, principal and volume go, the disk's
// source (a PATH or MOUNT disk) stays, and sharing goes with the volume.
func (rs Resources) StripPersistence() Resources {
	return rs.remap(func(r *Resource) {
		if !r.Disk.IsPersistentVolume() {
			return
		}
		r.Shared = false
		if r.Disk.Source == nil {
			r.Disk = nil
			return
		}
		r.Disk = &DiskInfo{Source: r.Disk.Source}
	})
}

// StripDynamic returns rs without what operations added: dynamic
// reservations popped and persistent volumes made plain disk, which is
// what the agent's --resources held before the operations.
func (rs Resources) StripDynamic() Resources {
	return rs.StripPersistence().remap(func(r *Resource) {
		n := len(r.Reservations)
		for n > 0 && r.Reservations[n-1].Type == ReservationDynamic {
			n--
		}
		if n == 0 {
			r.Reservations = nil
		} else {
			r.Reservations = r.Reservations[:n:n]
		}
	})
}

// IsCheckpointed reports whether r carries what only an operation makes
// (a dynamic reservation or a persistent volume): what an agent
// checkpoints.
func (r *Resource) IsCheckpointed() bool {
	return r.IsDynamicallyReserved() || r.IsPersistentVolume()
}

// Checkpointed returns the resources of rs that an agent checkpoints
// (IsCheckpointed).
func (rs Resources) Checkpointed() Resources {
	return rs.Filter(func(r *Resource) bool { return r.IsCheckpointed() })
}

// ApplyCheckpointed applies an agent's checkpointed resources (its dynamic
// reservations and persistent volumes) to total, the resources of its
// --resources: each takes the place of the plain resources it was made
// from. It fails, naming the resource, when total lacks what one was made
// from (the agent's --resources shrank).
func ApplyCheckpointed(total, checkpointed Resources) (Resources, error) {
	out := total
	for _, r := range checkpointed {
		base := New(r).StripDynamic()
		if !out.Contains(base) {
			return nil, fmt.Errorf("checkpointed resource %s is not in the agent's resources %s", r.String(), out.String())
		}
		out = out.Subtract(base).AddResource(r)
	}
	return out, nil
}
