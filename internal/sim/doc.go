// Package sim is a deterministic simulation of a Gomesos cluster in one
// process: the real master Core (package master/core), the real
// hierarchical DRF allocator (package master/allocator) and, on every
// simulated agent, the real agent state machine (package agent/core, the
// one the gomesos binary runs), driven by simulated frameworks, networks,
// containers and executors on a virtual clock, with faults injected from a
// seed. The same seed replays the same run exactly, event for event.
//
// Run builds a world from a Config and processes an event queue (a min-heap
// on virtual time, then sequence number) until every framework's workload is
// done and the agents have settled, or a time limit passes. Every message
// between the master and an agent or a framework is an event delivered after
// a simulated latency on a first-in, first-out link. Around each agent core
// the simulator plays what the agent's driver (package agent) does with
// sockets and processes (agent.go): the master link, the containerizer and
// the executors, which speak the executor API as the built-in command
// executor does. Faults (lost and delayed agent messages, agent machine
// crashes, agent process crashes after which the agent recovers from its
// checkpoint while its containers ran on, broken agent connections, network
// partitions, broken framework streams, broken executor streams, dying
// executors, failovers of the leading master and failed registry
// commits, after which another master recovers from the registry:
// failover.go) are drawn from one seeded math/rand/v2 source, and so
// are the operator's quota changes (Config.QuotaUpdates, quota.go). Each simulated
// agent keeps a durable store to which it applies the core's Checkpoint
// outputs, and hands it back to a restarted core (recover.go). After every step the simulator checks
// invariants (see check.go) and stops at the first one that fails with a
// *Failure naming the seed, the step and the last events of the trace, so
// that the failure can be replayed with the same Config.
//
// The package owns only the simulated world. It must not start goroutines,
// read the wall clock (beyond what the master Core reads for its own
// allocation-time metrics, which the simulator ignores) or use global
// randomness, and it must not reach into the master's, the agent's or the
// allocator's internals: it drives them through their exported inputs,
// outputs, metrics, state views and snapshots and the allocator's
// CheckInvariants, exactly as a driver does. It has no agent logic of its
// own: what an agent decides, its core decides.
package sim
