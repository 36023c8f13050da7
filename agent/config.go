package agent

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gomesos/gomesos/codec"

	"github.com/gomesos/gomesos/agent/containerizer"
	"github.com/gomesos/gomesos/agent/core"
	"github.com/gomesos/gomesos/agent/fetcher"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/internal/verbosity"
)

// Defaults of the Mesos agent flags that Config carries.
const (
	DefaultPort                        = 5051
	DefaultExecutorRegistrationTimeout = time.Minute
	DefaultExecutorShutdownGracePeriod = 5 * time.Second
	DefaultRegistrationBackoffFactor   = time.Second
	// DefaultGCDelay, DefaultGCDiskHeadroom and DefaultDiskWatchInterval
	// are Mesos's GC_DELAY, GC_DISK_HEADROOM and DISK_WATCH_INTERVAL.
	DefaultGCDelay           = 7 * 24 * time.Hour
	DefaultGCDiskHeadroom    = 0.1
	DefaultDiskWatchInterval = time.Minute
	// DefaultStatusUpdateRetryMin and Max are Mesos's
	// STATUS_UPDATE_RETRY_INTERVAL_MIN and _MAX.
	DefaultStatusUpdateRetryMin = 10 * time.Second
	DefaultStatusUpdateRetryMax = 10 * time.Minute
	// DefaultMasterPingTimeout is how long the agent waits for a ping when
	// the master does not say (agent_ping_timeout × max_agent_ping_timeouts).
	DefaultMasterPingTimeout = core.DefaultMasterPingTimeout
	// RegistrationRetryIntervalMax caps the registration backoff
	// (REGISTER_RETRY_INTERVAL_MAX).
	RegistrationRetryIntervalMax = core.RegistrationRetryIntervalMax
	// ExecutorHeartbeatInterval is how often the agent sends HEARTBEAT on
	// each executor's event stream (DEFAULT_EXECUTOR_HEARTBEAT_INTERVAL).
	ExecutorHeartbeatInterval = 30 * time.Minute
)

// The values of --recover.
const (
	RecoverReconnect = "reconnect"
	RecoverCleanup   = "cleanup"
)

// Bounds on what the agent remembers of finished work, as in Mesos.
const (
	MaxCompletedFrameworks            = core.MaxCompletedFrameworks
	MaxCompletedExecutorsPerFramework = core.MaxCompletedExecutorsPerFramework
	MaxCompletedTasksPerExecutor      = core.MaxCompletedTasksPerExecutor
)

// MesosVersion is the Mesos release whose APIs the agent speaks. It is the
// "version" of /version and /state and of REGISTER and REREGISTER.
const MesosVersion = core.MesosVersion

