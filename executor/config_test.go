package executor_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gomesos/gomesos/executor"
)

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := env[k]
		return v, ok
	}
}

func TestConfigFromEnvironment(t *testing.T) {
	cfg, err := executor.ConfigFromLookup(lookup(map[string]string{
		"MESOS_FRAMEWORK_ID":                   "fw",
		"MESOS_EXECUTOR_ID":                    "ex",
		"MESOS_AGENT_ENDPOINT":                 "10.0.0.1:5051",
		"MESOS_DIRECTORY":                      "/work/sandbox",
		"MESOS_CHECKPOINT":                     "1",
		"MESOS_RECOVERY_TIMEOUT":               "15mins",
		"MESOS_SUBSCRIPTION_BACKOFF_MAX":       "2secs",
		"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": "7secs",
		"MESOS_EXECUTOR_AUTHENTICATION_TOKEN":  "jwt",
	}))
	if err != nil {
		t.Fatal(err)
	}
	want := executor.Config{
		FrameworkID:            "fw",
		ExecutorID:             "ex",
		AgentEndpoint:          "10.0.0.1:5051",
		Directory:              "/work/sandbox",
		Sandbox:                "/work/sandbox", // MESOS_SANDBOX defaults to MESOS_DIRECTORY
		Checkpoint:             true,
		RecoveryTimeout:        15 * time.Minute,
		SubscriptionBackoffMax: 2 * time.Second,
		ShutdownGracePeriod:    7 * time.Second,
		AuthToken:              "jwt",
	}
	if cfg != want {
		t.Errorf("config\n got %+v\nwant %+v", cfg, want)
	}
	if got := cfg.URL(); got != "http://10.0.0.1:5051/api/v1/executor" {
		t.Errorf("URL %q", got)
	}
}

// Missing variables take the agent's defaults, except the three an executor
// cannot work without; bad durations are errors.
func TestConfigFromEnvironmentDefaultsAndErrors(t *testing.T) {
	cfg, err := executor.ConfigFromLookup(lookup(map[string]string{
		"MESOS_FRAMEWORK_ID":   "fw",
		"MESOS_EXECUTOR_ID":    "ex",
		"MESOS_AGENT_ENDPOINT": "127.0.0.1:5051",
		"MESOS_SANDBOX":        "/mnt/mesos/sandbox",
		"MESOS_DIRECTORY":      "/var/lib/mesos/x",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Checkpoint || cfg.Sandbox != "/mnt/mesos/sandbox" || cfg.Directory != "/var/lib/mesos/x" ||
		cfg.ShutdownGracePeriod != executor.DefaultShutdownGracePeriod ||
		cfg.RecoveryTimeout != executor.DefaultRecoveryTimeout ||
		cfg.SubscriptionBackoffMax != executor.DefaultSubscriptionBackoffMax {
		t.Errorf("defaults wrong: %+v", cfg)
	}

	_, err = executor.ConfigFromLookup(lookup(map[string]string{
		"MESOS_AGENT_ENDPOINT":                 "no-port",
		"MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD": "soon",
	}))
	if err == nil {
		t.Fatal("no error for a broken environment")
	}
	for _, want := range []string{"MESOS_FRAMEWORK_ID", "MESOS_EXECUTOR_ID", "MESOS_AGENT_ENDPOINT", "MESOS_EXECUTOR_SHUTDOWN_GRACE_PERIOD"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
}
