package sim

import (
	"fmt"
	"testing"
	"time"
)

// failovers is 20 agents running the tasks of 3 checkpointing frameworks
// (40 tasks each, 30s to 2 minutes long) while the leading master fails
// over: three times at set times and now and then at random. Besides,
// only faults after which no task may be lost: delayed agent messages,
// broken framework and executor streams, dying executors. The agents
// have 10 minutes to re-register (Mesos's default).
func failovers(seed int64) Config {
	c := Config{
		Seed: seed, Agents: 20, Frameworks: 3, TasksPerFramework: 40,
		FailRatio: 0.1, KillRatio: 0.1, MaxVirtualTime: 5 * time.Minute,
		TaskDurationMin: 30 * time.Second, TaskDurationMax: 2 * time.Minute,
		MasterFailovers: []time.Duration{20 * time.Second, 45 * time.Second, 80 * time.Second},
		Faults: FaultConfig{MasterFailover: 0.01, Delay: 0.05, MaxDelay: 3 * time.Second,
			FrameworkDisconnect: 0.02, ExecutorDisconnect: 0.05, ExecutorCrash: 0.01},
	}
	c.Master.AgentReregisterTimeout = 10 * time.Minute
	return c
}

// TestMasterFailoverSeeds sweeps seeds of master failovers. In the
// failovers and registry-write-failures mixes no agent ever leaves but
// with its master, so failover-harmless holds them to more: no task its
// agent had is reported lost, no agent is removed or shut down, no
// framework's executors are shut down behind its back, and once settled
// the master waits for no recovered agent. The all-faults mix adds every
// other fault; there the other invariants hold through the failovers.
func TestMasterFailoverSeeds(t *testing.T) {
	seeds := int64(6)
	switch {
	case testing.Short():
		seeds = 2
	case raceEnabled:
		seeds = 3
	}
	for _, mix := range []struct {
		name string
		cfg  func(int64) Config
		want func(Faults) int
	}{
		{"failovers", failovers, func(f Faults) int { return f.MasterFailovers }},
		{"registry-write-failures", func(seed int64) Config {
			// Commits fail: a tenth of them while the agents register,
			// and the master elected next may fail its own first one.
			c := failovers(seed)
			c.MasterFailovers, c.Faults.MasterFailover = nil, 0
			c.Faults.RegistryWriteFailure = 0.1
			c.AgentStartSpread = 20 * time.Second
			return c
		}, func(f Faults) int { return f.RegistryWriteFailures }},
		{"all-faults", func(seed int64) Config {
			c := failovers(seed)
			c.Faults = allFaults
			c.Faults.MasterFailover, c.Faults.RegistryWriteFailure = 0.01, 0.05
			c.NoCheckpointShare = 0.34
			return c
		}, func(f Faults) int { return f.MasterFailovers }},
	} {
		t.Run(mix.name, func(t *testing.T) {
			total := 0
			t.Cleanup(func() {
				if total == 0 && *onlySeed == 0 {
					t.Errorf("no fault of the mix's kind in %d seeds", seeds)
				}
			})
			for _, seed := range seedList(seeds) {
				t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
					r := runSeed(t, mix.cfg(seed), nil)
					if r.TaskStates["unfinished"] > 0 {
						t.Errorf("tasks never ended: %v", r.TaskStates)
					}
					if f := r.Faults; f.Elections != f.MasterFailovers {
						t.Errorf("%d failovers, %d elections", f.MasterFailovers, f.Elections)
					}
					total += mix.want(r.Faults)
					t.Logf("faults %+v; final states %v", r.Faults, r.TaskStates)
				})
			}
		})
	}
}
