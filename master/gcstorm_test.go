package master

import (
	"log/slog"
	"runtime/debug"
	"testing"
	"time"
)

// While recovered agents re-register, GOGC is raised to the configured
// least value and put back afterwards; a higher GOGC, or a collector
// turned off, is left as it is.
func TestGCStormRaisesAndRestoresGOGC(t *testing.T) {
	orig := debug.SetGCPercent(100)
	defer debug.SetGCPercent(orig)
	log := slog.New(slog.DiscardHandler)
	now := time.Now()

	var g gcStorm
	g.raise(400, now, log, 10)
	if got := debug.SetGCPercent(400); got != 400 || !g.raised {
		t.Fatalf("after raise: GOGC %d, raised %v; want 400, true", got, g.raised)
	}
	g.raise(800, now, log, 10) // raised already: unchanged
	if got := debug.SetGCPercent(400); got != 400 {
		t.Fatalf("a second raise changed GOGC to %d", got)
	}
	g.restore()
	if got := debug.SetGCPercent(100); got != 100 || g.raised {
		t.Fatalf("after restore: GOGC %d, raised %v; want 100, false", got, g.raised)
	}

	for _, keep := range []int{500, -1} {
		debug.SetGCPercent(keep)
		var g gcStorm
		g.raise(400, now, log, 10)
		if got := debug.SetGCPercent(keep); got != keep || g.raised {
			t.Fatalf("GOGC %d: raise made it %d (raised %v); want it left alone", keep, got, g.raised)
		}
	}
	debug.SetGCPercent(100)
	var off gcStorm
	off.raise(0, now, log, 10)
	if got := debug.SetGCPercent(100); got != 100 || off.raised {
		t.Fatalf("percent 0: GOGC %d, raised %v; want 100 left alone", got, off.raised)
	}
}
