package sim

import (
	"flag"
	"fmt"
	"strings"
	"testing"
)

var onlySeed = flag.Int64("sim.seed", 0, "run only this seed in the seed sweeps (TestFaultSeeds, TestAgentRestartSeeds) and in TestSoak")

// seedList is the seeds 1..n of a sweep, or only -sim.seed when given.
func seedList(n int64) []int64 {
	if *onlySeed != 0 {
		return []int64{*onlySeed}
	}
	seeds := make([]int64, 0, n)
	for s := int64(1); s <= n; s++ {
		seeds = append(seeds, s)
	}
	return seeds
}

// replayCommand is the command that runs the failing seed's test again,
// alone: the test's path without its seed=N level, and -sim.seed.
func replayCommand(t *testing.T, seed int64) string {
	var parts []string
	for _, p := range strings.Split(t.Name(), "/") {
		if strings.HasPrefix(p, "seed=") {
			continue
		}
		parts = append(parts, "^"+p+"$")
	}
	race := ""
	if raceEnabled {
		race = " -race"
	}
	return fmt.Sprintf("go test ./internal/sim -count=1%s -v -run '%s' -sim.seed=%d", race, strings.Join(parts, "/"), seed)
}

// TestReplayCommand: the command a failing seed prints runs that seed's
// test alone.
func TestReplayCommand(t *testing.T) {
	t.Run("mix", func(t *testing.T) {
		t.Run("seed=17", func(t *testing.T) {
			got := replayCommand(t, 17)
			want := "-run '^TestReplayCommand$/^mix$' -sim.seed=17"
			if !strings.HasPrefix(got, "go test ./internal/sim -count=1") || !strings.HasSuffix(got, want) {
				t.Errorf("replayCommand = %q, want go test ./internal/sim -count=1 ... %s", got, want)
			}
		})
	})
	if got := seedList(3); *onlySeed == 0 && len(got) != 3 {
		t.Errorf("seedList(3) = %v", got)
	}
}
