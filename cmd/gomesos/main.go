// Command gomesos is the one Gomesos binary: master, agent, a whole local
// cluster, and the client tools. Each subcommand parses its flags (Mesos's
// names, also read from MESOS_<FLAG> environment variables) and calls a
// library package; the logic lives there.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/gomesos/gomesos/agent/containerizer"
	"github.com/gomesos/gomesos/batch"
	"github.com/gomesos/gomesos/executor/builtin"
	"github.com/gomesos/gomesos/master"
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"master", "run a master (port 5050)", runMaster},
		{"agent", "run an agent (port 5051)", runAgent},
		{"local", "run a master and agents in one process", runLocal},
		{"execute", "run a command as a task, like mesos-execute", runExecute},
		{"agents", "list the agents of a cluster", runAgents},
		{"frameworks", "list the frameworks of a cluster", runFrameworks},
		{"tasks", "list the tasks of a cluster", runTasks},
		{"roles", "list the roles of a cluster", runRoles},
		{"weights", "list the roles' weights; weights set ROLE=W ... sets them", runWeights},
		{"quota", "list the roles' quotas; quota set ROLE --guarantee=cpus:2;mem:1024 --limit=cpus:4 | quota remove ROLE", runQuota},
		{"maintenance", "show maintenance; maintenance schedule --file=F | down HOST... | up HOST...", runMaintenance},
		{"drain", "drain an agent: drain AGENT_ID [--max-grace-period=D] [--mark-gone]", runDrain},
		{"deactivate", "deactivate an agent: no more offers of it", runDeactivate},
		{"reactivate", "reactivate a deactivated agent", runReactivate},
		{"mark-gone", "mark an agent gone for good (its tasks are gone)", runMarkGone},
		{"teardown", "tear a framework down, killing its tasks", runTeardown},
		{"explain", "explain FRAMEWORK_ID: why a framework is not getting offers", runExplain},
		{"task", "task log TASK_ID [--follow] [--stderr]: print a task's output", runTask},
		{"watch", "print the master's operator events as they happen", runWatch},
		{"batch", "run a batch job: batch submit --job=wordcount|sort|kmeans --input=DIR --output=DIR", runBatch},
		{"bench", "run a benchmark (bench allocator, bench state, bench failover, bench launch, bench tasks, bench batch, bench locality)", runBench},
		{"version", "print the version", runVersion},
	}
}

func main() {
	// An agent runs this binary as each container's supervisor (with
	// containerizer.SuperviseArg first, and the executor's environment, so
	// this comes first), and as the built-in executors, with
	// GOMESOS_EXECUTOR set.
	containerizer.MainIfSupervisor()
	builtin.MainIfExecutor()
	// The batch framework's executors are this binary too, with
	// GOMESOS_BATCH_EXECUTOR set.
	batch.MainIfExecutor()
	// `bench launch` runs its simulated agents and frameworks in this
	// binary too, with GOMESOS_BENCH_LAUNCH_PEER set.
	master.MainIfBenchLaunchPeer()
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == "agent" && args[0] == "agent" {
			// The agent tells its signals apart (see runAgent).
			return c.run(context.Background(), args[1:], stdout, stderr)
		}
		if c.name == args[0] {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
			defer stop()
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "gomesos: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: gomesos <command> [--flag=value ...]")
	fmt.Fprintln(w, "\nCommands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-12s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'gomesos <command> --help' for the flags of a command.")
}
