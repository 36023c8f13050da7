package main

import (
	"flag"
	"io"
	"testing"
	"time"

	"github.com/gomesos/gomesos/internal/flagx"
	"github.com/gomesos/gomesos/master"
)

// The flags that bound what the master remembers keep Mesos's names and
// defaults, set the master's options, and are what /master/flags shows
// (runMaster serves flagValues there).
func TestMasterFlagsBoundWhatTheMasterRemembers(t *testing.T) {
	fs := flag.NewFlagSet("master", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var cfg master.Config
	masterFlags(fs, &cfg, "")
	defaults := map[string]string{
		"max_completed_frameworks":            "50",
		"max_completed_tasks_per_framework":   "1000",
		"max_unreachable_tasks_per_framework": "1000",
		"registry_gc_interval":                "15mins",
		"registry_max_agent_age":              "2weeks",
		"registry_max_agent_count":            "102400",
	}
	shown := flagValues(fs)
	for name, want := range defaults {
		if got, ok := shown[name]; !ok || got != want {
			t.Errorf("/master/flags shows %s = %q (present: %v), want Mesos's default %q", name, got, ok, want)
		}
	}
	err := flagx.Parse(fs, []string{
		"--max_completed_frameworks=3", "--max_unreachable_tasks_per_framework=7", "--registry_gc_interval=1mins",
		"--registry_max_agent_age=1days", "--registry_max_agent_count=9",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxCompletedFrameworks != 3 || cfg.MaxUnreachableTasksPerFW != 7 || cfg.RegistryGCInterval != time.Minute ||
		cfg.RegistryMaxAgentAge != 24*time.Hour || cfg.RegistryMaxAgentCount != 9 {
		t.Errorf("options after parsing: %+v", cfg.Options)
	}
	if shown := flagValues(fs); shown["registry_max_agent_age"] != "1days" || shown["registry_max_agent_count"] != "9" {
		t.Errorf("/master/flags after parsing: %v", shown)
	}
}