// Config configures an agent. Field comments name the Mesos agent flag.
type Config struct {
	// Master is the master's "host:port" (--master), or a comma-separated
	// list of the masters of a highly available cluster
	// ("h1:5050,h2:5050,h3:5050"; "http://" in front is allowed), or
	// "file:///path" naming a file whose content is the address or list,
	// read again whenever every master of the last list has failed. The
	// agent talks to one master at a time, follows the redirects of the
	// ones not leading, and moves round robin to the next one when the
	// one it talks to fails or has no leader.
	Master string
	// IP is the address to listen on (--ip). Empty listens on every
	// interface and advertises the first non-loopback IPv4 address, or
	// 127.0.0.1.
	IP string
	// Port to listen on (--port, DefaultPort in the CLI). Zero picks an
	// ephemeral port (tests); read the bound address with Addr.
	Port int
	// Hostname advertised to the master (--hostname); default os.Hostname.
	Hostname string
	// WorkDir holds sandboxes (--work_dir). Required.
	WorkDir string
	// Resources overrides detected resources by name (--resources), in the
	// "name(role):value;..." text or the JSON array form.
	Resources string
	// Attributes of the agent (--attributes), "name:value;...".
	Attributes string
	// ExecutorBinary is run for the built-in command and default executors;
	// default os.Executable(). It is started without arguments and with
	// GOMESOS_EXECUTOR=command|default in its environment.
	ExecutorBinary string
	// NoCommandExecutorHost (--command_executor_host=false) runs each
	// built-in command executor as a process of its own under a container
	// supervisor, as Mesos does, instead of inside the agent's one executor
	// host process (see agent/containerizer's host.go), which is the
	// default where the isolation allows it.
	NoCommandExecutorHost bool
	// ExecutorRegistrationTimeout (--executor_registration_timeout): how long
	// an executor has to subscribe before it is destroyed.
	ExecutorRegistrationTimeout time.Duration
	// ExecutorShutdownGracePeriod (--executor_shutdown_grace_period): how
	// long a shut-down executor has before it is killed.
	ExecutorShutdownGracePeriod time.Duration
	// GCDelay (--gc_delay): how long the sandbox of an executor that
	// ended, and the directory of a framework that left, are kept at
	// most (0: DefaultGCDelay). The disk's fullness shortens it: see
	// GCDiskHeadroom.
	GCDelay time.Duration
	// GCDiskHeadroom (--gc_disk_headroom), from 0 to 1: the share of the
	// work directory's disk that garbage collection keeps free. A
	// directory may stay GCDelay × max(0, 1 − GCDiskHeadroom − disk
	// usage). 0 is taken as DefaultGCDiskHeadroom; for (almost) none give
	// a tiny value such as 0.0001.
	GCDiskHeadroom float64
	// DiskWatchInterval (--disk_watch_interval): how often the disk is
	// measured for that (0: DefaultDiskWatchInterval).
	DiskWatchInterval time.Duration
	// RegistrationBackoffFactor (--registration_backoff_factor): the first
	// bound of the randomized registration backoff, doubled after each
	// failure up to RegistrationRetryIntervalMax.
	RegistrationBackoffFactor time.Duration
	// StatusUpdateRetryMin and Max bound the exponential backoff with which
	// an unacknowledged status update is resent to the master.
	StatusUpdateRetryMin time.Duration
	StatusUpdateRetryMax time.Duration
	// RuntimeDir holds the records of running containers (--runtime_dir);
	// default <work_dir>/runtime (Mesos's default is /var/run/mesos). It
	// must survive the agent's restarts for executors to be recovered.
	RuntimeDir string
	// Recover is what a restarted agent does with what it checkpointed
	// (--recover): "reconnect" (the default) recovers the executors of
	// checkpointing frameworks; "cleanup" kills every executor left
	// running, removes the checkpoint and returns from Run.
	Recover string
	// NotStrict is --strict=false: a checkpoint that cannot be read is set
	// aside (renamed agent.db.corrupt-<time>) and the agent starts afresh,
	// instead of refusing to start.
	NotStrict bool
	// RecoveryTimeout (--recovery_timeout, default 15mins) is how long the
	// executors of checkpointing frameworks wait for a lost agent before
	// they kill their tasks; they get it as MESOS_RECOVERY_TIMEOUT.
	RecoveryTimeout time.Duration
	// ExecutorReregistrationTimeout (--executor_reregistration_timeout,
	// default 2secs) is how long recovered executors have to subscribe
	// again before they are destroyed.
	ExecutorReregistrationTimeout time.Duration
	// ExecutorReregistrationRetries (--executor_reregistration_retries) is
	// accepted for Mesos's sake: Mesos retries reconnect messages to
	// PID-based executors, and Gomesos's executors are all HTTP ones,
	// which reconnect on their own.
	ExecutorReregistrationRetries int
	// Isolators run around every container (--isolation); none by
	// default, which is Mesos's posix isolation.
	Isolators []containerizer.Isolator
	// Isolation is --isolation as resolved (say "posix/cpu,posix/mem"), for
	// /flags; empty shows the isolators' names. CgroupsRoot and
	// CgroupsEnableCFS are --cgroups_root and --cgroups_enable_cfs, and
	// CgroupsPidsMax Gomesos's --cgroups_pids_max, for /flags only: the
	// isolators were built with them.
	Isolation        string
	CgroupsRoot      string
	CgroupsEnableCFS bool
	CgroupsPidsMax   int64
	// DefaultContainerInfo (--default_container_info) is the container of
	// every executor that has none; DefaultContainerInfoJSON is the flag
	// as given, for /flags.
	DefaultContainerInfo     *mesos.ContainerInfo
	DefaultContainerInfoJSON string
	// The namespaces/pid and network/ports flags, for /flags only: the
	// isolators were built with them.
	DisallowSharingAgentPidNamespace bool
	ContainerPortsWatchInterval      time.Duration
	EnforceContainerPorts            bool
	CheckAgentPortRangeOnly          bool
	// ContainerDiskWatchInterval and EnforceContainerDiskQuota are
	// --container_disk_watch_interval and --enforce_container_disk_quota,
	// for /flags only: disk/du was built with them.
	ContainerDiskWatchInterval time.Duration
	EnforceContainerDiskQuota  bool
	// AllowedDevices and NvidiaGPUDevices are --allowed_devices and
	// --nvidia_gpu_devices, for /flags only, as above.
	AllowedDevices   string
	NvidiaGPUDevices string
	// FetcherCacheDir (--fetcher_cache_dir, default /tmp/mesos/fetch)
	// holds the fetcher's cache, under slaves/<agent id>.
	FetcherCacheDir string
	// FetcherCacheSize (--fetcher_cache_size, default 2GB) bounds the
	// bytes the fetcher's cache keeps.
	FetcherCacheSize int64
	// FetcherStallTimeout (--fetcher_stall_timeout, default 1mins): a
	// download that receives nothing for this long fails.
	FetcherStallTimeout time.Duration
	// Containerizers is --containerizers as a list ("mesos", "docker");
	// empty means mesos only. With docker, command tasks whose container
	// is DOCKER run through the docker executor; the Docker isolator
	// must then be among Isolators (the CLI puts it there).
	Containerizers []string
	// Docker, DockerSocket, DockerKillOrphans, DockerRemoveDelay and
	// DockerStopTimeout are --docker, --docker_socket,
	// --docker_kill_orphans, --docker_remove_delay and
	// --docker_stop_timeout, for /flags only: the Docker isolator was
	// built with them.
	Docker            string
	DockerSocket      string
	DockerKillOrphans bool
	DockerRemoveDelay time.Duration
	DockerStopTimeout time.Duration
	// Logger receives the agent's logs; default discards them.
	Logger *slog.Logger
	// Verbosity is the process's log verbosity, which the operator API's
	// GET_LOGGING_LEVEL and SET_LOGGING_LEVEL read and set; nil: one of
	// the agent's own, which changes no logger.
	Verbosity *verbosity.Verbosity
	// ResourceEstimatorName is --resource_estimator: "" (none, Mesos's
	// default), "fixed" (or Mesos's module name
	// org_apache_mesos_FixedResourceEstimator), which offers
	// OversubscribedResources (--oversubscribed_resources, its resources
	// parameter, "cpus:2;mem:512"), or "idle", which offers the measured
	// idle cpus of the non-revocable executors (oversubscription.go).
	// ResourceEstimator, when set, is used instead of the name.
	// OversubscribedResourcesInterval (--oversubscribed_resources_interval,
	// default 15secs) is how often it is asked.
	ResourceEstimatorName           string
	OversubscribedResources         string
	ResourceEstimator               ResourceEstimator
	OversubscribedResourcesInterval time.Duration
	// QoSControllerName is --qos_controller: "" (none), "load" (or
	// org_apache_mesos_LoadQoSController), with its parameters
	// QoSLoadThreshold5Min and QoSLoadThreshold15Min
	// (--qos_load_threshold_5min, --qos_load_threshold_15min; "" unset)
	// and its load read from QoSLoadSource (default /proc/loadavg), or
	// "usage", with QoSUsageThreshold (--qos_usage_threshold, default
	// 0.9). QoSController, when set, is used instead of the name.
	// QoSCorrectionIntervalMin (--qos_correction_interval_min) is the time
	// between two rounds, at least MinQoSCorrectionInterval.
	QoSControllerName        string
	QoSLoadThreshold5Min     string
	QoSLoadThreshold15Min    string
	QoSLoadSource            LoadSource
	QoSUsageThreshold        float64
	QoSController            QoSController
	QoSCorrectionIntervalMin time.Duration
	// Pprof (--pprof) serves Go's runtime profiles under /debug/pprof/;
	// off by default (404).
	Pprof bool
}

