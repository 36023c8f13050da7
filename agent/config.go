package agent

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/gomesos/gomesos/codec"

	"github.com/gomesos/gomesos/agent/containerizer"
	"github.com/gomesos/gomesos/agent/core"
)

// Defaults of the Mesos agent flags that Config carries.
const (
	DefaultPort                        = 5051
	DefaultExecutorRegistrationTimeout = time.Minute
	DefaultExecutorShutdownGracePeriod = 5 * time.Second
	DefaultRegistrationBackoffFactor   = time.Second
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
	// Master is the master's "host:port" (--master).
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
	// ExecutorRegistrationTimeout (--executor_registration_timeout): how long
	// an executor has to subscribe before it is destroyed.
	ExecutorRegistrationTimeout time.Duration
	// ExecutorShutdownGracePeriod (--executor_shutdown_grace_period): how
	// long a shut-down executor has before it is killed.
	ExecutorShutdownGracePeriod time.Duration
	// RegistrationBackoffFactor (--registration_backoff_factor): the first
	// bound of the randomized registration backoff, doubled after each
	// failure up to RegistrationRetryIntervalMax.
	RegistrationBackoffFactor time.Duration
	// StatusUpdateRetryMin and Max bound the exponential backoff with which
	// an unacknowledged status update is resent to the master.
	StatusUpdateRetryMin time.Duration
	StatusUpdateRetryMax time.Duration
	// Isolators run around every container (--isolation); none by
	// default, which is Mesos's posix isolation.
	Isolators []containerizer.Isolator
	// Logger receives the agent's logs; default discards them.
	Logger *slog.Logger
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
	if c.StatusUpdateRetryMin <= 0 {
		c.StatusUpdateRetryMin = DefaultStatusUpdateRetryMin
	}
	if c.StatusUpdateRetryMax <= 0 {
		c.StatusUpdateRetryMax = DefaultStatusUpdateRetryMax
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
	return map[string]string{
		"master":                         c.Master,
		"ip":                             ip,
		"port":                           strconv.Itoa(port),
		"hostname":                       c.Hostname,
		"work_dir":                       c.WorkDir,
		"resources":                      c.Resources,
		"attributes":                     c.Attributes,
		"isolation":                      strings.Join(isolation, ","),
		"executor_registration_timeout":  codec.FormatDuration(c.ExecutorRegistrationTimeout),
		"executor_shutdown_grace_period": codec.FormatDuration(c.ExecutorShutdownGracePeriod),
		"registration_backoff_factor":    codec.FormatDuration(c.RegistrationBackoffFactor),
	}
}
