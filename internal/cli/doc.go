// Package cli implements gomesos's client subcommands: execute (run a command
// as a Mesos task, like mesos-execute, with a progress bar on a terminal);
// the listings (agents, frameworks, tasks, roles, weights, quota,
// maintenance) and the operator's actions (weights set, quota set/remove,
// maintenance schedule/down/up, drain,
// deactivate, reactivate, mark-gone, teardown) over the v1 operator API
// through package operator; task log, which reads a task's sandbox from its
// agent's /files/read; watch, which prints the operator event stream; and
// explain, which prints the master's /master/explain for a framework.
//
// Each subcommand is one function taking a context, its options and the
// writers to print to; it returns an error (and, for Execute, an exit code)
// rather than exiting. Flag parsing and wiring live in cmd/gomesos; this
// package must not parse flags, read os.Args or call os.Exit, and it talks to
// the master and agents only over their public HTTP APIs (through packages
// scheduler and operator and plain GETs), never through their internals.
package cli