// withDefaults fills in defaults and checks the configuration.
func (c Config) withDefaults() (Config, error) {
	if c.WorkDir == "" {
		return c, errors.New("agent: WorkDir (--work_dir) is required")
	}
	if c.Master == "" {
		return c, errors.New("agent: Master (--master) is required")
	}

	if c.Port < 0 || c.Port > 65535 {
		return c, fmt.Errorf("agent: invalid port %d", c.Port)
	}
	if c.Hostname == "" {
		h, err := os.Hostname()
		if err != nil || h == "" {
			h = "localhost"
		}
		c.Hostname = h
	}
	if c.ExecutorBinary == "" {
		exe, err := os.Executable()
		if err != nil {
			return c, fmt.Errorf("agent: finding the executor binary: %w", err)
		}
		c.ExecutorBinary = exe
	}
	if c.ExecutorRegistrationTimeout <= 0 {
		c.ExecutorRegistrationTimeout = DefaultExecutorRegistrationTimeout
	}
	if c.ExecutorShutdownGracePeriod <= 0 {
		c.ExecutorShutdownGracePeriod = DefaultExecutorShutdownGracePeriod
	}
	if c.RegistrationBackoffFactor <= 0 {
		c.RegistrationBackoffFactor = DefaultRegistrationBackoffFactor
	}
	if c.GCDelay < 0 {
		return c, fmt.Errorf("agent: --gc_delay must not be negative")
	}
	if c.GCDelay == 0 {
		c.GCDelay = DefaultGCDelay
	}
	if c.GCDiskHeadroom < 0 || c.GCDiskHeadroom > 1 || math.IsNaN(c.GCDiskHeadroom) {
		return c, fmt.Errorf("agent: invalid value '%v' for --gc_disk_headroom: must be between 0.0 and 1.0", c.GCDiskHeadroom)
	}
	if c.GCDiskHeadroom == 0 {
		c.GCDiskHeadroom = DefaultGCDiskHeadroom
	}
	if c.DiskWatchInterval < 0 {
		return c, fmt.Errorf("agent: --disk_watch_interval must not be negative")
	}
	if c.DiskWatchInterval == 0 {
		c.DiskWatchInterval = DefaultDiskWatchInterval
	}
	if c.StatusUpdateRetryMin <= 0 {
		c.StatusUpdateRetryMin = DefaultStatusUpdateRetryMin
	}
	if c.StatusUpdateRetryMax <= 0 {
		c.StatusUpdateRetryMax = DefaultStatusUpdateRetryMax
	}
	switch c.Recover {
	case "":
		c.Recover = RecoverReconnect
	case RecoverReconnect, RecoverCleanup:
	default:
		return c, fmt.Errorf("agent: --recover must be %q or %q, not %q", RecoverReconnect, RecoverCleanup, c.Recover)
	}
	if c.RecoveryTimeout < 0 {
		return c, fmt.Errorf("agent: --recovery_timeout must not be negative")
	}
	if c.RecoveryTimeout == 0 {
		c.RecoveryTimeout = core.DefaultRecoveryTimeout
	}
	if c.ExecutorReregistrationTimeout < 0 {
		return c, fmt.Errorf("agent: --executor_reregistration_timeout must not be negative")
	}
	if c.ExecutorReregistrationTimeout == 0 {
		c.ExecutorReregistrationTimeout = core.DefaultExecutorReregistrationTimeout
	}
	if c.ExecutorReregistrationRetries < 0 {
		return c, fmt.Errorf("agent: --executor_reregistration_retries must not be negative")
	}
	if c.RuntimeDir == "" {
		c.RuntimeDir = filepath.Join(c.WorkDir, "runtime")
	}
	if c.FetcherCacheDir == "" {
		c.FetcherCacheDir = fetcher.DefaultCacheDir
	}
	if !filepath.IsAbs(c.FetcherCacheDir) {
		return c, fmt.Errorf("agent: --fetcher_cache_dir must be an absolute path, not %q", c.FetcherCacheDir)
	}
	if c.FetcherCacheSize < 0 {
		return c, fmt.Errorf("agent: --fetcher_cache_size must not be negative")
	}
	if c.FetcherCacheSize == 0 {
		c.FetcherCacheSize = fetcher.DefaultCacheSize
	}
	if c.FetcherStallTimeout < 0 {
		return c, fmt.Errorf("agent: --fetcher_stall_timeout must not be negative")
	}
	if c.FetcherStallTimeout == 0 {
		c.FetcherStallTimeout = fetcher.DefaultStallTimeout
	}
	if len(c.Containerizers) == 0 {
		c.Containerizers = []string{containerizer.ContainerizerMesos}
	}
	if c.Docker == "" {
		c.Docker = "docker"
	}
	if c.DockerSocket == "" {
		c.DockerSocket = containerizer.DefaultDockerSocket
	}
	if c.OversubscribedResourcesInterval < 0 {
		return c, fmt.Errorf("agent: --oversubscribed_resources_interval must not be negative")
	}
	if c.OversubscribedResourcesInterval == 0 {
		c.OversubscribedResourcesInterval = DefaultOversubscribedResourcesInterval
	}
	if c.QoSCorrectionIntervalMin < 0 {
		return c, fmt.Errorf("agent: --qos_correction_interval_min must not be negative")
	}
	if err := c.resolveOversubscription(); err != nil {
		return c, fmt.Errorf("agent: %w", err)
	}
	if c.StatusUpdateRetryMax < c.StatusUpdateRetryMin {
		c.StatusUpdateRetryMax = c.StatusUpdateRetryMin
	}
	return c, nil
}

