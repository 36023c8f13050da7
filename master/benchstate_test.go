package master_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/gomesos/gomesos/internal/testutil"
	"github.com/gomesos/gomesos/master"
)

// BenchmarkStateUnderLoad reads /master/state of 10,000 agents running
// 100,000 tasks over HTTP with one reader reading back to back, while tasks keep finishing and
// being replaced at 1,000 a second (status updates, acknowledgements,
// offers and accepts flowing through the loop). It reports the readers'
// latencies and what the loop sustained meanwhile:
//
//	go test ./master/ -run '^$' -bench BenchmarkStateUnderLoad -benchtime 1x
func BenchmarkStateUnderLoad(b *testing.B) {
	for b.Loop() {
		res, err := master.BenchState(context.Background(), master.BenchStateOptions{}, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("setup %v; %d reads of %.1f MB: p50 %v p99 %v max %v; alone: %v; with readers: %v",
			res.Setup, res.Reads, float64(res.Bytes)/1e6, res.P50, res.P99, res.Max, res.Alone, res.Loaded)
		b.ReportMetric(float64(res.P50)/1e6, "p50-ms")
		b.ReportMetric(float64(res.P99)/1e6, "p99-ms")
		b.ReportMetric(float64(res.Max)/1e6, "max-ms")
		b.ReportMetric(float64(res.Bytes)/1e6, "MB")
		b.ReportMetric(res.Loaded.UpdatesPerSec, "updates/s")
		b.ReportMetric(float64(res.Loaded.UpdateP99)/1e6, "update-p99-ms")
	}
}

// A small BenchState runs end to end: the state is read while the load
// runs, and the loop keeps taking updates.
func TestBenchStateSmoke(t *testing.T) {
	testutil.CheckGoroutines(t)
	res, err := master.BenchState(context.Background(), master.BenchStateOptions{
		Agents: 50, Tasks: 500, Readers: 2, Duration: 500 * time.Millisecond, UpdateRate: 200,
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.Reads == 0 || res.Bytes < 500*100 || res.Loaded.Updates == 0 || res.Alone.Updates == 0 {
		t.Errorf("BenchState = %+v; want reads of the whole state and updates in both phases", res)
	}
}
