package sim

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/gomesos/gomesos/internal/testutil"
)

// failovers is 20 agents running the tasks of 3 checkpointing frameworks
// (40 tasks each, 30s to 2 minutes long) while the leading master fails
// over: three times at set times and now and then at random. Besides,
// only faults after which no task its agent has may be lost: lost and
// delayed agent messages, broken agent connections, broken framework and
// executor streams, dying executors. The agents have 10 minutes to
// re-register (Mesos's default).
func failovers(seed int64) Config {
	c := Config{
		Seed: seed, Agents: 20, Frameworks: 3, TasksPerFramework: 40,
		FailRatio: 0.1, KillRatio: 0.1, MaxVirtualTime: 5 * time.Minute,
		TaskDurationMin: 30 * time.Second, TaskDurationMax: 2 * time.Minute,
		MasterFailovers: []time.Duration{20 * time.Second, 45 * time.Second, 80 * time.Second},
		Faults: FaultConfig{MasterFailover: 0.01, Drop: 0.01, Delay: 0.05, MaxDelay: 3 * time.Second, AgentDisconnect: 0.02,
			FrameworkDisconnect: 0.02, ExecutorDisconnect: 0.05, ExecutorCrash: 0.01},
	}
	c.Master.AgentReregisterTimeout = 10 * time.Minute
	return c
}

// TestMasterFailoverSeeds sweeps seeds of master failovers. In the
// failovers and registry-write-failures mixes no agent crashes, restarts
// or is cut off for long, and every framework checkpoints, so
// failover-harmless holds them to more: no task its agent had is reported
// lost, no agent that runs is marked unreachable or shut down, and no
// task or framework's executors are killed behind the framework's back. The all-faults mix adds every
// other fault; there the other invariants hold through the failovers.
func TestMasterFailoverSeeds(t *testing.T) {
	seeds := int64(6)
	switch {
	case testing.Short():
		seeds = 2
	case raceEnabled:
		seeds = 2
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

// TestFailoverKeepsRunningTasks: the leading master fails over while two
// agents run the 8 long tasks of a checkpointing framework. The agents
// re-register with the master elected next, with their ids and tasks, the
// framework subscribes again with its id, nothing is launched again,
// lost or killed, and every task finishes.
func TestFailoverKeepsRunningTasks(t *testing.T) {
	cfg := Config{
		Seed: 5, Agents: 2, AgentResources: "cpus:4;mem:8192", Frameworks: 1, TasksPerFramework: 8,
		MaxVirtualTime: 10 * time.Minute, TaskDurationMin: 60 * time.Second, TaskDurationMax: 90 * time.Second,
		MasterFailovers: []time.Duration{20 * time.Second},
	}
	r := runSeed(t, cfg, nil)
	if f := r.Faults; f.MasterFailovers != 1 || f.Elections != 1 {
		t.Errorf("faults %+v; want one failover and one election", f)
	}
	want := map[string]int{"TASK_FINISHED": 8}
	if !r.Completed || !reflect.DeepEqual(r.TaskStates, want) || r.Launched != 8 || r.Executors != 8 {
		t.Errorf("completed %v, final states %v, %d launched, %d executors; want 8 tasks launched once and finished",
			r.Completed, r.TaskStates, r.Launched, r.Executors)
	}
	if r.AgentsRegistered != 2 || r.Registrations != 4 || r.Subscriptions != 2 {
		t.Errorf("%d agents registered, %d registrations, %d subscriptions; want 2, 4 (each agent twice), 2", r.AgentsRegistered, r.Registrations, r.Subscriptions)
	}
	// The metrics are the new master's: it admitted no agent, both came
	// back to it.
	for name, want := range map[string]float64{
		"master/slave_registrations": 0, "master/slave_reregistrations": 2, "master/tasks_lost": 0, "master/tasks_finished": 8,
		"master/slave_removals": 0,
	} {
		if got := r.Metrics[name]; got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

// TestTornDownFrameworkRecoveredAfterFailover: soak seed 1004. A framework
// tears itself down and the master that took the TEARDOWN fails over
// before its SHUTDOWN_FRAMEWORK reaches the agent that still holds the
// framework's finished task, whose end the agent resends. The next master
// recovers the framework from that agent and, as Mesos's master does,
// keeps it (until its failover timeout, a week here): the agents settle
// but for it, and the master's books agree with theirs.
func TestTornDownFrameworkRecoveredAfterFailover(t *testing.T) {
	r := runSeed(t, soakFailoverConfig(1004), nil)
	if r.LeakedFrameworks != 1 {
		t.Errorf("%d frameworks recovered after they tore themselves down, want 1 (sim-0001)", r.LeakedFrameworks)
	}
}

// TestTaskEndsCountedAcrossFailovers: soak seeds whose frameworks saw
// more task ends than the masters, summed over their terms, counted.
//
//   - 1093: a master learnt a task's end from its agent's re-registration
//     and answered the framework's reconciliation with it, but the update
//     the agent resent never reached it: it counts such an end when it
//     learns it.
//   - 1303: a master marked a recovered agent unreachable when it did not
//     come back in time; the agent then returned with finished tasks the
//     master had never known, whose ends it relayed without counting: it
//     books them.
//   - 1551: the master that told a framework TASK_LOST for the tasks of an
//     agent it removed (having counted the ends the agent had reported)
//     crashed; the check counts such a task as the master that reported it
//     recorded it, whichever term that was.
func TestTaskEndsCountedAcrossFailovers(t *testing.T) {
	for _, seed := range []int64{1093, 1303, 1551} {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			runSeed(t, soakFailoverConfig(seed), nil)
		})
	}
}

// TestLostTaskStaysLostAcrossFailovers: soak seeds 1142 and 1276. A master
// reported a task of a framework that does not checkpoint TASK_LOST when
// its agent disconnected; the next master learnt the task's end from the
// agent's re-registration, and when the agent then came back restarted
// without the task, told the framework that end (TASK_FINISHED, TASK_KILLED)
// after the TASK_LOST it had heard. It reports what the agent would:
// TASK_LOST.
func TestLostTaskStaysLostAcrossFailovers(t *testing.T) {
	for _, seed := range []int64{1142, 1276} {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			runSeed(t, soakFailoverConfig(seed), nil)
		})
	}
}

