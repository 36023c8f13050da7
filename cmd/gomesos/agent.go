package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"syscall"

	"github.com/gomesos/gomesos/agent"
	"github.com/gomesos/gomesos/agent/checkpoint"
	"github.com/gomesos/gomesos/agent/containerizer"
	"github.com/gomesos/gomesos/agent/core"
	"github.com/gomesos/gomesos/agent/fetcher"
	"github.com/gomesos/gomesos/internal/docker"
	"github.com/gomesos/gomesos/internal/flagx"
	"github.com/gomesos/gomesos/resources"
)

// agentFlags binds the agent's flags (those a local cluster shares with a
// standalone agent) to cfg.
func agentFlags(fs *flag.FlagSet, cfg *agent.Config) {
	cfg.ExecutorRegistrationTimeout = agent.DefaultExecutorRegistrationTimeout
	cfg.ExecutorShutdownGracePeriod = agent.DefaultExecutorShutdownGracePeriod
	cfg.RegistrationBackoffFactor = agent.DefaultRegistrationBackoffFactor
	cfg.GCDelay = agent.DefaultGCDelay
	cfg.GCDiskHeadroom = agent.DefaultGCDiskHeadroom
	cfg.DiskWatchInterval = agent.DefaultDiskWatchInterval
	fs.StringVar(&cfg.Resources, "resources", "", "resources to offer, e.g. 'cpus:4;mem:2048;ports:[31000-32000]' or a JSON array (default: detected)")
	fs.StringVar(&cfg.Attributes, "attributes", "", "attributes of the agent, e.g. 'rack:2;zone:a'")
	fs.Var(flagx.Duration{D: &cfg.ExecutorRegistrationTimeout}, "executor_registration_timeout", "time an executor has to subscribe")
	fs.Var(flagx.Duration{D: &cfg.ExecutorShutdownGracePeriod}, "executor_shutdown_grace_period", "time a shut-down executor has before it is killed")
	fs.Var(flagx.Duration{D: &cfg.GCDelay}, "gc_delay", "longest time the sandboxes of executors that ended (and the directories of frameworks that left) are kept; less as the disk fills (see --gc_disk_headroom)")
	fs.Float64Var(&cfg.GCDiskHeadroom, "gc_disk_headroom", agent.DefaultGCDiskHeadroom, "share of the work directory's disk that sandbox garbage collection keeps free, 0.0 to 1.0: a sandbox may stay gc_delay * max(0, 1 - gc_disk_headroom - disk usage)")
	fs.Var(flagx.Duration{D: &cfg.DiskWatchInterval}, "disk_watch_interval", "how often the work directory's disk is measured for garbage collection")
	fs.BoolFunc("command_executor_host", "run built-in command executors as goroutines of one executor host process per agent (with posix or cgroups isolation; it outlives agent restarts) instead of a supervisor and an executor process per task (default true)",
		func(v string) error {
			b, err := strconv.ParseBool(v)
			cfg.NoCommandExecutorHost = !b
			return err
		})
	fs.Var(flagx.Duration{D: &cfg.RegistrationBackoffFactor}, "registration_backoff_factor", "initial bound of the registration retry backoff")
	fs.StringVar(&cfg.Isolation, "isolation", "", "isolators, comma-separated: posix/cpu, posix/mem, cgroups/cpu, cgroups/mem, cgroups/pids, cgroups/devices, gpu/nvidia, disk/du, filesystem/linux, namespaces/pid, network/ports (default: "+
		containerizer.DefaultCgroupsIsolation+" when the agent can write cgroups, else "+containerizer.DefaultPosixIsolation+")")
	fs.StringVar(&cfg.CgroupsRoot, "cgroups_root", "mesos", "name of the root cgroup below which each container's cgroup is made")
	cfg.ContainerDiskWatchInterval = containerizer.DefaultDiskWatchInterval
	fs.Var(flagx.Duration{D: &cfg.ContainerDiskWatchInterval}, "container_disk_watch_interval", "time between two measurements of a sandbox's disk usage by the disk/du isolator")
	fs.BoolVar(&cfg.EnforceContainerDiskQuota, "enforce_container_disk_quota", false, "with disk/du isolation, destroy a container whose sandbox holds more than its disk resource (REASON_CONTAINER_LIMITATION_DISK)")
	fs.StringVar(&cfg.AllowedDevices, "allowed_devices", "", "with cgroups/devices, a JSON DeviceWhitelist of devices every container may use besides the default ones, e.g. '{\"allowed_devices\":[{\"device\":{\"path\":\"/dev/fuse\"},\"access\":{\"read\":true,\"write\":true}}]}'")
	fs.StringVar(&cfg.NvidiaGPUDevices, "nvidia_gpu_devices", "", "with gpu/nvidia, the GPUs to hand out, by NVML index, comma-separated (e.g. 0,1); --resources must then say as many gpus (default: every GPU)")
	fs.BoolVar(&cfg.CgroupsEnableCFS, "cgroups_enable_cfs", false, "cap each container's CPU time with a CFS quota from its cpus (cpus x 100ms per 100ms period), not only weigh it with cpu shares")
	fs.Func("containerizers", "containerizers, comma-separated: mesos, docker (docker runs command tasks whose container is DOCKER through the Docker Engine) (default mesos)",
		func(v string) error { return setContainerizers(cfg, v) })
	cfg.Containerizers = []string{containerizer.ContainerizerMesos}
	fs.StringVar(&cfg.Docker, "docker", "docker", "accepted for Mesos's sake: the Docker CLI's path (Gomesos speaks the Docker Engine API itself, at --docker_socket)")
	fs.StringVar(&cfg.DockerSocket, "docker_socket", docker.DefaultSocket, "the Docker Engine's Unix socket")
	fs.BoolVar(&cfg.DockerKillOrphans, "docker_kill_orphans", true, "on recovery, remove every mesos-* Docker container the agent does not know")
	cfg.DockerRemoveDelay = containerizer.DefaultDockerRemoveDelay
	fs.Var(flagx.Duration{D: &cfg.DockerRemoveDelay}, "docker_remove_delay", "time an ended Docker container is kept before it is removed")
	fs.Var(flagx.Duration{D: &cfg.DockerStopTimeout}, "docker_stop_timeout", "deprecated, accepted for Mesos's sake: the kill policy's grace period is docker stop's timeout")
	fs.Int64Var(&cfg.CgroupsPidsMax, "cgroups_pids_max", containerizer.DefaultPidsMax, "with cgroups/pids, the most processes and threads each container may have (Gomesos's own flag: Mesos's pids isolator only counts them)")
	fs.StringVar(&cfg.DefaultContainerInfoJSON, "default_container_info", "", "JSON ContainerInfo (type MESOS) given to every executor that has none; filesystem/linux binds its volumes, e.g. '{\"type\":\"MESOS\",\"volumes\":[{\"host_path\":\"tmp\",\"container_path\":\"/tmp\",\"mode\":\"RW\"}]}'")
	fs.BoolVar(&cfg.DisallowSharingAgentPidNamespace, "disallow_sharing_agent_pid_namespace", false, "with namespaces/pid, refuse containers whose LinuxInfo asks to share the agent's pid namespace")
	cfg.ContainerPortsWatchInterval = containerizer.DefaultContainerPortsWatchInterval
	fs.Var(flagx.Duration{D: &cfg.ContainerPortsWatchInterval}, "container_ports_watch_interval", "with network/ports, how often each container's listening ports are checked")
	fs.BoolVar(&cfg.EnforceContainerPorts, "enforce_container_ports", false, "with network/ports, kill a container that listens on a port it was not given (else only log it)")
	fs.BoolVar(&cfg.CheckAgentPortRangeOnly, "check_agent_port_range_only", false, "with network/ports, check only the ports in the agent's ports resource")
	cfg.FetcherCacheSize = fetcher.DefaultCacheSize
	cfg.FetcherStallTimeout = fetcher.DefaultStallTimeout
	fs.StringVar(&cfg.FetcherCacheDir, "fetcher_cache_dir", fetcher.DefaultCacheDir, "directory of the fetcher's cache of URIs fetched with cache: true (one directory per agent ID under it; emptied when the agent starts)")
	fs.Var(flagx.Bytes{B: &cfg.FetcherCacheSize}, "fetcher_cache_size", "bytes the fetcher's cache may hold, e.g. 2GB; least recently used entries are evicted")
	fs.Var(flagx.Duration{D: &cfg.FetcherStallTimeout}, "fetcher_stall_timeout", "time a download may receive nothing before the fetch fails")
	fs.StringVar(&cfg.ResourceEstimatorName, "resource_estimator", "", "estimator of the revocable resources the agent offers: fixed (Mesos's org_apache_mesos_FixedResourceEstimator; offers --oversubscribed_resources) or idle (the measured idle cpus of non-revocable executors) (default: none)")
	fs.StringVar(&cfg.OversubscribedResources, "oversubscribed_resources", "", "with --resource_estimator=fixed, the scalar resources offered as revocable, e.g. 'cpus:2;mem:512' (the fixed estimator's resources parameter in Mesos)")
	cfg.OversubscribedResourcesInterval = agent.DefaultOversubscribedResourcesInterval
	fs.Var(flagx.Duration{D: &cfg.OversubscribedResourcesInterval}, "oversubscribed_resources_interval", "how often the resource estimator is asked and a changed estimate sent to the master")
	fs.StringVar(&cfg.QoSControllerName, "qos_controller", "", "QoS controller that evicts executors holding revocable resources: load (Mesos's org_apache_mesos_LoadQoSController) or usage (when non-revocable executors use more than --qos_usage_threshold of their cpus) (default: none)")
	fs.StringVar(&cfg.QoSLoadThreshold5Min, "qos_load_threshold_5min", "", "with --qos_controller=load, the 5 minute load average above which revocable executors are evicted (the controller's load_threshold_5min)")
	fs.StringVar(&cfg.QoSLoadThreshold15Min, "qos_load_threshold_15min", "", "with --qos_controller=load, the 15 minute load average above which revocable executors are evicted (load_threshold_15min)")
	fs.Float64Var(&cfg.QoSUsageThreshold, "qos_usage_threshold", agent.DefaultUsageThreshold, "with --qos_controller=usage, the share of their allocated cpus the non-revocable executors may use before revocable executors are evicted")
	fs.Var(flagx.Duration{D: &cfg.QoSCorrectionIntervalMin}, "qos_correction_interval_min", "least time between two rounds of QoS corrections (Gomesos waits at least 1secs)")
}

