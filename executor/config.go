package executor

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/gomesos/gomesos/codec"
)

// Defaults used when the agent leaves a variable out. Mesos's own executor
// library refuses to start without them; we are lenient and use the agent's
// defaults instead.
const (
	// DefaultShutdownGracePeriod is Mesos's --executor_shutdown_grace_period.
	DefaultShutdownGracePeriod = 5 * time.Second
	// DefaultRecoveryTimeout is Mesos's --recovery_timeout.
	DefaultRecoveryTimeout = 15 * time.Minute
	// DefaultSubscriptionBackoffMax is Mesos's --executor_reregistration_timeout.
	DefaultSubscriptionBackoffMax = 2 * time.Second
)

// Environment variable names the agent sets for an executor.
const (
	EnvFrameworkID            = "MESOS_FRAMEWORK_ID"
	EnvExecutorID             = "MESOS_EXECUTOR_ID"
	EnvAgentEndpoint          = "MESOS_AGENT_ENDPOINT"
	EnvDirectory              = "MESOS_DIRECTORY"
	EnvSandbox                = "MESOS_SANDBOX"
	EnvCheckpoint             = "MESOS_CHECKPOINT"
	EnvRecoveryTimeout        = "MESOS_RECOVERY_TIMEOUT"
	EnvSubscriptionBackoffMax = "MESOS_SUBSCRIPTION_BACKOFF_MAX"
	EnvShutdownGracePeriod    = "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"
	EnvAuthenticationToken    = "MESOS_EXECUTOR_AUTHENTICATION_TOKEN"
)

// Config is what an executor learns from the environment the agent gives it.
type Config struct {
	FrameworkID string
	ExecutorID  string
	// AgentEndpoint is the agent's "ip:port"; the executor API lives at
	// http://<AgentEndpoint>/api/v1/executor.
	AgentEndpoint string
	// Directory is the sandbox path on the host (MESOS_DIRECTORY).
	Directory string
	// Sandbox is the sandbox path as the executor sees it (MESOS_SANDBOX,
	// else MESOS_DIRECTORY).
	Sandbox string
	// Checkpoint is true when the framework checkpoints: the executor then
	// survives agent restarts by re-subscribing.
	Checkpoint bool
	// RecoveryTimeout bounds how long a checkpointing executor keeps trying
	// to re-subscribe after losing the agent.
	RecoveryTimeout time.Duration
	// SubscriptionBackoffMax is the longest wait between two subscription
	// attempts.
	SubscriptionBackoffMax time.Duration
	// ShutdownGracePeriod is how long the executor has, after SHUTDOWN, to
	// kill its tasks and exit before the agent kills it.
	ShutdownGracePeriod time.Duration
	// AuthToken, when set, is sent as "Authorization: Bearer <token>".
	AuthToken string
}

// URL is the executor API endpoint of the agent.
func (c Config) URL() string { return "http://" + c.AgentEndpoint + "/api/v1/executor" }

// ConfigFromEnv reads the executor's configuration from the environment the
// agent sets (MESOS_FRAMEWORK_ID, MESOS_EXECUTOR_ID, MESOS_AGENT_ENDPOINT, ...).
func ConfigFromEnv() (Config, error) { return ConfigFromLookup(os.LookupEnv) }

// ConfigFromLookup is ConfigFromEnv over any variable lookup function.
func ConfigFromLookup(lookup func(string) (string, bool)) (Config, error) {
	get := func(name string) string {
		v, _ := lookup(name)
		return v
	}
	var errs []error
	required := func(name string) string {
		v := get(name)
		if v == "" {
			errs = append(errs, fmt.Errorf("expecting %s to be set in the environment", name))
		}
		return v
	}
	duration := func(name string, def time.Duration) time.Duration {
		v := get(name)
		if v == "" {
			return def
		}
		d, err := codec.ParseDuration(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("failed to parse %s %q: %w", name, v, err))
			return def
		}
		return d
	}

	c := Config{
		FrameworkID:   required(EnvFrameworkID),
		ExecutorID:    required(EnvExecutorID),
		AgentEndpoint: required(EnvAgentEndpoint),
		Directory:     get(EnvDirectory),
		Sandbox:       get(EnvSandbox),
		Checkpoint:    get(EnvCheckpoint) == "1",
		AuthToken:     get(EnvAuthenticationToken),
	}
	if c.AgentEndpoint != "" {
		if _, _, err := net.SplitHostPort(c.AgentEndpoint); err != nil {
			errs = append(errs, fmt.Errorf("%s %q is not ip:port: %w", EnvAgentEndpoint, c.AgentEndpoint, err))
		}
	}
	if c.Sandbox == "" {
		c.Sandbox = c.Directory
	}
	if c.Sandbox == "" {
		if wd, err := os.Getwd(); err == nil {
			c.Sandbox = wd
		}
	}
	if c.Directory == "" {
		c.Directory = c.Sandbox
	}
	c.RecoveryTimeout = duration(EnvRecoveryTimeout, DefaultRecoveryTimeout)
	c.SubscriptionBackoffMax = duration(EnvSubscriptionBackoffMax, DefaultSubscriptionBackoffMax)
	c.ShutdownGracePeriod = duration(EnvShutdownGracePeriod, DefaultShutdownGracePeriod)
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return c, nil
}
