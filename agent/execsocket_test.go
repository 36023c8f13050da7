package agent

import (
	"context"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomesos/gomesos/internal/execframes"
)

// The agent's socket answers the executor API in frames (the executor
// host's executors), in HTTP/2 without TLS (hosts of an earlier version)
// and in HTTP/1.1 (other executors), with the same answers.
func TestExecutorSocketSpeaksFramesHTTP2AndHTTP1(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	a := startAgent(t, fm, nil)
	defer a.stop(t)
	a.registered(t)
	sock := filepath.Join(a.cfg.RuntimeDir, executorSocketName)
	if len(sock) > maxSocketPath {
		t.Skipf("the test's runtime directory is too long for a socket: %s", sock)
	}
	dial := func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", sock)
	}
	h2 := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) }}
	h2.Protocols = new(http.Protocols)
	h2.Protocols.SetUnencryptedHTTP2(true)
	h1 := &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) }}
	frames := &execframes.Transport{Dial: dial}
	for _, tc := range []struct {
		name  string
		tr    http.RoundTripper
		proto string
	}{
		{"frames", frames, "HTTP/1.1"},
		{"h2c", h2, "HTTP/2.0"},
		{"http1", h1, "HTTP/1.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer tc.tr.(interface{ CloseIdleConnections() }).CloseIdleConnections()
			hc := &http.Client{Transport: tc.tr}
			// A call that is not JSON: the executor API's 400.
			resp, err := hc.Post("http://agent/api/v1/executor", "application/json", strings.NewReader("{not json"))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "Failed to parse") || resp.Proto != tc.proto {
				t.Fatalf("bad call: %s %d %q", resp.Proto, resp.StatusCode, body)
			}
			// Only the executor API is served there.
			resp, err = hc.Get("http://agent/state")
			if err != nil {
				t.Fatal(err)
			}
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "serves only /api/v1/executor") {
				t.Fatalf("other path: %d %q", resp.StatusCode, body)
			}
		})
	}
}
