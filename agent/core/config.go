package core

import (
	"github.com/gomesos/gomesos/codec"
	"time"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// Protocol timings the core applies, as in Mesos.
const (
	// DefaultMasterPingTimeout is how long the agent waits for a ping when
	// the master does not say (agent_ping_timeout × max_agent_ping_timeouts).
	DefaultMasterPingTimeout = 75 * time.Second
	// RegistrationRetryIntervalMax caps the registration backoff
	// (REGISTER_RETRY_INTERVAL_MAX).
	RegistrationRetryIntervalMax = time.Minute
)

// Bounds on what the agent remembers of finished work, as in Mesos.
const (
	MaxCompletedFrameworks                    = 50  // MAX_COMPLETED_FRAMEWORKS
	MaxCompletedExecutorsPerFramework         = 150 // --max_completed_executors_per_framework
	MaxCompletedTasksPerExecutor              = 200 // MAX_COMPLETED_TASKS_PER_EXECUTOR
	commandExecutorCPUs               float64 = 0.1 // DEFAULT_EXECUTOR_CPUS
	commandExecutorMem                float64 = 32  // DEFAULT_EXECUTOR_MEM, in MB
)

// MesosVersion is the Mesos release whose APIs the agent speaks. It is the
// "version" of /version and /state and of REGISTER and REREGISTER.
const MesosVersion = codec.MesosVersion

// Config is what the core needs to know about its surroundings. The driver
// works it out (flags, the bound socket, the machine) before the core
// starts; the core never looks for itself.
type Config struct {
	WorkDir        string   // sandboxes go under it (--work_dir)
	ExecutorBinary string   // run for the built-in command and default executors
	Endpoint       string   // "ip:port" of the executor API
	PID            string   // "slave(1)@ip:port"
	BaseEnv        []string // the environment executors inherit, "KEY=value"

	RegistrationTimeout time.Duration // --executor_registration_timeout
	ShutdownGrace       time.Duration // --executor_shutdown_grace_period
	BackoffFactor       time.Duration // --registration_backoff_factor
	RetryMin, RetryMax  time.Duration // status update retry interval bounds

	// ExecutorReregistrationTimeout is how long recovered executors have
	// to subscribe again (--executor_reregistration_timeout; zero: 2s).
	ExecutorReregistrationTimeout time.Duration
	// RecoveryTimeout is how long checkpointing executors wait for a lost
	// agent (--recovery_timeout, passed as MESOS_RECOVERY_TIMEOUT; zero:
	// 15 minutes).
	RecoveryTimeout time.Duration

	// DefaultContainerInfo is the container of every executor that has
	// none (--default_container_info).
	DefaultContainerInfo *mesos.ContainerInfo

	AgentInfo *mesos.AgentInfo  // hostname, port, resources, attributes
	Flags     map[string]string // shown in /state
	Build     codec.BuildInfo   // shown in /state
}