// flagsMap renders the configuration in force as Mesos's /flags does:
// every value a string, durations in stout's form ("1mins", "5secs"). Only
// flags this agent has are listed; "isolation" names the isolators that
// run around every container (empty when none does).
func (c Config) flagsMap(ip string, port int) map[string]string {
	var isolation []string
	for _, iso := range c.Isolators {
		isolation = append(isolation, iso.Name())
	}
	if c.Isolation != "" {
		isolation = []string{c.Isolation}
	}
	m := map[string]string{
		"master":                               c.Master,
		"ip":                                   ip,
		"port":                                 strconv.Itoa(port),
		"hostname":                             c.Hostname,
		"work_dir":                             c.WorkDir,
		"resources":                            c.Resources,
		"attributes":                           c.Attributes,
		"isolation":                            strings.Join(isolation, ","),
		"cgroups_root":                         c.CgroupsRoot,
		"cgroups_enable_cfs":                   strconv.FormatBool(c.CgroupsEnableCFS),
		"cgroups_pids_max":                     strconv.FormatInt(c.CgroupsPidsMax, 10),
		"default_container_info":               c.DefaultContainerInfoJSON,
		"disallow_sharing_agent_pid_namespace": strconv.FormatBool(c.DisallowSharingAgentPidNamespace),
		"container_ports_watch_interval":       codec.FormatDuration(c.ContainerPortsWatchInterval),
		"enforce_container_ports":              strconv.FormatBool(c.EnforceContainerPorts),
		"check_agent_port_range_only":          strconv.FormatBool(c.CheckAgentPortRangeOnly),
		"container_disk_watch_interval":        codec.FormatDuration(cmp.Or(c.ContainerDiskWatchInterval, containerizer.DefaultDiskWatchInterval)),
		"enforce_container_disk_quota":         strconv.FormatBool(c.EnforceContainerDiskQuota),
		"allowed_devices":                      c.AllowedDevices,
		"nvidia_gpu_devices":                   c.NvidiaGPUDevices,
		"executor_registration_timeout":        codec.FormatDuration(c.ExecutorRegistrationTimeout),
		"command_executor_host":                strconv.FormatBool(!c.NoCommandExecutorHost),
		"executor_shutdown_grace_period":       codec.FormatDuration(c.ExecutorShutdownGracePeriod),
		"registration_backoff_factor":          codec.FormatDuration(c.RegistrationBackoffFactor),
		"runtime_dir":                          c.RuntimeDir,
		"recover":                              c.Recover,
		"strict":                               strconv.FormatBool(!c.NotStrict),
		"recovery_timeout":                     codec.FormatDuration(c.RecoveryTimeout),
		"executor_reregistration_timeout":      codec.FormatDuration(c.ExecutorReregistrationTimeout),
		"executor_reregistration_retries":      strconv.Itoa(c.ExecutorReregistrationRetries),
		"fetcher_cache_dir":                    c.FetcherCacheDir,
		"fetcher_cache_size":                   codec.FormatBytes(c.FetcherCacheSize),
		"fetcher_stall_timeout":                codec.FormatDuration(c.FetcherStallTimeout),
		"containerizers":                       strings.Join(c.Containerizers, ","),
		"docker":                               c.Docker,
		"docker_socket":                        c.DockerSocket,
		"docker_kill_orphans":                  strconv.FormatBool(c.DockerKillOrphans),
		"docker_remove_delay":                  codec.FormatDuration(c.DockerRemoveDelay),
		"docker_stop_timeout":                  codec.FormatDuration(c.DockerStopTimeout),
	}
	m["oversubscribed_resources_interval"] = codec.FormatDuration(c.OversubscribedResourcesInterval)
	m["qos_correction_interval_min"] = codec.FormatDuration(c.QoSCorrectionIntervalMin)
	if c.ResourceEstimator != nil {
		m["resource_estimator"] = c.ResourceEstimator.Name()
		if c.OversubscribedResources != "" {
			m["oversubscribed_resources"] = c.OversubscribedResources
		}
	}
	if c.QoSController != nil {
		m["qos_controller"] = c.QoSController.Name()
		switch c.QoSController.Name() {
		case QoSControllerLoad:
			m["qos_load_threshold_5min"] = c.QoSLoadThreshold5Min
			m["qos_load_threshold_15min"] = c.QoSLoadThreshold15Min
		case QoSControllerUsage:
			m["qos_usage_threshold"] = strconv.FormatFloat(c.QoSUsageThreshold, 'g', -1, 64)
		}
	}
	return m
}
