package agent

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// The agent serves the executor API on a unix socket in its runtime
// directory too, as Mesos does with --http_executor_domain_sockets
// (<runtime_dir>/agent.sock, given to executors as MESOS_DOMAIN_SOCKET).
// Here the built-in command executors of the executor host use it, all of
// them over one connection in HTTP/2 without TLS, one stream each for
// their event streams and calls: a thousand executors then hold one socket
// in the host instead of a thousand or more, every fork of a task copies
// and closes that many descriptors fewer, and their messages skip the
// TCP/IP stack and connection tracking of the loopback.
const executorSocketName = "agent.sock"

// maxSocketPath is the longest path a unix socket address holds.
const maxSocketPath = 107

// maxExecutorStreams bounds the HTTP/2 streams one connection on the
// socket may have open: an executor host's executors share one, each with
// a long-lived event stream.
const maxExecutorStreams = 1 << 16

// listenExecutorSocket listens on the runtime directory's agent.sock,
// replacing a socket an earlier agent left. It returns "" when the path is
// too long for a socket address or listening fails: executors then reach
// the agent over TCP only.
func listenExecutorSocket(runtimeDir string, log *slog.Logger) (net.Listener, string) {
	path := filepath.Join(runtimeDir, executorSocketName)
	if len(path) > maxSocketPath {
		log.Debug("the runtime directory's path is too long for a unix socket; executors use TCP", "path", path)
		return nil, ""
	}
	if err := os.MkdirAll(runtimeDir, 0o755); err != nil {
		log.Warn("cannot create the runtime directory for the executor socket", "err", err)
		return nil, ""
	}
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&os.ModeSocket != 0 {
		_ = os.Remove(path) // an earlier agent's
	}
	// Only the agent's user (whose executor host runs the executors that
	// use it) may connect.
	old := syscall.Umask(0o077)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		log.Warn("cannot listen on the executor socket; executors use TCP", "path", path, "err", err)
		return nil, ""
	}
	ln.(*net.UnixListener).SetUnlinkOnClose(true)
	return ln, path
}

// executorSocketServer serves the executor API, and only it, on the unix
// socket, in HTTP/1.1 and in HTTP/2 without TLS.
func (a *Agent) executorSocketServer() *http.Server {
	api := a.Handler()
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/api/v1/executor" {
				httpError(w, http.StatusNotFound, fmt.Sprintf("The agent's socket serves only /api/v1/executor, not %q", r.URL.Path))
				return
			}
			api.ServeHTTP(w, r)
		}),
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: maxExecutorStreams},
	}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	return srv
}
