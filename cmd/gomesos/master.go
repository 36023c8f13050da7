package main

import (
	"context"
	"flag"
	"fmt"
	"github.com/gomesos/gomesos/internal/buildinfo"
	"io"
	"log/slog"
	"time"

	"github.com/gomesos/gomesos/internal/flagx"
	"github.com/gomesos/gomesos/internal/verbosity"
	"github.com/gomesos/gomesos/master"
	"github.com/gomesos/gomesos/master/core"
)

// masterFlags binds the master's flags to a master.Config.
func masterFlags(fs *flag.FlagSet, cfg *master.Config, prefix string) {
	cfg.AllocationInterval = time.Second
	cfg.AgentPingTimeout = 15 * time.Second
	cfg.RegistryGCInterval = 15 * time.Minute
	cfg.RegistryMaxAgentAge = 14 * 24 * time.Hour
	cfg.AgentReregisterTimeout = 10 * time.Minute
	cfg.RecoveryAgentRemovalLimit = 1
	cfg.RegistryStoreTimeout = 20 * time.Second
	cfg.RegistryFetchTimeout = time.Minute
	fs.StringVar(&cfg.IP, prefix+"ip", "127.0.0.1", "IP address to listen on")
	fs.IntVar(&cfg.Port, prefix+"port", 5050, "port to listen on")
	fs.StringVar(&cfg.Hostname, prefix+"hostname", "", "hostname the master advertises (default: its IP)")
	fs.StringVar(&cfg.Cluster, "cluster", "", "human readable name for the cluster")
	fs.Var(flagx.Duration{D: &cfg.AllocationInterval}, "allocation_interval", "time between batch allocations")
	fs.Var(flagx.Duration{D: &cfg.AgentPingTimeout}, "agent_ping_timeout", "how long to wait for an agent's pong")
	fs.IntVar(&cfg.MaxAgentPingTimeouts, "max_agent_ping_timeouts", 5, "missed pongs before an agent is removed")
	fs.Var(flagx.Duration{D: &cfg.OfferTimeout}, "offer_timeout", "rescind offers not answered within this time (default: never)")
	fs.IntVar(&cfg.MaxCompletedFrameworks, "max_completed_frameworks", 50, "completed frameworks to remember")
	fs.IntVar(&cfg.MaxCompletedTasksPerFramework, "max_completed_tasks_per_framework", 1000, "completed tasks to remember per framework")
	fs.IntVar(&cfg.MaxUnreachableTasksPerFW, "max_unreachable_tasks_per_framework", 1000, "unreachable tasks to remember per framework")
	fs.Var(flagx.Duration{D: &cfg.RegistryGCInterval}, "registry_gc_interval", "how often to garbage-collect the unreachable agents the master remembers")
	fs.Var(flagx.Duration{D: &cfg.RegistryMaxAgentAge}, "registry_max_agent_age", "how long to remember an unreachable agent")
	fs.IntVar(&cfg.RegistryMaxAgentCount, "registry_max_agent_count", 100*1024, "how many unreachable agents to remember at most")
	fs.Var(flagx.Duration{D: &cfg.AgentReregisterTimeout}, "agent_reregister_timeout",
		"how long a newly elected master waits for the agents in its registry to re-register before marking them unreachable")
	fs.Var(flagx.Rate{Interval: &cfg.AgentRemovalInterval}, "agent_removal_rate_limit",
		"the most agents marked unreachable per time, as 'N/duration' (e.g. '1/10mins'); default: no limit")
	fs.Var(flagx.Percent{F: &cfg.RecoveryAgentRemovalLimit}, "recovery_agent_removal_limit",
		"the largest share of the recovered agents a new leader may mark unreachable for not re-registering; beyond it the master exits")
	fs.Var(flagx.Weights{M: &cfg.Weights}, "weights",
		"roles' weights a new cluster starts with, as 'role1=weight1,role2=weight2' (deprecated in Mesos; once the registry holds weights, UPDATE_WEIGHTS and /weights change them and this flag is ignored)")
	fs.Var(flagx.Duration{D: &cfg.RegistryStoreTimeout}, "registry_store_timeout", "how long a registry commit may take before the master gives up the leadership")
	fs.Var(flagx.Duration{D: &cfg.RegistryFetchTimeout}, "registry_fetch_timeout", "how long recovering the registry on election may take before the master exits")
	fs.Func("roles", "deprecated: comma-separated roles frameworks may subscribe to (default: any role)", func(v string) error {
		roles, err := core.ParseRoles(v)
		if err != nil {
			return err
		}
		cfg.Roles = append([]string{}, roles...)
		return nil
	})
}

