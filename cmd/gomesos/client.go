package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime/debug"
	"strings"
	"time"

	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/internal/cli"
	"github.com/gomesos/gomesos/internal/cputime"
	"github.com/gomesos/gomesos/internal/flagx"
	"github.com/gomesos/gomesos/master"
	"github.com/gomesos/gomesos/master/allocator"
	"github.com/gomesos/gomesos/registry"
)

// envList collects repeated --env=NAME=VALUE flags.
type envList map[string]string

func (e envList) String() string { return "" }

func (e envList) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("expecting NAME=VALUE, got %q", s)
	}
	e[k] = v
	return nil
}

func runExecute(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("execute", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = flagx.Usage(fs, "gomesos execute --master=HOST:PORT[,HOST:PORT...] --name=NAME --command=CMD [--resources=...] [--count=N]")
	opts := cli.DefaultExecuteOptions()
	env := envList{}
	protobuf := false
	fs.StringVar(&opts.Master, "master", "127.0.0.1:5050", "the master's HOST:PORT, or the masters' HOST:PORT,HOST:PORT,... (the leader is found, and found again after a failover)")
	fs.StringVar(&opts.Name, "name", "", "name (and id) of the task (required)")
	fs.StringVar(&opts.Command, "command", "", "command to run (required)")
	fs.StringVar(&opts.Resources, "resources", opts.Resources, "resources of each task")
	fs.IntVar(&opts.Count, "count", 1, "number of tasks to run")
	fs.StringVar(&opts.Role, "role", "*", "role to run the tasks under")
	fs.StringVar(&opts.User, "user", "", "user to run the tasks as (default: the current user)")
	fs.BoolVar(&opts.Shell, "shell", true, "run the command with /bin/sh -c")
	fs.Var(flagx.Duration{D: &opts.KillAfter}, "kill_after", "kill each task this long after it is running (default: never)")
	fs.StringVar(&opts.DockerImage, "docker_image", "", "run the command in a Docker container of this image (needs --containerizer=docker and an agent with --containerizers=mesos,docker)")
	containerizer := fs.String("containerizer", "mesos", "containerizer of the tasks: mesos, or docker with --docker_image")
	fs.Var(env, "env", "environment variable NAME=VALUE for the command (repeatable)")
	fs.BoolVar(&protobuf, "protobuf", false, "speak protobuf rather than JSON to the master")
	if err := flagx.Parse(fs, args, flagx.Environ()); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		fmt.Fprintln(stderr, "gomesos execute:", err)
		return 2
	}
	if opts.Name == "" || opts.Command == "" {
		fmt.Fprintln(stderr, "gomesos execute: --name and --command are required")
		return 2
	}
	if opts.Count < 1 {
		fmt.Fprintln(stderr, "gomesos execute: --count must be at least 1")
		return 2
	}
	switch {
	case *containerizer != "mesos" && *containerizer != "docker":
		fmt.Fprintf(stderr, "gomesos execute: --containerizer must be mesos or docker, not %q\n", *containerizer)
		return 2
	case *containerizer == "docker" && opts.DockerImage == "":
		fmt.Fprintln(stderr, "gomesos execute: --containerizer=docker needs --docker_image")
		return 2
	case *containerizer == "mesos" && opts.DockerImage != "":
		fmt.Fprintln(stderr, "gomesos execute: --docker_image needs --containerizer=docker (the Mesos containerizer runs no images)")
		return 2
	}
	opts.Env = env
	// On a terminal, several tasks show as a progress bar.
	if f, ok := stdout.(*os.File); ok && opts.Count > 1 && cli.IsTerminal(f) {
		opts.Progress = stdout
	}
	if protobuf {
		opts.Encoding = codec.Protobuf
	}
	code, err := cli.Execute(ctx, opts, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "gomesos execute:", err)
	}
	return code
}

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "allocator":
			return runBenchAllocator(ctx, args[1:], stdout, stderr)
		case "state":
			return runBenchState(ctx, args[1:], stdout, stderr)
		case "failover":
			return runBenchFailover(ctx, args[1:], stdout, stderr)
		case "launch":
			return runBenchLaunch(ctx, args[1:], stdout, stderr)
		case "tasks":
			return runBenchTasks(ctx, args[1:], stdout, stderr)
		case "batch":
			return runBenchBatch(ctx, args[1:], stdout, stderr)
		case "locality":
			return runBenchLocality(ctx, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintln(stderr, "Usage: gomesos bench allocator [--agents=N] [--frameworks=N] [--roles=N]\n       gomesos bench state [--agents=N] [--tasks=N] [--readers=N] [--duration=D] [--update_rate=N]\n       gomesos bench failover [--agents=N] [--tasks_per_agent=N] [--registry_election_timeout=D]\n       gomesos bench launch [--agents=N] [--tasks=N] [--frameworks=N] [--slots=N] [--timeout=D] [--cpuprofile=FILE] [--memprofile=FILE] [--memory_limit=SIZE|auto|Rx|none] [--gogc=N] [--in_process]\n       gomesos bench tasks [--tasks=N | --latency=K] [--isolation=...] [--work_dir=DIR] [--pprof] [--cpuprofile=F]\n       gomesos bench batch [--size=1GB] [--executors=1,2,4] [--split_size=16MB]\n       gomesos bench locality [--agents=96] [--frameworks=16] [--slots=4] [--jobs=3] [--tasks=48] [--waits=0s,1s,5s]")
	return 2
}

