// Package core is the Mesos master's state machine: admitting agents and
// frameworks, turning the allocator's decisions into offers, validating and
// forwarding operations, tracking every task and relaying status updates.
//
// Core is single-threaded and does no I/O: it is fed inputs (a scheduler
// call, an agent message, a stream that closed, a clock tick) together with
// the current time, and answers with a Result (a Code and a message) plus a
// list of Outputs (events for framework streams, messages for agents,
// streams to close). It imports nothing that touches the network, files or
// processes, and never reads the clock; a test in internal/walls keeps it
// so. The driver (package master) connects it to HTTP; the simulator
// (internal/sim) drives it on a virtual clock. The allocator
// (master/allocator) decides who is offered what and is called only from
// here.
package core
