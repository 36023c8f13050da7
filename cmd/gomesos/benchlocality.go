package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/gomesos/gomesos/internal/benchlocality"
)

// runBenchLocality is `gomesos bench locality`: the Mesos paper's data
// locality experiment on simulated agents (see package benchlocality).
func runBenchLocality(_ context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench locality", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o benchlocality.Options
	fs.IntVar(&o.Agents, "agents", 96, "simulated agents")
	fs.IntVar(&o.Slots, "slots", 4, "executor slots per agent")
	fs.IntVar(&o.Frameworks, "frameworks", 16, "batch frameworks sharing the agents")
	fs.IntVar(&o.Jobs, "jobs", 3, "jobs each framework runs, one after another")
	fs.IntVar(&o.Tasks, "tasks", 48, "map tasks per job")
	fs.IntVar(&o.Replicas, "replicas", 3, "agents each input split is stored on")
	fs.DurationVar(&o.Compute, "compute", 2*time.Second, "a map task's time besides reading its split")
	fs.DurationVar(&o.LocalRead, "local_read", time.Second, "reading a split where it is stored")
	fs.DurationVar(&o.RemoteRead, "remote_read", 6*time.Second, "reading a split from another agent")
	fs.DurationVar(&o.AllocationInterval, "allocation_interval", time.Second, "the master's allocation interval")
	waits := fs.String("waits", "0s,1s,5s", "the locality waits of the shared settings, comma-separated")
	seed := fs.Uint64("seed", 1, "the seed of data placement and job arrivals")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"agents", o.Agents}, {"slots", o.Slots}, {"frameworks", o.Frameworks}, {"jobs", o.Jobs}, {"tasks", o.Tasks}, {"replicas", o.Replicas}} {
		if f.v < 1 {
			fmt.Fprintf(stderr, "gomesos bench locality: --%s must be at least 1\n", f.name)
			return 2
		}
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{{"compute", o.Compute}, {"local_read", o.LocalRead}, {"remote_read", o.RemoteRead}} {
		if f.v < 0 {
			fmt.Fprintf(stderr, "gomesos bench locality: --%s must not be negative\n", f.name)
			return 2
		}
	}
	if o.AllocationInterval <= 0 {
		fmt.Fprintln(stderr, "gomesos bench locality: --allocation_interval must be positive")
		return 2
	}
	if *seed == 0 {
		fmt.Fprintln(stderr, "gomesos bench locality: --seed must not be 0")
		return 2
	}
	o.Seed = *seed
	o.Waits = []time.Duration{}
	for _, s := range strings.Split(*waits, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil || d < 0 {
			fmt.Fprintf(stderr, "gomesos bench locality: --waits: %q is not a duration of at least 0\n", s)
			return 2
		}
		o.Waits = append(o.Waits, d)
	}
	if _, err := benchlocality.Run(o, stdout); err != nil {
		fmt.Fprintln(stderr, "gomesos bench locality:", err)
		if errors.Is(err, benchlocality.ErrBadOptions) {
			return 2
		}
		return 1
	}
	return 0
}
