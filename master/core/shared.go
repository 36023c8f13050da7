package core

import (
	"fmt"

	"github.com/gomesos/gomesos/resources"
)

// Shared persistent volumes (SHARED_RESOURCES, Mesos's
// docs/shared-resources.md). Only a framework with the capability may
// CREATE one (validateCreate) and is offered one (the allocator); a shared
// volume stays on offer while tasks use it, so several tasks, of one
// framework or of several, use it at once. Each task holds a copy: tasks
// of one ACCEPT may use a shared volume of the accepted offers (or one a
// CREATE of the same ACCEPT made) any number of times, the allocator
// charging a further copy for each use beyond the offered one. A DESTROY
// is refused while a task uses the volume ("Persistent volumes in use");
// otherwise the other outstanding offers of its agent that carry it are
// rescinded first, as Mesos's master does, so that the volume is gone
// from every offer.

// sharedSeen adds to seen the shared resources of available it lacks: the
// shared resources an ACCEPT's tasks may use copies of.
func sharedSeen(seen, available resources.Resources) resources.Resources {
	for _, r := range available.Shared() {
		if !seen.ContainsResource(r) {
			seen = seen.AddResource(r)
		}
	}
	return seen
}

// takeShared checks that what is left of an ACCEPT's offers (available)
// holds needed, a task's or a group's resources, where each use of a
// shared resource that available no longer holds is a further copy of one
// in seen. It returns available with the further copies, charged to the
// framework, so that needed can be subtracted from it.
func (c *Core) takeShared(fw *framework, a *agent, seen, available, needed resources.Resources) (resources.Resources, error) {
	// The error is made only when it is returned: formatting both sets
	// for every launch that fits was most of the cost of a launch's check.
	tooMuch := func() error {
		return fmt.Errorf("Task uses more resources %s than available %s", needed.String(), available.String())
	}
	if len(needed.Shared()) == 0 {
		if !available.Contains(needed) {
			return available, tooMuch()
		}
		return available, nil
	}
	if !available.NonShared().Contains(needed.NonShared()) {
		return available, tooMuch()
	}
	have := available.Shared()
	var extra resources.Resources
	for _, r := range needed.Shared() {
		if have.ContainsResource(r) {
			have = have.SubtractResource(r)
			continue
		}
		if !seen.ContainsResource(r) {
			return available, tooMuch()
		}
		extra = extra.AddResource(r)
	}
	if len(extra) > 0 {
		if !c.alloc.AllocateSharedCopies(fw.id, a.id, extra) {
			return available, fmt.Errorf("Shared resources %s are no longer on agent %s", extra.String(), a.id)
		}
		available = available.Add(extra)
	}
	return available, nil
}

// rescindSharedOffers rescinds the outstanding offers of a that carry a
// shared resource of vols (a DESTROY about to take them).
func (c *Core) rescindSharedOffers(a *agent, vols resources.Resources) {
	shared := vols.Shared().Unallocated()
	if len(shared) == 0 {
		return
	}
	for _, id := range sortedKeys(a.offers) {
		o := a.offers[id]
		offered := o.res.Unallocated()
		for _, r := range shared {
			if offered.ContainsResource(r) {
				c.rescindOffer(o, true)
				break
			}
		}
	}
}
