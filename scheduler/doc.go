// Package scheduler is the public Go SDK for writing Mesos v1 HTTP API
// schedulers against Gomesos (or Apache Mesos) masters.
//
// A [Client] owns one framework's connection to the master: it sends
// SUBSCRIBE to POST /api/v1/scheduler, follows 307 redirects to the leading
// master, decodes the RecordIO event stream into mesos.v1.scheduler.Event messages and
// hands them to a [Handler], watches heartbeats, and re-subscribes with the
// framework id and an exponential, jittered backoff when the stream breaks.
// Every other call (ACCEPT, DECLINE, KILL, ACKNOWLEDGE, ...) is a separate POST
// made by [Client.Call] or one of its typed helpers, which fill in the
// framework id and the Mesos-Stream-Id header of the current subscription.
//
// With several masters ([Config.Masters]) the client finds the leader and,
// after a failover, the new one (see Config.Masters). Every re-subscription
// hands the handler a new SUBSCRIBED event; as Mesos asks of frameworks,
// the handler should then reconcile its tasks ([Client.Reconcile]): a new
// leader may not have forwarded what happened meanwhile.
//
// The package speaks only the wire protocol: it must not know about master,
// agent or allocator internals, and it keeps no state beyond what one
// subscription needs (framework id, stream id, current master). Decisions
// about offers and tasks belong to the handler. Package schedulertest
// provides a fake master for testing schedulers.
package scheduler