// resolveIsolation builds the isolators --isolation names into cfg, and
// sets cfg.Isolation to the list in force.
func resolveIsolation(cfg *agent.Config) error {
	if cfg.DefaultContainerInfoJSON != "" {
		ci, err := containerizer.ParseContainerInfo(cfg.DefaultContainerInfoJSON)
		if err != nil {
			return fmt.Errorf("--default_container_info: %w", err)
		}
		cfg.DefaultContainerInfo = ci
	}
	ns := containerizer.NamespaceOptions{
		DisallowSharingPid: cfg.DisallowSharingAgentPidNamespace,
		Ports: containerizer.PortsOptions{
			WatchInterval: cfg.ContainerPortsWatchInterval,
			Enforce:       cfg.EnforceContainerPorts,
			Logger:        cfg.Logger,
		},
	}
	if cfg.ContainerPortsWatchInterval <= 0 {
		return fmt.Errorf("--container_ports_watch_interval must be positive, not %s", cfg.ContainerPortsWatchInterval)
	}
	if cfg.CheckAgentPortRangeOnly {
		ports, err := agentPorts(cfg.Resources)
		if err != nil {
			return err
		}
		ns.Ports.Isolated = ports
	}
	allowed, err := containerizer.ParseAllowedDevices(cfg.AllowedDevices)
	if err != nil {
		return err
	}
	gpus, err := containerizer.ParseGPUDevices(cfg.NvidiaGPUDevices)
	if err != nil {
		return err
	}
	isolators, resolved, err := containerizer.IsolatorsFor(cfg.Isolation, containerizer.CgroupsOptions{
		Root: cfg.CgroupsRoot, EnableCFS: cfg.CgroupsEnableCFS, PidsMax: cfg.CgroupsPidsMax, Logger: cfg.Logger,
		Disk:           containerizer.DiskOptions{WatchInterval: cfg.ContainerDiskWatchInterval, EnforceQuota: cfg.EnforceContainerDiskQuota},
		AllowedDevices: allowed, GPU: containerizer.GPUOptions{Devices: gpus, Resources: cfg.Resources},
	}, ns)
	if err != nil {
		return err
	}
	cfg.Isolators, cfg.Isolation = isolators, resolved
	if slices.Contains(cfg.Containerizers, containerizer.ContainerizerDocker) {
		if cfg.DockerRemoveDelay < 0 {
			return fmt.Errorf("--docker_remove_delay must not be negative")
		}
		d, err := containerizer.NewDocker(context.Background(), containerizer.DockerOptions{
			Socket: cfg.DockerSocket, KillOrphans: cfg.DockerKillOrphans, RemoveDelay: cfg.DockerRemoveDelay, WorkDir: cfg.WorkDir,
			EnableCFS: cfg.CgroupsEnableCFS, Logger: cfg.Logger,
		})
		if err != nil {
			return err
		}
		cfg.Isolators = append(cfg.Isolators, d)
	}
	return nil
}

