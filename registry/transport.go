package registry

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// raftProtocol is the protocol named by the Upgrade header.
const raftProtocol = "gomesos-raft"

// ErrStreamLayerClosed is returned by Accept and Dial once the layer is
// closed.
var ErrStreamLayerClosed = errors.New("registry: raft stream layer closed")

// StreamLayer carries Raft's connections over the masters' HTTP port: a
// master dials a peer by sending an HTTP request with `Upgrade:
// gomesos-raft` to RaftPath, the peer's ServeHTTP answers 101 Switching
// Protocols and hands the connection to Accept, and from there on the
// connection is Raft's. It implements raft.StreamLayer.
//
// Close makes Accept fail, refuses further connections, and closes every
// connection the layer dialed or accepted, so that peers see this master
// go at once.
type StreamLayer struct {
	addr   layerAddr
	accept chan net.Conn
	done   chan struct{}

	mu     sync.Mutex
	closed bool
	conns  map[*layerConn]struct{}
	// peerGone, when set, runs (on a goroutine of its own) when a
	// connection a peer opened ends other than by this layer closing it.
	peerGone func()
}

var _ raft.StreamLayer = (*StreamLayer)(nil)

// NewStreamLayer returns a stream layer for the master whose HTTP address
// ("host:port", as its peers dial it) is advertise.
func NewStreamLayer(advertise string) *StreamLayer {
	return &StreamLayer{
		addr:   layerAddr(advertise),
		accept: make(chan net.Conn),
		done:   make(chan struct{}),
		conns:  map[*layerConn]struct{}{},
	}
}

// layerAddr is a master's advertised address.
type layerAddr string

func (a layerAddr) Network() string { return "tcp" }
func (a layerAddr) String() string  { return string(a) }

// ServeHTTP upgrades a request to RaftPath to a Raft connection.
func (l *StreamLayer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !headerHasToken(r.Header, "Upgrade", raftProtocol) {
		http.Error(w, fmt.Sprintf("%s takes only connections upgraded to %q (Upgrade: %s)", RaftPath, raftProtocol, raftProtocol), http.StatusBadRequest)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		http.Error(w, "use GET or POST to upgrade", http.StatusMethodNotAllowed)
		return
	}
	select {
	case <-l.done:
		http.Error(w, "this master's raft transport is closed", http.StatusServiceUnavailable)
		return
	default:
	}
	conn, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "cannot upgrade: "+err.Error(), http.StatusInternalServerError)
		return
	}
	// The server's deadlines, if it has any, are for HTTP requests.
	if err := conn.SetDeadline(time.Time{}); err != nil {
		conn.Close()
		return
	}
	if _, err := conn.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: " + raftProtocol + "\r\n\r\n")); err != nil {
		conn.Close()
		return
	}
	c := l.track(conn, brw.Reader)
	if c == nil {
		return
	}
	c.inbound = true
	select {
	case l.accept <- c:
	case <-l.done:
		c.Close()
	}
}

// Accept waits for the next connection a peer upgraded.
func (l *StreamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-l.accept:
		return c, nil
	case <-l.done:
		return nil, ErrStreamLayerClosed
	}
}

// Close closes the layer and every connection it holds. It may be called
// more than once.
func (l *StreamLayer) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.done)
	conns := l.conns
	l.conns = nil
	l.mu.Unlock()
	for c := range conns {
		c.Conn.Close()
	}
	return nil
}

// Addr is the master's advertised address.
func (l *StreamLayer) Addr() net.Addr { return l.addr }

// Dial connects to the master at address and upgrades the connection,
// all within timeout.
func (l *StreamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	select {
	case <-l.done:
		return nil, ErrStreamLayerClosed
	default:
	}
	deadline := time.Now().Add(timeout)
	conn, err := net.DialTimeout("tcp", string(address), timeout)
	if err != nil {
		return nil, fmt.Errorf("registry: dialing raft peer %s: %w", address, err)
	}
	br, err := upgrade(conn, string(address), deadline)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("registry: upgrading the connection to raft peer %s: %w", address, err)
	}
	c := l.track(conn, br)
	if c == nil {
		return nil, ErrStreamLayerClosed
	}
	return c, nil
}

// upgrade sends the upgrade request on conn and reads the answer.
func upgrade(conn net.Conn, host string, deadline time.Time) (*bufio.Reader, error) {
	if err := conn.SetDeadline(deadline); err != nil {
		return nil, err
	}
	req := "GET " + RaftPath + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: Upgrade\r\nUpgrade: " + raftProtocol + "\r\n\r\n"
	if _, err := conn.Write([]byte(req)); err != nil {
		return nil, err
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, &http.Request{Method: http.MethodGet})
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		// The body is short (an error message): read a little of it.
		msg := make([]byte, 256)
		n, _ := resp.Body.Read(msg)
		resp.Body.Close()
		return nil, fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(msg[:n])))
	}
	if !headerHasToken(resp.Header, "Upgrade", raftProtocol) {
		return nil, fmt.Errorf("the peer switched to %q, not %q", resp.Header.Get("Upgrade"), raftProtocol)
	}
	if err := conn.SetDeadline(time.Time{}); err != nil {
		return nil, err
	}
	return br, nil
}

// track wraps conn so that it reads what br buffered first and keeps it
// among the layer's connections; on a closed layer, it closes conn and
// returns nil.
func (l *StreamLayer) track(conn net.Conn, br *bufio.Reader) *layerConn {
	c := &layerConn{Conn: conn, layer: l}
	if br != nil && br.Buffered() > 0 {
		c.br = br
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		conn.Close()
		return nil
	}
	l.conns[c] = struct{}{}
	return c
}

func (l *StreamLayer) forget(c *layerConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.conns, c)
}

// layerConn is a connection of the layer: it reads the bytes buffered
// while upgrading before those still on the wire.
type layerConn struct {
	net.Conn
	layer *StreamLayer

	mu sync.Mutex
	br *bufio.Reader // nil once drained

	inbound bool // a peer opened it
	ended   sync.Once
}

func (c *layerConn) Read(p []byte) (int, error) {
	c.mu.Lock()
	br := c.br
	if br != nil && br.Buffered() == 0 {
		c.br, br = nil, nil
	}
	c.mu.Unlock()
	if br != nil {
		return br.Read(p)
	}
	n, err := c.Conn.Read(p)
	if err != nil && c.inbound {
		c.ended.Do(c.layer.connEnded)
	}
	return n, err
}

// connEnded tells peerGone that a connection a peer opened ended, unless
// the layer is closing.
func (l *StreamLayer) connEnded() {
	l.mu.Lock()
	f := l.peerGone
	if l.closed {
		f = nil
	}
	l.mu.Unlock()
	if f != nil {
		go f()
	}
}

// onPeerGone sets what runs when a connection a peer opened ends.
func (l *StreamLayer) onPeerGone(f func()) {
	l.mu.Lock()
	l.peerGone = f
	l.mu.Unlock()
}

func (c *layerConn) Close() error {
	c.layer.forget(c)
	return c.Conn.Close()
}

// headerHasToken reports whether h's comma-separated header name holds
// token, case-insensitively.
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for t := range strings.SplitSeq(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}
