package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/gomesos/gomesos/batch"
	"github.com/gomesos/gomesos/internal/flagx"
)

// runBatch runs the bundled batch framework: gomesos batch submit ...
func runBatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "submit" {
		fmt.Fprintln(stderr, "Usage: gomesos batch submit --master=HOST:PORT --job=wordcount|sort|kmeans --input=DIR --output=DIR [flags]")
		return 2
	}
	fs := flag.NewFlagSet("batch submit", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = flagx.Usage(fs, "gomesos batch submit --master=HOST:PORT --job=wordcount|sort|kmeans --input=DIR --output=DIR [--cores_max=N] [--executor_cores=N] [--executor_memory=SIZE] [--constraints=ATTR:V1,V2;...]")
	var s batch.Submission
	master := fs.String("master", "127.0.0.1:5050", "the master's HOST:PORT, or HOST:PORT,HOST:PORT,... for several")
	fs.StringVar(&s.Job, "job", "", "the job: "+strings.Join(batch.Jobs, ", ")+" (required)")
	fs.StringVar(&s.Input, "input", "", "directory of the input text files, a path every agent sees (required)")
	fs.StringVar(&s.Output, "output", "", "directory for the part-NNNNN files, which must not exist or be empty (required)")
	fs.Float64Var(&s.CoresMax, "cores_max", 0, "most cores of all executors together (default: as many as the work needs)")
	fs.Float64Var(&s.ExecutorCores, "executor_cores", batch.DefaultExecutorCores, "cores of each executor; it runs that many tasks at once")
	mem := int64(batch.DefaultExecutorMemory) << 20
	fs.Var(flagx.Bytes{B: &mem}, "executor_memory", "memory of each executor (e.g. 512MB, 2GB)")
	constraints := fs.String("constraints", "", "agent attribute constraints in Spark's syntax: ATTR:V1,V2;ATTR2 (default: any agent)")
	s.LocalityWait = batch.DefaultLocalityWait
	fs.Var(flagx.Duration{D: &s.LocalityWait}, "locality_wait", "how long tasks wait for an agent their input split is local to (the input's _locations file) or the executor holding their cached input")
	fs.StringVar(&s.Role, "role", "*", "the framework's role")
	fs.StringVar(&s.Name, "name", "", "the framework's name (default: gomesos-batch-JOB)")
	fs.StringVar(&s.Principal, "principal", "", "the framework's principal")
	fs.StringVar(&s.User, "user", "", "the user the executors run as (default: the current user)")
	fs.Var(flagx.Duration{D: &s.FailoverTimeout}, "failover_timeout", "how long the master keeps the framework after the driver's connection breaks")
	fs.StringVar(&s.FrameworkID, "framework_id", "", "subscribe as this framework, taking over the executors of a driver that died less than --failover_timeout ago")
	fs.BoolVar(&s.Checkpoint, "checkpoint", false, "have agents checkpoint the executors, so they survive an agent restart")
	fs.IntVar(&s.TaskMaxFailures, "task_max_failures", batch.DefaultTaskMaxFailures, "failures of one task before the job fails")
	fs.Float64Var(&s.MinRegisteredRatio, "min_registered_ratio", 0, "share of --cores_max to wait for (up to 30s) before the first tasks start")
	fs.BoolVar(&s.DynamicAllocation, "dynamic_allocation", false, "ramp executors up 1, 2, 4, ... each second tasks wait, rather than all at once")
	fs.Var(flagx.Duration{D: &s.ExecutorIdleTimeout}, "executor_idle_timeout", "release an executor idle this long that caches nothing (default: keep executors until the end)")
	fs.BoolVar(&s.ShuffleService, "shuffle_service", false, "start a shuffle service task on each agent used, so that executors released by --executor_idle_timeout keep their map outputs")
	s.ExecutorTimeout = batch.DefaultExecutorTimeout
	fs.Var(flagx.Duration{D: &s.ExecutorTimeout}, "executor_timeout", "how long an executor may leave the driver's pings or a shuffle fetch unanswered before it is lost and its tasks run elsewhere")
	fs.StringVar(&s.ExecutorCommand, "executor_command", "", "the gomesos binary the executors run (default: this binary's absolute path); a bare name is looked up on each agent's PATH")
	fs.StringVar(&s.ShipExecutor, "ship_executor", batch.ShipRemote, "which agents fetch the executor binary from the driver's web page (set --webui_listen to an address they reach): remote (agents on other machines), always or never")
	fs.StringVar(&s.Listen, "webui_listen", "127.0.0.1:0", "address of the driver's web page (its webui_url)")
	fs.IntVar(&s.Partitions, "partitions", 0, "reduce partitions, and so output files (default: 2, or --cores_max when set)")
	fs.Var(flagx.Bytes{B: &s.SplitSize}, "split_size", "largest input split (default 32MB)")
	fs.IntVar(&s.K, "k", 2, "kmeans: the number of clusters")
	fs.IntVar(&s.Iterations, "iterations", 10, "kmeans: the most iterations")
	level := fs.String("logging_level", "WARNING", "log level: INFO, WARNING, ERROR or DEBUG")
	if err := flagx.Parse(fs, args[1:], flagx.Environ()); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "gomesos batch submit:", err)
		return 2
	}
	fail := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "gomesos batch submit: "+format+"\n", a...)
		return 2
	}
	switch {
	case fs.NArg() > 0:
		return fail("unexpected arguments %q", fs.Args())
	case s.Job == "":
		return fail("--job is required (%s)", strings.Join(batch.Jobs, ", "))
	case !slices.Contains(batch.Jobs, s.Job):
		return fail("--job: unknown job %q (built-in jobs: %s)", s.Job, strings.Join(batch.Jobs, ", "))
	case s.Input == "":
		return fail("--input is required")
	case s.Output == "":
		return fail("--output is required")
	case s.CoresMax < 0:
		return fail("--cores_max must not be negative")
	case s.ExecutorCores <= 0:
		return fail("--executor_cores must be positive")
	case s.CoresMax > 0 && s.CoresMax < s.ExecutorCores:
		return fail("--cores_max=%g is less than one executor's --executor_cores=%g", s.CoresMax, s.ExecutorCores)
	case mem < 32<<20:
		return fail("--executor_memory must be at least 32MB")
	case s.TaskMaxFailures < 1:
		return fail("--task_max_failures must be at least 1")
	case s.LocalityWait < 0:
		return fail("--locality_wait must not be negative")
	case s.ExecutorTimeout <= 0:
		return fail("--executor_timeout must be positive")
	case s.ShipExecutor != batch.ShipRemote && s.ShipExecutor != batch.ShipAlways && s.ShipExecutor != batch.ShipNever:
		return fail("--ship_executor must be remote, always or never, not %q", s.ShipExecutor)
	case s.ExecutorIdleTimeout < 0:
		return fail("--executor_idle_timeout must not be negative")
	case s.MinRegisteredRatio < 0 || s.MinRegisteredRatio > 1:
		return fail("--min_registered_ratio must be within [0, 1]")
	case s.Partitions < 0:
		return fail("--partitions must not be negative")
	case s.SplitSize < 0:
		return fail("--split_size must not be negative")
	case s.K < 1:
		return fail("--k must be at least 1")
	case s.Iterations < 1:
		return fail("--iterations must be at least 1")
	}
	cons, err := batch.ParseConstraints(*constraints)
	if err != nil {
		return fail("--constraints: %v", err)
	}
	s.Constraints = cons
	s.ExecutorMemory = float64(mem >> 20)
	if s.Name == "" {
		s.Name = "gomesos-batch-" + s.Job
	}
	if s.Partitions == 0 {
		s.Partitions = 2
		if s.CoresMax >= 1 {
			s.Partitions = int(s.CoresMax)
		}
	}
	for _, m := range strings.Split(*master, ",") {
		if m = strings.TrimSpace(m); m != "" {
			s.Masters = append(s.Masters, m)
		}
	}
	if len(s.Masters) == 0 {
		return fail("--master is required")
	}
	log, _, err := newLogger(stderr, *level)
	if err != nil {
		return fail("%v", err)
	}
	s.Logger = log
	subCtx, cancel := context.WithTimeout(ctx, 24*time.Hour)
	defer cancel()
	if err := batch.Submit(subCtx, s, stdout); err != nil {
		fmt.Fprintln(stderr, "gomesos batch submit:", err)
		return 1
	}
	return 0
}
