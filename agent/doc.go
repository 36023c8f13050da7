// Package agent is the Gomesos agent (mesos-agent): it registers with the
// master over the internal agent protocol (api/agentproto), runs the tasks
// the master sends inside executors it launches through the containerizer,
// serves the v1 executor API (POST /api/v1/executor), delivers status
// updates to the master reliably (the status update manager), and serves the
// agent's v1 operator API (POST /api/v1), its legacy endpoints (/state,
// /flags, /health, /version, /metrics/snapshot, /monitor/statistics,
// /files/*) and GET /metrics for Prometheus (prometheus.go).
//
// # Structure
//
// All decisions live in one state machine, package agent/core, which does
// no I/O and reads no clock: it is stepped with an input (a master message,
// an executor call, a container exit, a timer tick) and the current time,
// and returns outputs (a message for the master, a container to launch or
// destroy, an event for an executor, an answer to a caller). This package is
// its driver. One goroutine (Agent.Run's loop, agent.go) owns the core,
// reads the clock, arms the timer for the core's next deadline, and carries
// outputs out and inputs in through the edges. The loop never waits on an
// edge: it hands each output to a queue that cannot block it, and the
// edges answer with inputs.
//
//   - containers.go: a fixed pool of workers launches, updates and destroys
//     containers through the containerizer package (sandboxes, fork and
//     exec, kills), in order per container;
//   - masterlink.go: the HTTP client of the master's /internal/agent/* API;
//     it keeps the list of masters (--master=h1:5050,h2:5050 or
//     file:///path) and moves round robin to the next one when the one it
//     talks to fails, and follows the leader's redirects; pings from the
//     master go to the loop ahead of its queue;
//   - executorapi.go: the executor API handler and its event streams (the
//     core's call verdicts become HTTP statuses here);
//   - snapshot.go, http.go and files.go: the read-only endpoints, answered
//     from an immutable snapshot the loop publishes when a reader wants a
//     newer one; monitor.go measures the snapshot's containers through the
//     containerizer, on the reader's goroutines (/monitor/statistics and
//     the Usage API); operator.go answers the v1 operator API from the
//     same snapshot (with its protobuf view, core.V1State, built only when
//     one of its readers asks) and the same files logic;
//   - oversubscription.go: the resource estimator and the QoS controller
//     (--resource_estimator, --qos_controller), each on a goroutine that
//     reads the published snapshot and the containers' statistics and
//     feeds the core its estimate (core.Oversubscribable) or its
//     evictions (core.QoSCorrection);
//   - config.go, detect*.go and build.go: flags, the machine's resources
//     and the binary's build information, worked out once before the core
//     starts.
//
// Every queue is bounded, and a consumer that falls behind is cut off with
// a logged reason rather than allowed to stall the loop or lose a fact: an
// executor that does not read its events has its stream closed (it must
// subscribe again); a master that does not take the agent's messages has
// its link dropped, and the agent registers again with its whole state.
// Until then every message to the master is retried until the master
// confirms it; status updates are also resent by the core until they are
// acknowledged.
//
// A simulator can drive agent/core directly with a fake clock and fake edges.
//
// The package makes no decision of the agent's own (those belong in
// agent/core, where they can be tested without sockets, processes or a
// clock). It must not know how the master decides anything, and it must not
// talk to frameworks directly: everything for a framework goes through the
// master.
package agent
