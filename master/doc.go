// Package master is the driver of the Mesos master: it owns the one
// goroutine that steps the master's state machine (package master/core),
// serves the scheduler API (POST /api/v1/scheduler), the agent protocol
// (/internal/agent/*) and the legacy endpoints over HTTP, carries the
// core's outputs to framework event streams and agent connections, feeds
// it clock ticks, and times allocation passes.
//
// Every stream it writes is a bounded queue (sink.go), with one policy for
// a consumer that falls behind: it is disconnected, with a log line saying
// why, and the core hears that its stream or connection closed.
//
// It decides nothing itself: every decision about frameworks, agents,
// offers and tasks is the core's, and every answer the core gives (a
// core.Code) is mapped here to an HTTP status.
//
// The loop runs requests in batches (those waiting when it gets to them)
// and commits each batch: it publishes the core's snapshot (core.Snapshot)
// to an atomic pointer, then carries out the outputs, then answers. So
// whoever hears of a change, by an event, a message or an answer, finds it
// in the state. The legacy endpoints and /metrics/snapshot read the latest
// snapshot and encode it on their own goroutines; they never wait for the
// loop, and the loop never waits for them.
//
// GET /metrics is the same figures and more in the Prometheus text format
// (prometheus.go): each /metrics/snapshot name becomes "mesos_" plus the
// name with every character outside [a-zA-Z0-9_] made "_"
// (master/tasks_running is mesos_master_tasks_running), beside allocation
// run and HTTP request latency histograms, tasks and offers by framework
// and role, and queue depths (see internal/prom).
//
// BenchState (`gomesos bench state`) measures /master/state of a large
// simulated cluster under load.
package master