// setContainerizers sets --containerizers.
func setContainerizers(cfg *agent.Config, v string) error {
	list, err := containerizer.ParseContainerizers(v)
	if err != nil {
		return err
	}
	cfg.Containerizers = list
	return nil
}

func runAgent(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("agent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = flagx.Usage(fs, "gomesos agent --master=HOST:PORT[,HOST:PORT...] --work_dir=DIR [--flag=value ...]")
	var cfg agent.Config
	fs.StringVar(&cfg.Master, "master", "", "the master's HOST:PORT, or the masters' HOST:PORT,HOST:PORT,... (the agent finds the leader), or file:///path to a file holding either (required)")
	fs.StringVar(&cfg.WorkDir, "work_dir", "", "directory for sandboxes and metadata (required)")
	fs.StringVar(&cfg.IP, "ip", "", "IP address to listen on (default: all; advertises the first non-loopback IPv4)")
	fs.IntVar(&cfg.Port, "port", agent.DefaultPort, "port to listen on")
	fs.StringVar(&cfg.Hostname, "hostname", "", "hostname the agent advertises (default: the system hostname)")
	agentFlags(fs, &cfg)
	cfg.RecoveryTimeout = core.DefaultRecoveryTimeout
	cfg.ExecutorReregistrationTimeout = core.DefaultExecutorReregistrationTimeout
	fs.StringVar(&cfg.RuntimeDir, "runtime_dir", "", "directory for the records of running containers, which must survive agent restarts (empty: <work_dir>/runtime; Mesos defaults to /var/run/mesos)")
	fs.StringVar(&cfg.Recover, "recover", agent.RecoverReconnect, "on start, 'reconnect' to the executors of checkpointing frameworks left running, or 'cleanup': kill them, remove the checkpoint and exit")
	strict := fs.Bool("strict", true, "refuse to start when the checkpoint ("+checkpoint.File+" in the work directory) cannot be read; with false, set it aside and start afresh")
	fs.Var(flagx.Duration{D: &cfg.RecoveryTimeout}, "recovery_timeout", "time the executors of checkpointing frameworks wait for a lost agent before killing their tasks")
	fs.Var(flagx.Duration{D: &cfg.ExecutorReregistrationTimeout}, "executor_reregistration_timeout", "time recovered executors have to subscribe again before they are destroyed")
	fs.IntVar(&cfg.ExecutorReregistrationRetries, "executor_reregistration_retries", 0, "accepted for Mesos's sake: Mesos retries reconnecting PID-based executors; Gomesos's HTTP executors reconnect on their own")
	fs.BoolVar(&cfg.Pprof, "pprof", false, pprofUsage)
	level := fs.String("logging_level", "INFO", "log level: INFO, WARNING, ERROR or DEBUG")
	if err := flagx.Parse(fs, args, flagx.Environ()); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		fmt.Fprintln(stderr, "gomesos agent:", err)
		return 2
	}
	if cfg.Master == "" {
		fmt.Fprintln(stderr, "gomesos agent: --master is required (e.g. --master=127.0.0.1:5050)")
		return 2
	}
	if _, err := agent.ResolveMasters(cfg.Master); err != nil {
		fmt.Fprintln(stderr, "gomesos agent: --master:", err)
		return 2
	}
	if cfg.WorkDir == "" {
		fmt.Fprintln(stderr, "gomesos agent: --work_dir is required (e.g. --work_dir=/var/lib/gomesos/agent)")
		return 2
	}
	log, verb, err := newLogger(stderr, *level)
	if err != nil {
		fmt.Fprintln(stderr, "gomesos agent:", err)
		return 2
	}
	cfg.Logger = log
	cfg.Verbosity = verb
	cfg.NotStrict = !*strict
	if cfg.CgroupsPidsMax < 1 {
		fmt.Fprintln(stderr, "gomesos agent: --cgroups_pids_max must be at least 1")
		return 2
	}
	if err := resolveIsolation(&cfg); err != nil {
		fmt.Fprintln(stderr, "gomesos agent:", err)
		return 2
	}
	a, err := agent.New(cfg)
	if err != nil {
		fmt.Fprintln(stderr, "gomesos agent:", err)
		return 1
	}
	// As Mesos's agent: SIGTERM and SIGINT make the agent exit leaving the
	// executors of checkpointing frameworks running, to be recovered by
	// the next agent; SIGUSR1 shuts it down (it leaves the master and
	// kills every executor).
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1)
	defer signal.Stop(sigs)
	go func() {
		for sig := range sigs {
			if sig == syscall.SIGUSR1 {
				log.Info("SIGUSR1: shutting down: leaving the master and killing every executor")
				cancel()
				return
			}
			log.Info("exiting; the executors of checkpointing frameworks keep running", "signal", sig.String())
			a.Exit()
			return
		}
	}()
	fmt.Fprintf(stdout, "Agent listening on http://%s\n", a.Addr())
	if err := a.Run(ctx); err != nil {
		fmt.Fprintln(stderr, "gomesos agent:", err)
		return 1
	}
	return 0
}

// defaultAgentPorts is the ports resource an agent offers when --resources
// names none (Mesos's DEFAULT_PORTS).
const defaultAgentPorts = "ports:[31000-32000]"

// agentPorts is the agent's ports resource, for
// --check_agent_port_range_only: the one --resources gives, else the
// default.
func agentPorts(text string) ([]containerizer.PortRange, error) {
	given, err := resources.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("--resources: %w", err)
	}
	if len(given.Get("ports")) == 0 {
		given = resources.MustParse(defaultAgentPorts)
	}
	return containerizer.PortRangesOf(resources.ToProto(given)), nil
}
