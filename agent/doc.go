// Package agent is the Gomesos agent (mesos-agent): it registers with the
// master over the internal agent protocol (api/agentproto), runs the tasks
// the master sends inside executors it launches through the containerizer,
// serves the v1 executor API (POST /api/v1/executor), delivers status
// updates to the master reliably (the status update manager), and serves the
// agent's operator endpoints (/state, /flags, /health, /version,
// /metrics/snapshot, /files/*).
//
// # Structure
//
// All decisions live in one state machine, package agent/core, which does
// no I/O and reads no clock: it is stepped with an input (a master message,
// an executor call, a container exit, a timer tick) and the current time,
// and returns outputs (a message for the master, a container to launch or
// destroy, an event for an executor, an answer to a caller). This package is
// its driver. One goroutine (Agent.Run's loop) owns the core, reads the
// clock, arms the timer for the core's next deadline, and carries outputs
// out and inputs in through the edges:
//
//   - masterlink.go: the HTTP client of the master's /internal/agent/* API;
//   - executorapi.go: the executor API handler and its event streams (the
//     core's call verdicts become HTTP statuses here);
//   - the containerizer package: sandboxes and processes (agent.go converts
//     the core's launch specs and terminations to and from its types);
//   - http.go and files.go: the read-only endpoints, answered from
//     snapshots the core builds on request;
//   - config.go, detect*.go and build.go: flags, the machine's resources
//     and the binary's build information, worked out once before the core
//     starts.
//
// A simulator can drive agent/core directly with a fake clock and fake edges.
//
// The package makes no decision of the agent's own (those belong in
// agent/core, where they can be tested without sockets, processes or a
// clock). It must not know how the master decides anything, and it must not
// talk to frameworks directly: everything for a framework goes through the
// master.
package agent
