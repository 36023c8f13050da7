package executor

import (
	"testing"
	"time"
)

// The wait between subscription attempts is random and bounded by
// MESOS_SUBSCRIPTION_BACKOFF_MAX, as in Mesos's executor library; a
// maximum below the floor (or none) still waits the floor, never spins.
func TestBackoffStaysWithinTheMaximum(t *testing.T) {
	for _, limit := range []time.Duration{0, time.Millisecond, minBackoff, 50 * time.Millisecond, 2 * time.Second} {
		seen := map[time.Duration]bool{}
		for range 1000 {
			d := backoffWithin(limit)
			if d < minBackoff || d > max(limit, minBackoff) {
				t.Fatalf("backoffWithin(%v) = %v, outside [%v, %v]", limit, d, minBackoff, max(limit, minBackoff))
			}
			seen[d] = true
		}
		if limit > 2*minBackoff && len(seen) < 10 {
			t.Errorf("backoffWithin(%v) took only %d values in 1000 draws", limit, len(seen))
		}
	}
}
