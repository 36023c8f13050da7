package agent

import (
	"bufio"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/gomesos/gomesos/internal/execframes"
)

// The agent serves the executor API on a unix socket in its runtime
// directory too, as Mesos does with --http_executor_domain_sockets
// (<runtime_dir>/agent.sock, given to executors as MESOS_DOMAIN_SOCKET).
// Here the built-in command executors of the executor host use it, all of
// them over one connection of frames (package internal/execframes: the
// same HTTP requests and responses, without HTTP/2's cost), one stream
// each for their event streams and calls; hosts of an earlier version use
// HTTP/2 without TLS, and other executors HTTP/1.1. A thousand executors
// then hold one socket in the host instead of a thousand or more, and
// their messages skip the TCP/IP stack and connection tracking of the
// loopback.
const executorSocketName = "agent.sock"

// maxSocketPath is the longest path a unix socket address holds.
const maxSocketPath = 107

// maxExecutorStreams bounds the HTTP/2 streams one connection on the
// socket may have open; the executors of a host (of an earlier version,
// which speaks HTTP/2 there) open another connection when theirs are full.
// Each executor keeps a long-lived event stream, and Go's HTTP/2 server
// looks through every open stream of a connection for the next frame to
// write (its round-robin write scheduler keeps the idle ones in its ring
// too): with a thousand executors on one connection that scan was about 5%
// of the agent's CPU in a launch of a thousand tasks.
const maxExecutorStreams = 64

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

// executorSocketHandler serves the executor API, and only it.
func (a *Agent) executorSocketHandler() http.Handler {
	api := a.Handler()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/executor" {
			httpError(w, http.StatusNotFound, fmt.Sprintf("The agent's socket serves only /api/v1/executor, not %q", r.URL.Path))
			return
		}
		api.ServeHTTP(w, r)
	})
}

// serveExecutorSocket accepts the socket's connections until it is
// closed: those that open with execframes.Preface are served as frames
// (until ctx ends), the others by srv, in HTTP/1.1 or HTTP/2.
func (a *Agent) serveExecutorSocket(ctx context.Context, ln net.Listener, srv *http.Server) {
	h := a.executorSocketHandler()
	hl := &handedListener{Listener: ln, conns: make(chan net.Conn), closed: make(chan struct{})}
	go func() { _ = srv.Serve(hl) }()
	for {
		c, err := ln.Accept()
		if err != nil {
			hl.Close()
			return
		}
		go func() {
			r := bufio.NewReader(c)
			c.SetReadDeadline(time.Now().Add(30 * time.Second))
			first, err := r.Peek(1)
			c.SetReadDeadline(time.Time{})
			if err != nil {
				c.Close()
				return
			}
			if execframes.IsPreface(first) {
				if err := execframes.Serve(ctx, c, r, h, a.log); err != nil {
					a.log.Debug("an executor connection of frames ended", "err", err)
				}
				return
			}
			if !hl.hand(&peekedConn{Conn: c, r: r}) {
				c.Close()
			}
		}()
	}
}

// handedListener is the listener of the socket's HTTP server: it accepts
// the connections handed to it.
type handedListener struct {
	net.Listener
	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

func (l *handedListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

// hand gives the server a connection; false once it is closed.
func (l *handedListener) hand(c net.Conn) bool {
	select {
	case l.conns <- c:
		return true
	case <-l.closed:
		return false
	}
}

// Close closes the socket too.
func (l *handedListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return l.Listener.Close()
}

// peekedConn reads what was peeked first.
type peekedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *peekedConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// executorSocketServer is the socket's HTTP server: the executor API, and
// only it, in HTTP/1.1 and in HTTP/2 without TLS.
func (a *Agent) executorSocketServer() *http.Server {
	srv := &http.Server{
		Handler:           a.executorSocketHandler(),
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelDebug),
		HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: maxExecutorStreams},
	}
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)
	srv.Protocols.SetUnencryptedHTTP2(true)
	return srv
}
