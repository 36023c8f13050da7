// Package master owns the Mesos master: admitting agents and frameworks,
// turning allocations into offers, validating and forwarding operations,
// tracking every task and relaying status updates.
//
// The decisions live in Core, a single-threaded state machine that does no
// I/O: it is fed inputs (a scheduler call, an agent message, a stream that
// closed, a clock tick) with the current time and answers with a Result plus
// a list of Outputs (events for framework streams, messages for agents,
// streams to close). Master is the driver that owns one goroutine around the
// Core and connects it to HTTP. The allocator (package master/allocator)
// decides who is offered what; the master never talks to it from anywhere
// but the Core.
package master
