package sim

import (
	"fmt"
	"testing"
)

// The operator changes quotas while the leading master fails over and its
// registry commits fail: after every change and every election, the
// master's quotas and its allocator's are the registry's (quota-durable),
// and the workload still completes (the quotas are on roles no framework
// uses, the guarantees small).
func TestQuotaSurvivesFailoversAndFailedCommits(t *testing.T) {
	seeds := int64(4)
	if testing.Short() || raceEnabled {
		seeds = 2
	}
	updates, crashes := 0, 0
	for _, seed := range seedList(seeds) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			c := failovers(seed)
			c.Faults.RegistryWriteFailure = 0.05
			c.QuotaUpdates = 0.5
			r := runSeed(t, c, nil)
			if r.TaskStates["unfinished"] > 0 {
				t.Errorf("tasks never ended: %v", r.TaskStates)
			}
			updates += r.QuotaUpdates
			crashes += r.Faults.MasterFailovers
			t.Logf("%d quota updates, faults %+v", r.QuotaUpdates, r.Faults)
		})
	}
	if *onlySeed == 0 && (updates == 0 || crashes == 0) {
		t.Errorf("%d quota updates and %d failovers in %d seeds: the test tested nothing", updates, crashes, seeds)
	}
}
