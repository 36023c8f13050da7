package agent

import (
	"context"
	"maps"
	"net/http"
	"slices"

	"github.com/gomesos/gomesos/agent/core"
	"github.com/gomesos/gomesos/internal/debugpprof"
	"github.com/gomesos/gomesos/internal/prom"
	"github.com/gomesos/gomesos/resources"
)

// Handler serves the agent's HTTP API: the executor API and the read-only
// endpoints, each also under the /slave(1) prefix as on Mesos. It answers
// only while Run runs.
func (a *Agent) Handler() http.Handler {
	if a.prom == nil { // an Agent not made by New
		return http.HandlerFunc(a.route)
	}
	return a.prom.http.Wrap(http.HandlerFunc(a.route), endpointLabel)
}

func (a *Agent) route(w http.ResponseWriter, r *http.Request) {
	p := routePath(r)
	if a.cfg.Pprof && debugpprof.Match(r.URL.Path) {
		debugpprof.Handler().ServeHTTP(w, r)
		return
	}
	switch p {
	case "/state", "/state.json", "/files/browse", "/files/browse.json", "/files/read", "/files/read.json", "/files/download", "/files/download.json":
		// The master serves the web UI; the UI reads sandboxes here,
		// from another origin, as Mesos's UI reads its agents.
		w.Header().Set("Access-Control-Allow-Origin", "*")
	}
	switch p {
	case "/api/v1", "/api/v1/executor", "/state", "/state.json", "/metrics", "/metrics/snapshot", "/monitor/statistics", "/monitor/statistics.json":
		if !a.ran.Load() {
			httpError(w, http.StatusServiceUnavailable, "Agent is not running")
			return
		}
	}
	switch p {
	case "/api/v1/executor":
		a.serveExecutorAPI(w, r)
	case "/api/v1":
		a.serveOperatorAPI(w, r)
	case "/state", "/state.json":
		a.serveState(w, r)
	case "/flags":
		writeJSON(w, r, map[string]any{"flags": a.flags})
	case "/health":
		w.WriteHeader(http.StatusOK)
	case "/version":
		a.serveVersion(w, r)
	case "/metrics/snapshot":
		a.serveMetrics(w, r)
	case "/metrics":
		a.servePrometheus(w, r)
	case "/monitor/statistics", "/monitor/statistics.json":
		a.serveStatistics(w, r)
	case "/files/browse", "/files/browse.json":
		a.files.browse(w, r)
	case "/files/read", "/files/read.json":
		a.files.read(w, r)
	case "/files/download", "/files/download.json":
		a.files.download(w, r)
	default:
		http.NotFound(w, r)
	}
}

// snapshot is the latest state the loop published that covers every
// change made before the request (see publisher).
func (a *Agent) snapshot(r *http.Request) (*core.Snapshot, bool) {
	return a.pub.latest(r.Context(), a.stopped)
}

func (a *Agent) serveState(w http.ResponseWriter, r *http.Request) {
	s, ok := a.snapshot(r)
	if !ok {
		httpError(w, http.StatusServiceUnavailable, "Agent is shutting down")
		return
	}
	writeJSON(w, r, s.State)
}

func (a *Agent) serveVersion(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, r, a.build.VersionDocument())
}

// serveMetrics is /metrics/snapshot: the agent's slave/* metrics and the
// machine's system/* ones, as one flat object in key order. ?timeout=
// bounds the wait for a snapshot covering every change made before the
// request; after it the last published one answers, so no figure is left
// out.
func (a *Agent) serveMetrics(w http.ResponseWriter, r *http.Request) {
	timeout, msg, ok := prom.Timeout(r)
	if !ok {
		httpError(w, http.StatusBadRequest, msg)
		return
	}
	ctx := r.Context()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	s, ok := a.pub.latest(ctx, a.stopped)
	if !ok && r.Context().Err() == nil {
		if cur := a.pub.current.Load(); cur != nil && ctx.Err() != nil {
			s, ok = cur.snapshot, true
		}
	}
	if !ok {
		httpError(w, http.StatusServiceUnavailable, "Agent is shutting down")
		return
	}
	m := a.figures(s)
	obj := make(resources.LegacyObject, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		obj = append(obj, resources.LegacyField{Key: k, Number: m[k]})
	}
	writeJSON(w, r, obj)
}
