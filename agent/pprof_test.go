package agent

import (
	"net/http"
	"strings"
	"testing"
)

// --pprof serves Go's profiles under /debug/pprof/, at the root as Go's
// tools expect; without it they are not found.
func TestPprofOnlyWithTheFlag(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	off := startAgent(t, fm, nil)
	off.registered(t)
	for _, p := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/goroutine?debug=1"} {
		if code, body := getBody(t, off, p); code != http.StatusNotFound {
			t.Errorf("without --pprof, GET %s: %d %.100q, want 404", p, code, body)
		}
	}
	fm2 := newFakeMaster(t)
	on := startAgent(t, fm2, func(c *Config) { c.Pprof = true })
	on.registered(t)
	if code, body := getBody(t, on, "/debug/pprof/"); code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("with --pprof, GET /debug/pprof/: %d %.200q", code, body)
	}
	if code, body := getBody(t, on, "/debug/pprof/goroutine?debug=1"); code != http.StatusOK || !strings.Contains(body, "goroutine profile:") {
		t.Errorf("with --pprof, GET /debug/pprof/goroutine?debug=1: %d %.200q", code, body)
	}
	if code, _ := getBody(t, on, "/health"); code != http.StatusOK {
		t.Errorf("with --pprof, GET /health: %d", code)
	}
}
