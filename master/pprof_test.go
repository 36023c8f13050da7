package master_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gomesos/gomesos/master"
)

// --pprof serves Go's profiles under /debug/pprof/; without it they are
// not found.
func TestPprofOnlyWithTheFlag(t *testing.T) {
	off := startMaster(t)
	for _, p := range []string{"/debug/pprof/", "/debug/pprof/heap", "/debug/pprof/goroutine?debug=1"} {
		if code, _, body := off.do(http.MethodGet, p, nil, nil); code != http.StatusNotFound {
			t.Errorf("without --pprof, GET %s: %d %.100q, want 404", p, code, body)
		}
	}
	on := startMaster(t, func(c *master.Config) { c.Pprof = true })
	if code, _, body := on.do(http.MethodGet, "/debug/pprof/", nil, nil); code != http.StatusOK || !strings.Contains(body, "goroutine") {
		t.Errorf("with --pprof, GET /debug/pprof/: %d %.200q", code, body)
	}
	if code, _, body := on.do(http.MethodGet, "/debug/pprof/goroutine?debug=1", nil, nil); code != http.StatusOK || !strings.Contains(body, "goroutine profile:") {
		t.Errorf("with --pprof, GET /debug/pprof/goroutine?debug=1: %d %.200q", code, body)
	}
	if code, _, body := on.do(http.MethodGet, "/debug/pprof/heap", nil, nil); code != http.StatusOK || len(body) == 0 {
		t.Errorf("with --pprof, GET /debug/pprof/heap: %d, %d bytes", code, len(body))
	}
	// The rest of the API is unchanged.
	if code, _, _ := on.do(http.MethodGet, "/health", nil, nil); code != http.StatusOK {
		t.Errorf("with --pprof, GET /health: %d", code)
	}
}