// TestLostTaskBackAfterFailover: soak seed 1593. A master reported a task
// of a framework that does not checkpoint TASK_LOST when its agent
// disconnected, and crashed; the agent, still running the task, re-
// registered with the next master, which keeps it running, as Mesos's
// master kills such tasks on a returning agent "unless the master has
// failed over". The framework's teardown then ends it.
func TestLostTaskBackAfterFailover(t *testing.T) {
	runSeed(t, soakFailoverConfig(1593), nil)
}

// TestFailoverSameSeedSameRun: a seed replays its run exactly, master
// failovers and failed registry writes included.
func TestFailoverSameSeedSameRun(t *testing.T) {
	testutil.CheckGoroutines(t)
	cfg := failovers(3)
	cfg.Agents, cfg.TasksPerFramework = 10, 20
	cfg.Faults.RegistryWriteFailure = 0.2
	cfg.AgentStartSpread = 20 * time.Second
	r1, err1 := Run(cfg)
	r2, err2 := Run(cfg)
	if err1 != nil || err2 != nil {
		t.Fatalf("runs failed:\n%v\n%v", err1, err2)
	}
	if !reflect.DeepEqual(r1, r2) {
		for i := range min(len(r1.Trace), len(r2.Trace)) {
			if r1.Trace[i] != r2.Trace[i] {
				t.Fatalf("same seed, traces differ at line %d:\n%s\n%s", i, r1.Trace[i], r2.Trace[i])
			}
		}
		t.Fatalf("same seed, different reports:\n%+v\n%+v", r1, r2)
	}
	if f := r1.Faults; f.MasterFailovers <= f.RegistryWriteFailures || f.RegistryWriteFailures == 0 {
		t.Errorf("faults %+v; want failovers and failed registry writes", f)
	}
	cfg.Seed = 4
	if r3, _ := Run(cfg); r3.TraceHash == r1.TraceHash {
		t.Errorf("seeds 3 and 4 gave the same trace")
	}
}
