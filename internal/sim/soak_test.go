package sim

import (
	"errors"
	"flag"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gomesos/gomesos/master/core"
)

var (
	soak       = flag.Int("sim.soak", 0, "run this many random cluster configurations with random faults (TestSoak)")
	soakFrom   = flag.Int64("sim.soak.from", 1, "the first seed of TestSoak")
	soakMaster = flag.Bool("sim.soak.failover", false, "TestSoak: add master failovers and failed registry writes (soakFailoverConfig)")
)

// TestSoak runs random configurations: cluster sizes, resources, task
// lengths, latencies, master timeouts and every kind of fault, all drawn
// from the seed. It is off unless -sim.soak=N is given, e.g.
//
//	go test ./internal/sim/ -run TestSoak -sim.soak=500
//
// and with -sim.soak.failover, master failovers too.
//
// A failure names its seed and prints the command that replays it alone
// (-sim.seed=N).
func TestSoak(t *testing.T) {
	from, n := *soakFrom, int64(*soak)
	if *onlySeed != 0 {
		from, n = *onlySeed, 1
	}
	if n == 0 {
		t.Skip("off; -sim.soak=N runs N random configurations")
	}
	failed := 0
	for seed := from; seed < from+n; seed++ {
		cfg := soakConfig(seed)
		if *soakMaster {
			cfg = soakFailoverConfig(seed)
		}
		if _, err := Run(cfg); err != nil {
			var f *Failure
			if errors.As(err, &f) {
				failed++
				t.Errorf("soakConfig(%d) = %+v\n%v\nreplay: %s", seed, cfg, err, replayCommand(t, seed))
				continue
			}
			t.Fatalf("soakConfig(%d): %v", seed, err)
		}
	}
	t.Logf("%d configurations from seed %d: %d failed", n, from, failed)
}

// soakConfig draws a configuration from seed.
func soakConfig(seed int64) Config {
	r := rand.New(rand.NewPCG(uint64(seed), 0x50_41_4b))
	pick := func(xs ...float64) float64 { return xs[r.IntN(len(xs))] }
	c := Config{
		Seed: seed, Agents: 1 + r.IntN(20), Frameworks: 1 + r.IntN(5), TasksPerFramework: 1 + r.IntN(80),
		AgentResources:    []string{"cpus:8;mem:16384", "cpus:2;mem:2048", "cpus:1;mem:512", "cpus:16;mem:65536;disk:1000"}[r.IntN(4)],
		TaskResources:     []string{"cpus:1;mem:512", "cpus:0.5;mem:128", "cpus:2;mem:1024", "cpus:0.1;mem:32"}[r.IntN(4)],
		FailRatio:         pick(0, 0.1, 0.5),
		KillRatio:         pick(0, 0.1, 0.5),
		MaxVirtualTime:    time.Duration(1+r.IntN(10)) * time.Minute,
		TaskDurationMin:   time.Duration(r.IntN(3000)) * time.Millisecond,
		LatencyMax:        time.Duration(1+r.IntN(200)) * time.Millisecond,
		ReconcileInterval: time.Duration(1+r.IntN(120)) * time.Second,
		DeclineRefuse:     time.Duration(r.IntN(20)) * time.Second,
		TraceLimit:        -1,
		Faults: FaultConfig{
			Drop: pick(0, 0.01, 0.05), Delay: pick(0, 0.05, 0.2), MaxDelay: time.Duration(1+r.IntN(10)) * time.Second,
			AgentCrash: pick(0, 0.02, 0.1), AgentDisconnect: pick(0, 0.05, 0.2), FrameworkDisconnect: pick(0, 0.02, 0.1),
			AgentPartition: pick(0, 0.01, 0.05),
		},
	}
	c.TaskDurationMax = c.TaskDurationMin + time.Duration(r.IntN(60000))*time.Millisecond
	if r.IntN(3) == 0 {
		c.Master = core.Options{OfferTimeout: time.Duration(1+r.IntN(30)) * time.Second}
	}
	if r.IntN(3) == 0 {
		c.Master.AgentPingTimeout = time.Duration(1+r.IntN(15)) * time.Second
		c.Master.MaxAgentPingTimeouts = 1 + r.IntN(5)
	}
	// Drawn last, so that the earlier fields of a seed's configuration
	// stay what they were before these faults existed.
	c.Faults.ExecutorDisconnect = pick(0, 0.05, 0.2)
	c.Faults.ExecutorCrash = pick(0, 0.01, 0.05)
	c.Faults.LaunchFail = pick(0, 0.01, 0.05)
	c.Faults.ExecutorHang = pick(0, 0.01, 0.05)
	// Agent process crashes (with recovery from the checkpoint) and
	// frameworks that do not checkpoint, drawn last as well.
	c.Faults.AgentProcessCrash = pick(0, 0.02, 0.1)
	c.NoCheckpointShare = pick(0, 0.3, 1)
	c.Faults.LostCheckpoint = pick(0, 0, 0.2)
	c.Faults.AgentProcessRestart = pick(0, 0.02, 0.05)
	c.Faults.ExecutorStall = pick(0, 0.1, 0.3)
	c.Faults.CrashMidStep = pick(0, 0.002, 0.01)
	if r.IntN(4) == 0 {
		// Executors give up on an agent that stays down for long.
		c.Faults.ExecutorRecoveryTimeout = time.Duration(10+r.IntN(120)) * time.Second
	}
	return c
}

// soakFailoverConfig is soakConfig with master failovers and failed
// registry writes, and sometimes a short --agent_reregister_timeout, drawn
// from a source of their own (soakConfig(seed) stays what it was).
func soakFailoverConfig(seed int64) Config {
	c := soakConfig(seed)
	r := rand.New(rand.NewPCG(uint64(seed), 0x46_41_49_4c))
	c.Faults.MasterFailover = []float64{0, 0.01, 0.05}[r.IntN(3)]
	c.Faults.RegistryWriteFailure = []float64{0, 0.02, 0.1}[r.IntN(3)]
	if r.IntN(3) == 0 {
		c.Master.AgentReregisterTimeout = time.Duration(10+r.IntN(120)) * time.Second
	}
	return c
}
