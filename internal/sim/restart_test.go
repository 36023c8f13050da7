package sim

import (
	"fmt"
	"reflect"
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
		ExecutorStall: 0.1, CrashMidStep: 0.005,
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

// oneAgentRestart is one agent running 8 tasks of 60 to 90 seconds for one
// framework, whose process dies at 20s and restarts 30s later (exit: it is
// restarted as on SIGTERM instead).
func oneAgentRestart(checkpoint, exit bool) Config {
	c := Config{
		Seed: 7, Agents: 1, Frameworks: 1, TasksPerFramework: 8, MaxVirtualTime: 10 * time.Minute,
		TaskDurationMin: 60 * time.Second, TaskDurationMax: 90 * time.Second,
		ProcessCrashes: []ProcessCrash{{At: 20 * time.Second, Down: 30 * time.Second, Exit: exit}},
	}
	if !checkpoint {
		c.NoCheckpointShare = 1
	}
	return c
}

// TestProcessCrashKeepsCheckpointedTasks: the agent's process dies under
// 8 running tasks of a checkpointing framework and comes back 30s later:
// it keeps its AgentID (it re-registers, never registers anew), its
// executors subscribe again, no task is launched twice, lost or ended
// early, and every task finishes. Also when the agent is restarted on
// purpose (SIGTERM).
func TestProcessCrashKeepsCheckpointedTasks(t *testing.T) {
	for _, exit := range []bool{false, true} {
		t.Run(fmt.Sprint("exit=", exit), func(t *testing.T) {
			r := runSeed(t, oneAgentRestart(true, exit), nil)
			if r.Faults.ProcessCrashes != 1 || r.Faults.Restarts != 1 || r.Faults.Orphans != 0 || r.Faults.ExecutorGiveUps != 0 {
				t.Errorf("faults %+v; want one crash and restart, no orphan, no executor giving up", r.Faults)
			}
			want := map[string]int{"TASK_FINISHED": 8}
			if !reflect.DeepEqual(r.TaskStates, want) || r.Executors != 8 || r.Launched != 8 {
				t.Errorf("final states %v, %d executors for %d launches; want %v, 8 and 8", r.TaskStates, r.Executors, r.Launched, want)
			}
			for name, want := range map[string]float64{
				"master/slave_registrations": 1, "master/slave_reregistrations": 1, "master/tasks_lost": 0, "master/tasks_finished": 8,
			} {
				if got := r.Metrics[name]; got != want {
					t.Errorf("%s = %v, want %v", name, got, want)
				}
			}
		})
	}
}

// TestProcessCrashLosesOtherTasks: the same crash under a framework that
// does not checkpoint: its executors shut their tasks down when the agent
// goes, and the master tells the framework TASK_LOST for each.
func TestProcessCrashLosesOtherTasks(t *testing.T) {
	r := runSeed(t, oneAgentRestart(false, false), nil)
	want := map[string]int{"TASK_LOST": 8}
	if !reflect.DeepEqual(r.TaskStates, want) || r.Metrics["master/tasks_lost"] != 8 {
		t.Errorf("final states %v, master/tasks_lost %v; want %v", r.TaskStates, r.Metrics["master/tasks_lost"], want)
	}
	if r.Faults.ExecutorGiveUps != 8 {
		t.Errorf("%d executors gave up on the agent, want 8", r.Faults.ExecutorGiveUps)
	}
}

// TestExecutorsGiveUpOnAnAgentDownTooLong: checkpointing executors whose
// agent stays down longer than their recovery timeout kill their tasks
// and exit; the restarted agent finds their containers ended and reports
// every task failed, and nothing is left running.
func TestExecutorsGiveUpOnAnAgentDownTooLong(t *testing.T) {
	cfg := oneAgentRestart(true, false)
	cfg.Faults.ExecutorRecoveryTimeout = 10 * time.Second
	r := runSeed(t, cfg, nil)
	if r.Faults.ExecutorGiveUps != 8 {
		t.Errorf("%d executors gave up on the agent, want 8", r.Faults.ExecutorGiveUps)
	}
	if r.TaskStates["TASK_FINISHED"] != 0 || r.TaskStates["unfinished"] != 0 || r.Launched != 8 {
		t.Errorf("final states %v for %d launches; want every task ended, none finished", r.TaskStates, r.Launched)
	}
	t.Logf("final states %v", r.TaskStates)
}

// TestRestartsReplay: a run with agent process restarts replays exactly.
func TestRestartsReplay(t *testing.T) {
	cfg := restarts(5)
	cfg.Faults.ExecutorStall = 0.3
	r1, err1 := Run(cfg)
	r2, err2 := Run(cfg)
	if fmt.Sprint(err1) != fmt.Sprint(err2) || !reflect.DeepEqual(r1, r2) {
		t.Fatalf("same seed, different runs: %v / %v, trace hashes %x / %x", err1, err2, r1.TraceHash, r2.TraceHash)
	}
	if f := r1.Faults; f.ProcessCrashes == 0 || f.Restarts == 0 {
		t.Errorf("no agent process restarted: %+v", f)
	}
}
