// Package cli implements gomesos's client subcommands: execute (run a command
// as a Mesos task, like mesos-execute) and the agents, frameworks and tasks
// listings read from the master's legacy JSON endpoints.
//
// Each subcommand is one function taking a context, its options and the
// writers to print to; it returns an error (and, for Execute, an exit code)
// rather than exiting. Flag parsing and wiring live in cmd/gomesos; this
// package must not parse flags, read os.Args or call os.Exit, and it talks to
// the master only over the public HTTP APIs (through package scheduler and
// plain GETs), never through master internals.
package cli
