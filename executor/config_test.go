package executor_test

import (
	"strings"
	"testing"
	"time"

	"github.com/gomesos/gomesos/executor"
)

// Durations in the environment are Mesos (stout) duration strings.
func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"5secs":    5 * time.Second,
		"15mins":   15 * time.Minute,
		"2secs":    2 * time.Second,
		"100ms":    100 * time.Millisecond,
		"1.5hrs":   90 * time.Minute,
		"10us":     10 * time.Microsecond,
		"7ns":      7,
		"2days":    48 * time.Hour,
		"1weeks":   7 * 24 * time.Hour,
		"0.5secs":  500 * time.Millisecond,
		"5s":       5 * time.Second, // Go syntax, accepted as a convenience
		"1m30s":    90 * time.Second,
		"0ns":      0,
		"3.25mins": 195 * time.Second,
	} {
		got, err := executor.ParseDuration(in)
		if err != nil || got != want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "secs", "5", "5 secs", "5minutes", "-5secs", "1.2.3secs"} {
		if d, err := executor.ParseDuration(in); err == nil {
			t.Errorf("ParseDuration(%q) = %v, want an error", in, d)
		}
	}
}

// FormatDuration prints what stout's stringify(Duration) prints.
func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		5 * time.Second:         "5secs",
		15 * time.Minute:        "15mins",
		90 * time.Minute:        "1.5hrs",
		100 * time.Millisecond:  "100ms",
		1500 * time.Microsecond: "1.5ms",
		0:                       "0ns",
		48 * time.Hour:          "2days",
		14 * 24 * time.Hour:     "2weeks",
		-2 * time.Second:        "-2secs",
	} {
		if got := executor.FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
		if d >= 0 {
			if back, err := executor.ParseDuration(want); err != nil || back != d {
				t.Errorf("ParseDuration(%q) = %v, %v; want %v", want, back, err, d)
			}
		}
	}
}

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
