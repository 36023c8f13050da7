package sim

import (
	"fmt"
	"testing"
	"time"
)

// restarts is a run whose agents' processes crash and restart, recovering
// from their checkpoint, with a third of the frameworks not checkpointing,
// plus the faults around a restart: lost and delayed messages, broken
// executor and framework streams and dying executors.
func restarts(seed int64) Config {
	c := small(seed, FaultConfig{
		AgentProcessCrash: 0.06, AgentProcessRestart: 0.02, Drop: 0.01, Delay: 0.05, MaxDelay: 3 * time.Second,
		ExecutorDisconnect: 0.05, ExecutorCrash: 0.01, FrameworkDisconnect: 0.02, LostCheckpoint: 0.1,
	})
	c.NoCheckpointShare = 0.34
	// Tasks that run long enough for restarts to find them running.
	c.TaskDurationMin, c.TaskDurationMax = 5*time.Second, 90*time.Second
	c.Faults.RestartMin, c.Faults.RestartMax = time.Second, 60*time.Second
	return c
}

// TestAgentRestartSeeds sweeps seeds of agent process crashes: the tasks
// of checkpointing frameworks survive the restart of their agent, the
// others are lost, and every invariant holds at every step.
func TestAgentRestartSeeds(t *testing.T) {
	seeds := int64(8)
	switch {
	case testing.Short():
		seeds = 3
	case raceEnabled:
		seeds = 4
	}
	for _, mix := range []struct {
		name string
		cfg  func(int64) Config
	}{
		{"restarts", restarts},
		{"restarts-giving-up", func(seed int64) Config {
			// Executors give up on an agent down longer than their
			// recovery timeout.
			c := restarts(seed)
			c.Faults.ExecutorRecoveryTimeout = 30 * time.Second
			c.Faults.RestartMin, c.Faults.RestartMax = 5*time.Second, 90*time.Second
			return c
		}},
	} {
		t.Run(mix.name, func(t *testing.T) {
			var total Faults
			t.Cleanup(func() {
				if total.ProcessCrashes == 0 && *onlySeed == 0 {
					t.Errorf("no agent process crashed in %d seeds", seeds)
				}
			})
			for _, seed := range seedList(seeds) {
				t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
					r := runSeed(t, mix.cfg(seed), nil)
					if r.TaskStates["unfinished"] > 0 {
						t.Errorf("tasks never ended: %v", r.TaskStates)
					}
					total.ProcessCrashes += r.Faults.ProcessCrashes
					t.Logf("faults %+v; final states %v", r.Faults, r.TaskStates)
				})
			}
		})
	}
}
