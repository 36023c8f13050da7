package master_test

import (
	"net/http"
	"strings"
	"testing"
)

// The master serves the web UI at "/" and its modules under /static/, while
// its catch-all "/" leaves unknown paths 404 and its endpoints theirs.
func TestMasterServesTheWebUI(t *testing.T) {
	m := startMaster(t)
	status, h, body := m.do(http.MethodGet, "/", nil, nil)
	if status != http.StatusOK || !strings.HasPrefix(h.Get("Content-Type"), "text/html") || !strings.Contains(body, "/static/js/app.js") {
		t.Fatalf("GET / = %d %q:\n%s", status, h.Get("Content-Type"), body)
	}
	if status, h, _ := m.do(http.MethodGet, "/static/js/app.js", nil, nil); status != http.StatusOK || h.Get("Content-Type") != "text/javascript; charset=utf-8" {
		t.Errorf("GET /static/js/app.js = %d %q", status, h.Get("Content-Type"))
	}
	for _, path := range []string{"/nope", "/master/nope", "/static/nope.js"} {
		if status, _, _ := m.do(http.MethodGet, path, nil, nil); status != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", path, status)
		}
	}
	if status, h, _ := m.do(http.MethodGet, "/master/state", nil, nil); status != http.StatusOK || h.Get("Content-Type") != "application/json" {
		t.Errorf("GET /master/state = %d %q", status, h.Get("Content-Type"))
	}
}
