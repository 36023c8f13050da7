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
// All decisions live in one state machine, core, which does no I/O and reads
// no clock: it is stepped with an input (a master message, an executor call,
// a container exit, a timer tick) and the current time, and returns outputs
// (a message for the master, a container to launch or destroy, an event for
// an executor, an answer to a caller). One goroutine (Agent.Run's loop) owns
// it. The edges carry the outputs out and feed inputs in:
//
//   - masterlink.go: the HTTP client of the master's /internal/agent/* API;
//   - executorapi.go: the executor API handler and its event streams;
//   - the containerizer package: sandboxes and processes;
//   - http.go and files.go: the read-only endpoints, answered from
//     snapshots the core builds on request.
//
// A simulator can drive core directly with a fake clock and fake edges.
//
// The package must not know how the master decides anything, and it must not
// talk to frameworks directly: everything for a framework goes through the
// master.
package agent
