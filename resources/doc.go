// Package resources owns Mesos Resource arithmetic: fixed-point scalars,
// port-style ranges, sets, reservations (static, dynamic and refined stacks),
// allocation roles, revocable, shared and disk resources, and the agent's
// --resources and --attributes text and JSON formats. It converts between these
// Go values and the mesos.v1 protobuf messages, and renders the legacy JSON
// objects of the Mesos state endpoints.
//
// It must not know about HTTP, masters, agents or allocators: callers feed it
// values and get values back. Everything here is pure and deterministic, and
// the arithmetic is written for the allocator's hot loops.
//
// # Values and sharing
//
// A [Resources] value produced by this package is normalized: it holds no
// empty resource, resources with the same identity (name, type, reservation
// stack, allocation role, revocable, shared, disk and provider) are merged into
// one entry, ranges are sorted and coalesced and sets are sorted and unique.
// Persistent volumes, exclusive (MOUNT, BLOCK and identified RAW) disks and
// shared resources are never merged: each entry is an indivisible unit, as in
// Mesos. A shared resource held n times appears n times.
//
// The Ranges, Set and Reservations slices inside a [Resource], and its
// [DiskInfo], are treated as immutable and may be shared between values;
// operations build new ones instead of writing into them. Methods that return a
// Resources always return a fresh outer slice, so the result may be modified
// in place without touching the inputs. The *InPlace methods are the
// exception: they modify the receiver's backing array.
package resources
