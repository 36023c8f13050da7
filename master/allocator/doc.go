// Package allocator owns who gets offered what: Mesos's hierarchical DRF
// allocator (src/master/allocator/mesos/hierarchical.cpp). Roles form a tree
// ("a/b/c"); at each level the role with the lowest weighted dominant share
// goes first, and inside a role the framework with the lowest dominant share
// goes first. Declined resources are kept from a framework by refuse filters,
// suppressed roles get nothing until revived, frameworks without
// GPU_RESOURCES get nothing from GPU agents, and an offer is made only when
// it reaches the minimum allocatable size. Resources reserved to a role are
// offered only to that role and its sub-roles. Shared resources (shared
// persistent volumes) go only to frameworks with SHARED_RESOURCES and stay
// on offer while held, once per agent in a cycle (see shared.go).
//
// The allocator is pure: it knows agents, frameworks, roles and resources,
// and returns allocations. It must not send offers, touch HTTP, protobuf or
// the registry, start goroutines, read a clock (calls that need the time are
// given it) or draw random numbers other than from the seed in [Options].
// The master's single goroutine drives it, so it has no locks and is not safe
// for concurrent use. The master turns each [Allocation] into an offer and
// gives resources back with [Allocator.RecoverResources] when an offer is
// declined or rescinded, or a task ends.
//
// Roles have weights ([Allocator.UpdateWeights]) and quotas
// ([Allocator.UpdateQuota]): guarantees met before fair sharing, headroom
// held back for them, and limits no role subtree exceeds, as Mesos 1.11
// has them (see quota.go). Reservation and volume operations convert
// resources in place (reserve.go).
//
// # Cost of a cycle
//
// A cycle examines each active agent with available resources, and for
// each the offerable frameworks of each role in DRF order until one takes
// the agent. Two things keep this cheap at 10,000 agents and hundreds of
// frameworks. Each agent keeps its refuse filters as plain values in one
// array, found by framework through small numbers and bitsets, with the
// refused resources shared between filters and whether they cover what the
// agent has remembered until that changes; the collector has nothing to
// mark in them, which matters when 10 million filters are live (see
// filters.go). And an agent on which no framework took anything is marked
// blocked: later cycles skip it until its resources change, one of its
// filters goes, or a framework becomes newly able to take resources (then
// only that framework is asked). While any quota is set, what an agent may
// give depends on what roles consume elsewhere, so a cycle examines every
// active agent and blocks none; a quota change unblocks them all. Without
// quota the cycle is exactly the one above.
package allocator
