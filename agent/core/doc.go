// Package core is the agent's state machine: every decision of a Gomesos
// agent (mesos-agent), and none of its I/O.
//
// It owns registration with the master (REGISTER and REREGISTER, pings,
// randomized backoff, following redirects, trying the next of several
// masters at once within one backoff round, starting over when the master
// removes the agent), the records of frameworks, executors and tasks, the
// executor API's semantics (SUBSCRIBE, UPDATE, MESSAGE), launching and
// killing executors and their tasks, the status update manager (one update
// per task in flight, resent with backoff until acknowledged, in order), and
// the /state and /metrics/snapshot views of all this.
//
// A Core is stepped with an Input (a message from the master, an executor
// call, a container's launch or exit, a Tick, a request for a snapshot) and
// the current time, and returns Outputs (connect to or send to the master,
// launch or destroy a container, send an event to an executor, answer a
// call). NextDeadline says when it next needs a Tick. Its time comes only
// from Step and its randomness only from the seed given to New, which is
// what lets a simulator drive it on a fake clock and replay a run.
//
// What must survive the agent process (its identity, and the frameworks,
// executors, tasks and status update streams of frameworks that
// checkpoint) the core hands out as a Checkpoint output, first among a
// step's outputs, for the driver to make durable before it does anything
// else of the step. A restarted agent reads the records back with
// DecodeCheckpoint and feeds them, with the containers the containerizer
// found, as a Recover input before Start: the core waits for the
// recovered executors to subscribe again (or gives up on them), then
// re-registers with the same id and resends what was never acknowledged.
// Exit leaves all that behind for the next agent; Stop removes it.
//
// It must not touch the outside world: no network (net, net/http), no files
// or processes (os, os/exec, io/fs, syscall), no clock (time.Now, timers,
// sleeps) and no randomness but the seeded generator it is built with. It
// does not import the containerizer: LaunchSpec and Termination are its own
// forms, which the driver (package agent) converts. walls_test.go keeps
// these rules. It does not know how the master decides anything, and it
// talks to frameworks only through the master.
package core
