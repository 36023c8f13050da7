package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/gomesos/gomesos/internal/benchtasks"
	"github.com/gomesos/gomesos/internal/flagx"
)

// runBenchTasks launches --tasks long-running command tasks on a local
// cluster through one offer and compares with a bare fork/exec of as many
// processes (benchtasks.Run).
func runBenchTasks(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench tasks", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts benchtasks.Options
	fs.IntVar(&opts.Tasks, "tasks", 1000, "number of long-running command tasks (and of bare `sh -c 'sleep'` processes)")
	fs.IntVar(&opts.Latency, "latency", 0, "instead, launch this many single tasks one after another on an idle cluster and print their accept-to-running p50/p99")
	fs.StringVar(&opts.WorkDir, "work_dir", "", "the agent's work directory (default: a temporary one, removed at the end)")
	fs.StringVar(&opts.Isolation, "isolation", "", "the agent's isolators, as gomesos agent's --isolation (default posix/cpu,posix/mem; cgroups ones get cgroups below a root of the run's own)")
	fs.BoolVar(&opts.Pprof, "pprof", false, pprofUsage+" (the master's and the agent's, whose addresses are printed)")
	fs.Var(flagx.Duration{D: &opts.Timeout}, "timeout", "bound of the launch and of the stop (default 10mins)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (pprof) of this process (master, agent, framework) from the launch until every task runs to this file")
	level := fs.String("logging_level", "ERROR", "the cluster's log level: INFO, WARNING, ERROR or DEBUG")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if opts.Tasks < 1 {
		fmt.Fprintln(stderr, "gomesos bench tasks: --tasks must be at least 1")
		return 2
	}
	if opts.Latency < 0 {
		fmt.Fprintln(stderr, "gomesos bench tasks: --latency must not be negative")
		return 2
	}
	var log *slog.Logger
	log, _, err := newLogger(stderr, *level)
	if err != nil {
		fmt.Fprintln(stderr, "gomesos bench tasks:", err)
		return 2
	}
	opts.Logger = log
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "gomesos bench tasks: --cpuprofile:", err)
			return 2
		}
		defer f.Close()
		opts.LaunchProfile = f
	}
	if _, err := benchtasks.Run(ctx, opts, stdout); err != nil {
		fmt.Fprintln(stderr, "gomesos bench tasks:", err)
		if errors.Is(err, benchtasks.ErrBadOptions) {
			return 2
		}
		return 1
	}
	return 0
}
