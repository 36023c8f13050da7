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
package master