func runBenchAllocator(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench allocator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	agents := fs.Int("agents", 10000, "number of agents")
	frameworks := fs.Int("frameworks", 100, "number of frameworks")
	roles := fs.Int("roles", 1, "number of roles the frameworks are spread over (1: all in \"*\")")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if *agents < 1 || *frameworks < 1 || *roles < 1 {
		fmt.Fprintln(stderr, "gomesos bench allocator: --agents, --frameworks and --roles must be at least 1")
		return 2
	}
	if _, err := allocator.Bench(ctx, *agents, *frameworks, *roles, time.Now, cputime.Process, stdout); err != nil {
		fmt.Fprintln(stderr, "gomesos bench allocator:", err)
		return 1
	}
	return 0
}

// runBenchState measures /master/state of a large simulated cluster over
// HTTP while status updates and offers keep flowing (master.BenchState).
func runBenchState(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench state", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts master.BenchStateOptions
	fs.IntVar(&opts.Agents, "agents", 10000, "number of simulated agents")
	fs.IntVar(&opts.Tasks, "tasks", 100000, "number of running tasks")
	fs.IntVar(&opts.Readers, "readers", 1, "concurrent readers of /master/state, each reading back to back")
	opts.Duration = 10 * time.Second
	fs.Var(flagx.Duration{D: &opts.Duration}, "duration", "how long the readers read (and the load runs alone before)")
	fs.Float64Var(&opts.UpdateRate, "update_rate", 1000, "tasks finishing (and replaced) per second")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if opts.Agents < 1 || opts.Tasks < 1 || opts.Readers < 1 || opts.Duration <= 0 || opts.UpdateRate <= 0 {
		fmt.Fprintln(stderr, "gomesos bench state: --agents, --tasks, --readers, --duration and --update_rate must be positive")
		return 2
	}
	if _, err := master.BenchState(ctx, opts, stdout); err != nil {
		fmt.Fprintln(stderr, "gomesos bench state:", err)
		return 1
	}
	return 0
}

