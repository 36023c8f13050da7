package master

import (
	"errors"
	"net/http"
	"time"

	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/master/allocator"
	"github.com/gomesos/gomesos/master/core"
)

// handleExplain serves GET /master/explain?framework_id=ID: why the
// framework is or is not being offered resources (core.Explanation), read
// on the master's loop. 400 without framework_id, 404 for an unknown
// framework; a follower redirects to the leader.
func (m *Master) handleExplain(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		requestError(w, codec.MethodNotAllowed(r.Method, "GET"))
		return
	}
	id := r.URL.Query().Get("framework_id")
	if id == "" {
		textError(w, http.StatusBadRequest, "Missing 'framework_id' query parameter")
		return
	}
	var ex *core.Explanation
	var known bool
	err := m.doLeading(func() { ex, known = m.core.Explain(id) })
	if errors.Is(err, errNotLeading) {
		m.redirectToLeader(w, r, r.URL.RequestURI())
		return
	} else if err != nil {
		textError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	if !known {
		textError(w, http.StatusNotFound, "Framework '"+id+"' is not known to the master")
		return
	}
	writeJSON(w, r, ex)
}

// Explain passes the explainer of the allocator it times through (see
// allocator.Explainer); an allocator without one explains nothing.
func (t timedAllocator) Explain(frameworkID string, now time.Time) (allocator.Explanation, bool) {
	if e, ok := t.Allocator.(allocator.Explainer); ok {
		return e.Explain(frameworkID, now)
	}
	return allocator.Explanation{}, false
}
