package scheduler

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
)

// ErrNotSubscribed is returned by Call when the client has no live
// subscription (before the first SUBSCRIBED event, while reconnecting, or after
// Run returned). The master would answer such a call with 403.
var ErrNotSubscribed = errors.New("scheduler: framework is not subscribed")

// errHeartbeatTimeout ends a session whose stream stayed silent for the
// configured number of heartbeat intervals.
var errHeartbeatTimeout = errors.New("scheduler: no event from the master within the heartbeat timeout")

// errTornDown ends a session after a successful TEARDOWN.
var errTornDown = errors.New("scheduler: framework torn down")

// HTTPError is a master's answer other than the expected status: a rejected
// SUBSCRIBE, or a call not answered with 202 Accepted (or 200 OK). Body holds
// the master's explanation, e.g. "Framework cannot be found".
type HTTPError struct {
	Call       schedpb.Call_Type // the call that was rejected
	URL        string            // where it was sent
	StatusCode int               // e.g. http.StatusBadRequest
	Body       string            // response body, trimmed
}

func (e *HTTPError) Error() string {
	msg := fmt.Sprintf("scheduler: %s to %s: %d %s", e.Call, e.URL, e.StatusCode, http.StatusText(e.StatusCode))
	if e.Body != "" {
		msg += ": " + e.Body
	}
	return msg
}

// permanent reports whether retrying the same request cannot help: the master
// understood the request and refused it (4xx).
func (e *HTTPError) permanent() bool { return e.StatusCode >= 400 && e.StatusCode < 500 }

// MasterError is the ERROR event that ended a subscription, for example
// "Framework has been removed" or "Framework failed over". The master closes
// the stream after it, and re-subscribing would not help, so Run returns it.
type MasterError struct {
	Message string
}

func (e *MasterError) Error() string { return "scheduler: master sent ERROR: " + e.Message }

func trimBody(b []byte) string {
	return strings.TrimSpace(string(b))
}