// runBenchFailover kills the leader of three masters running a simulated
// cluster and measures how long the new leader takes to be elected, to
// have every agent back and to offer again (master.BenchFailover).
func runBenchFailover(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench failover", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts master.BenchFailoverOptions
	fs.IntVar(&opts.Agents, "agents", 1000, "number of simulated agents")
	fs.IntVar(&opts.TasksPerAgent, "tasks_per_agent", 10, "number of running tasks on each agent")
	electionTimeout := registry.DefaultHeartbeatTimeout
	fs.Var(flagx.Duration{D: &electionTimeout}, "registry_election_timeout",
		"the masters' Raft heartbeat and election timeouts, as gomesos master's flag (and the leader lease)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (pprof) of the failover, from the kill until it is measured, to this file")
	fs.StringVar(&opts.MemProfile, "memprofile", "", "write heap profiles (pprof) to this file at the end of the failover and to FILE.base at the kill (compare with go tool pprof -base)")
	level := fs.String("logging_level", "ERROR", "the bench's log level (INFO, WARNING, ERROR or DEBUG); at WARNING and below it shows the masters' own warnings")
	inProcess := fs.Bool("masters_in_process", false,
		"run the three masters in the bench's process (one heap and garbage collector with the simulated agents, the leader's kill simulated) instead of as three `gomesos master` processes, the leader killed with SIGKILL")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if opts.Agents < 1 {
		fmt.Fprintln(stderr, "gomesos bench failover: --agents must be at least 1")
		return 2
	}
	if opts.TasksPerAgent < 1 {
		fmt.Fprintln(stderr, "gomesos bench failover: --tasks_per_agent must be at least 1")
		return 2
	}
	if electionTimeout <= 0 {
		fmt.Fprintln(stderr, "gomesos bench failover: --registry_election_timeout must be positive")
		return 2
	}
	opts.HeartbeatTimeout, opts.ElectionTimeout, opts.LeaderLeaseTimeout = electionTimeout, electionTimeout, electionTimeout
	log, _, err := newLogger(stderr, *level)
	if err != nil {
		fmt.Fprintln(stderr, "gomesos bench failover:", err)
		return 2
	}
	opts.Logger = log
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "gomesos bench failover: --cpuprofile:", err)
			return 2
		}
		defer f.Close()
		opts.FailoverProfile = f
	}
	if !*inProcess {
		self, err := os.Executable()
		if err != nil {
			fmt.Fprintln(stderr, "gomesos bench failover: finding this binary to run the masters:", err)
			return 1
		}
		opts.MasterCommand = func(args []string) *exec.Cmd {
			return exec.Command(self, append([]string{"master"}, args...)...)
		}
	}
	if _, err := master.BenchFailover(ctx, opts, stdout); err != nil {
		fmt.Fprintln(stderr, "gomesos bench failover:", err)
		return 1
	}
	return 0
}

// runBenchLaunch runs short tasks through a real master with simulated
// agents and frameworks and measures the throughput and the memory
// (master.BenchLaunch).
func runBenchLaunch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench launch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts master.BenchLaunchOptions
	fs.IntVar(&opts.Agents, "agents", 10000, "number of simulated agents")
	fs.IntVar(&opts.Tasks, "tasks", 1000000, "number of short tasks to run")
	fs.IntVar(&opts.Frameworks, "frameworks", 10, "number of frameworks sharing the tasks")
	fs.IntVar(&opts.Slots, "slots", 10, "tasks each agent runs at once")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile (pprof) of the launch to this file")
	fs.StringVar(&opts.MemProfile, "memprofile", "", "write a heap profile (pprof) to this file once half the tasks finished")
	fs.DurationVar(&opts.Timeout, "timeout", 10*time.Minute, "give up when the launch has not finished after this long")
	fs.BoolVar(&opts.InProcess, "in_process", false, "run the simulated agents and frameworks in this process (their memory then counts in master rss) rather than in a child process")
	var memLimit memoryLimitFlag
	fs.Var(&memLimit, "memory_limit", "as the master's --memory_limit, for the master's process: "+memoryLimitUsage)
	gogc := fs.Int("gogc", 0, "the master process's garbage collection target percentage, as GOGC (runtime/debug.SetGCPercent; default: GOGC's, 100)")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if *gogc < 0 {
		fmt.Fprintln(stderr, "gomesos bench launch: --gogc must be positive")
		return 2
	}
	if *gogc > 0 {
		debug.SetGCPercent(*gogc)
	}
	rule, stopMemLimit := memLimit.start(ctx)
	defer stopMemLimit()
	opts.MemoryLimit = rule
	if opts.Agents < 1 || opts.Tasks < 1 || opts.Frameworks < 1 || opts.Slots < 1 {
		fmt.Fprintln(stderr, "gomesos bench launch: --agents, --tasks, --frameworks and --slots must be at least 1")
		return 2
	}
	if opts.Timeout <= 0 {
		fmt.Fprintln(stderr, "gomesos bench launch: --timeout must be positive")
		return 2
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(stderr, "gomesos bench launch: --cpuprofile:", err)
			return 2
		}
		defer f.Close()
		opts.CPUProfile = f
	}
	if _, err := master.BenchLaunch(ctx, opts, stdout); err != nil {
		fmt.Fprintln(stderr, "gomesos bench launch:", err)
		return 1
	}
	return 0
}
