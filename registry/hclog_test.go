package registry

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
)

// Raft's output reaches slog one level down, with its logger's name and
// its arguments.
func TestHCLoggerBridgesToSlog(t *testing.T) {
	var buf bytes.Buffer
	h := newHCLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	l := h.Named("raft").Named("transport").With("peer", "m2:5050")
	l.Info("entering leader state", "term", 3)
	l.Warn("heartbeat timeout reached")
	l.Error("failed to contact", "error", "refused")
	l.Trace("sent append entries")
	out := buf.String()
	for _, want := range []string{
		`level=DEBUG msg="entering leader state" peer=m2:5050 raft_logger=raft.transport term=3`,
		`level=INFO msg="heartbeat timeout reached"`,
		`level=WARN msg="failed to contact" peer=m2:5050 raft_logger=raft.transport error=refused`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	if strings.Contains(out, "sent append entries") {
		t.Errorf("trace output at debug level:\n%s", out)
	}
	if !l.IsInfo() || l.IsTrace() || l.GetLevel() != hclog.Info {
		t.Errorf("levels: info %v, trace %v, level %v", l.IsInfo(), l.IsTrace(), l.GetLevel())
	}
}
