package agent

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// The web UI, served by the master, reads an agent's /state and sandboxes
// from another origin: those endpoints allow any origin, as Mesos's do; the
// executor API does not.
func TestReadEndpointsAllowOtherOrigins(t *testing.T) {
	h := (&Agent{}).Handler()
	for path, want := range map[string]string{
		"/state":                          "*",
		"/slave(1)/state":                 "*",
		"/files/browse?path=/nope":        "*",
		"/files/read?path=/nope&offset=0": "*",
		"/files/download?path=/nope":      "*",
		"/api/v1/executor":                "",
		"/metrics/snapshot":               "",
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if got := rec.Header().Get("Access-Control-Allow-Origin"); got != want {
			t.Errorf("GET %s: Access-Control-Allow-Origin %q, want %q (status %d)", path, got, want, rec.Code)
		}
	}
}
