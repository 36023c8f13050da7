// Package registry owns the master's durable, replicated state (Mesos's
// registrar and replicated log) and the election of the leading master.
//
// The registry (api/registry.Registry) holds what must survive a master
// restart or failover: the admitted agents, the agents marked unreachable
// and gone, weights, and the state later issues add (quota, maintenance,
// draining). It changes only through Operations; Apply is the one pure
// function that applies them, used alike by the in-memory store and by the
// Raft state machine, so every replica computes the same registry.
//
// A Store keeps the registry: InMemory for tests and `--registry=in_memory`
// (a cluster of one that forgets everything when it stops), and Replicated
// for `--registry=replicated_log`: hashicorp/raft with its log and stable
// store in bbolt (raft-boltdb) and snapshots under --work_dir, replicated
// among the masters named by --masters, over the masters' own HTTP port.
// A Store also says who leads: only the leader commits, and a master leads
// while its store does.
//
// This package knows nothing of the master's core: the master's driver
// carries the core's Persist outputs to Store.Apply and answers only once
// they are committed.
package registry