func flagValues(fs *flag.FlagSet) map[string]string {
	out := map[string]string{}
	fs.VisitAll(func(f *flag.Flag) { out[f.Name] = f.Value.String() })
	return out
}

// newLogger is the process's logger at level, and the verbosity that
// the operator API's SET_LOGGING_LEVEL raises it to debug with.
func newLogger(w io.Writer, level string) (*slog.Logger, *verbosity.Verbosity, error) {
	var l slog.Level
	switch level {
	case "INFO", "info", "":
		l = slog.LevelInfo
	case "WARNING", "warning", "WARN", "warn":
		l = slog.LevelWarn
	case "ERROR", "error":
		l = slog.LevelError
	case "DEBUG", "debug":
		l = slog.LevelDebug
	default:
		return nil, nil, fmt.Errorf("--logging_level: unknown level %q (expecting INFO, WARNING, ERROR or DEBUG)", level)
	}
	lv := new(slog.LevelVar)
	lv.Set(l)
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lv})), verbosity.New(lv), nil
}

// pprofUsage is the help of --pprof, on the master, the agent and local.
const pprofUsage = "serve Go's runtime profiles (CPU, heap, goroutines, ...) under /debug/pprof/, for go tool pprof"

// defaultStandbyHeapPerAgent is --standby_heap_per_agent's default: a
// new leader of `gomesos bench failover` touched about 71 KiB of fresh
// memory for every re-registered agent of 10 tasks, and more on a busy
// machine (its heap then holds more garbage when the storm ends); a
// follower must be able to hold the leader's heap anyway, as it may
// become one.
const defaultStandbyHeapPerAgent = 96 << 10

func runMaster(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("master", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = flagx.Usage(fs, "gomesos master [--flag=value ...]")
	var cfg master.Config
	masterFlags(fs, &cfg, "")
	var reg registryFlags
	reg.bind(fs)
	fs.BoolVar(&cfg.Pprof, "pprof", false, pprofUsage)
	fs.IntVar(&cfg.ReregisterGCPercent, "reregister_gc_percent", 400,
		"the least GOGC while the agents recovered from the registry re-register after an election (at most a minute): the heap grows from the registry to every agent and task, and collecting at each doubling takes the CPU they need; without a fixed --memory_limit GOGC is then raised further, for the growth the first agents back foretell; 0 leaves the garbage collector alone")
	cfg.StandbyHeapPerAgent = defaultStandbyHeapPerAgent
	fs.Var(flagx.Bytes{B: &cfg.StandbyHeapPerAgent}, "standby_heap_per_agent",
		"the heap a master that does not lead keeps touched and free, for every agent the registry admits, so that taking over after a failover does not first touch the memory the re-registering agents fill (a page fault a page); 0B keeps none")
	var memLimit memoryLimitFlag
	fs.Var(&memLimit, "memory_limit", memoryLimitUsage)
	level := fs.String("logging_level", "INFO", "log level: INFO, WARNING, ERROR or DEBUG")
	if err := flagx.Parse(fs, args, flagx.Environ()); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		fmt.Fprintln(stderr, "gomesos master:", err)
		return 2
	}
	_, stopMemLimit := memLimit.start(ctx)
	defer stopMemLimit()
	log, verb, err := newLogger(stderr, *level)
	if err != nil {
		fmt.Fprintln(stderr, "gomesos master:", err)
		return 2
	}
	cfg.Logger = log
	cfg.Verbosity = verb
	if err := reg.apply(&cfg, log); err != nil {
		fmt.Fprintln(stderr, "gomesos master:", err)
		return 2
	}
	cfg.Flags = flagValues(fs)
	cfg.Build = buildinfo.Read()
	m, err := master.New(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "gomesos master:", err)
		return 1
	}
	fmt.Fprintf(stdout, "Master %s listening on %s\n", m.Advertise(), m.URL())
	if err := m.Run(ctx); err != nil {
		fmt.Fprintln(stderr, "gomesos master:", err)
		return 1
	}
	return 0
}
