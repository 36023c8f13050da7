package execframes

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// handshakeTimeout bounds the wait for the server's preface.
const handshakeTimeout = 10 * time.Second

// ErrNotSpoken is wrapped by the error of a dial whose server does not
// answer the preface with its own: an agent that does not speak frames.
var ErrNotSpoken = errors.New("execframes: the server does not speak executor frames")

// errIDsUsedUp retires a connection that gave its last stream ID.
var errIDsUsedUp = errors.New("execframes: the connection's stream IDs are used up")

// errConnLost ends the streams of a connection that broke.
var errConnLost = errors.New("execframes: connection to the agent lost")

// Transport is an http.RoundTripper that sends every request over one
// connection of frames, dialed when first needed and again after it
// broke. The URL's scheme and host are not used: Dial decides where the
// requests go. When the server does not speak frames, requests go to
// Fallback (when set) from then on.
type Transport struct {
	// Dial opens a connection to the server.
	Dial func(ctx context.Context) (net.Conn, error)
	// Fallback takes the requests when the server does not speak frames;
	// nil fails them.
	Fallback http.RoundTripper

	mu       sync.Mutex
	cc       *clientConn
	fallback bool
}

// RoundTrip sends req and returns its response once its head came; its
// body is read as the server flushes it, until the end or req's context
// is done.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("execframes: reading the request's body: %w", err)
		}
		body = b
	}
	ctx := req.Context()
	target := req.URL.RequestURI()
	h := req.Header.Clone()
	if h == nil {
		h = make(http.Header)
	}
	if req.Host != "" {
		h.Set("Host", req.Host)
	}
	var st *stream
	for {
		cc, fallback, err := t.conn(ctx)
		if err != nil {
			return nil, err
		}
		if fallback {
			return t.Fallback.RoundTrip(withBody(req, body))
		}
		st, err = cc.send(req.Method, target, h, body)
		if errors.Is(err, errIDsUsedUp) {
			continue // another request took the last one: a new connection
		}
		if err != nil {
			return nil, err
		}
		break
	}
	stop := context.AfterFunc(ctx, func() { st.abandon(ctx.Err()) })
	st.stop = stop
	select {
	case <-st.headed:
	case <-st.done:
	}
	st.mu.Lock()
	code, header, serr := st.code, st.header, st.err
	st.mu.Unlock()
	if code == 0 {
		st.Close()
		if serr == nil {
			serr = errors.New("execframes: the response ended before its head")
		}
		return nil, serr
	}
	return &http.Response{
		Status:        strconv.Itoa(code) + " " + http.StatusText(code),
		StatusCode:    code,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        header,
		Body:          st,
		ContentLength: -1,
		Request:       req,
	}, nil
}

// withBody gives req its body back, read already.
func withBody(req *http.Request, body []byte) *http.Request {
	r := req.Clone(req.Context())
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return r
}

// CloseIdleConnections closes the connection (http.Client calls it).
func (t *Transport) CloseIdleConnections() {
	t.mu.Lock()
	cc := t.cc
	t.cc = nil
	t.mu.Unlock()
	if cc != nil {
		cc.fail(errConnLost)
	}
	if t.Fallback != nil {
		if c, ok := t.Fallback.(interface{ CloseIdleConnections() }); ok {
			c.CloseIdleConnections()
		}
	}
}

// conn returns the live connection, dialing one when there is none.
func (t *Transport) conn(ctx context.Context) (*clientConn, bool, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.fallback {
		return nil, true, nil
	}
	if t.cc != nil && t.cc.open() {
		return t.cc, false, nil
	}
	c, err := t.Dial(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("execframes: dial: %w", err)
	}
	cc, err := handshake(c)
	if err != nil {
		c.Close()
		if errors.Is(err, ErrNotSpoken) && t.Fallback != nil {
			t.fallback = true
			return nil, true, nil
		}
		return nil, false, err
	}
	t.cc = cc
	go cc.readLoop()
	return cc, false, nil
}

// handshake sends the preface and waits for the server's.
func handshake(c net.Conn) (*clientConn, error) {
	c.SetDeadline(time.Now().Add(handshakeTimeout))
	if _, err := c.Write([]byte(Preface)); err != nil {
		return nil, fmt.Errorf("execframes: sending the preface: %w", err)
	}
	r := bufio.NewReader(c)
	got := make([]byte, len(Preface))
	if _, err := io.ReadFull(r, got); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w: it closed the connection", ErrNotSpoken)
		}
		return nil, fmt.Errorf("execframes: reading the preface: %w", err)
	}
	if string(got) != Preface {
		return nil, fmt.Errorf("%w: it answered %q", ErrNotSpoken, got)
	}
	c.SetDeadline(time.Time{})
	return &clientConn{c: c, r: r, streams: make(map[uint32]*stream), next: 1}, nil
}

// clientConn is one connection's state.
type clientConn struct {
	c   net.Conn
	r   *bufio.Reader
	wmu sync.Mutex

	mu      sync.Mutex
	streams map[uint32]*stream
	next    uint32
	err     error // set once the connection broke
}

// open reports whether the connection takes new streams: it is not broken
// and has stream IDs left.
func (cc *clientConn) open() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.err == nil && cc.next <= lastStreamID
}

// lastStreamID is the last stream ID a connection gives; the next request
// then goes on a new connection, and this one is closed once its last
// stream has ended.
var lastStreamID uint32 = 1<<31 - 1

// send opens a stream with a request.
func (cc *clientConn) send(method, target string, h http.Header, body []byte) (*stream, error) {
	cc.mu.Lock()
	if cc.err != nil {
		err := cc.err
		cc.mu.Unlock()
		return nil, err
	}
	if cc.next > lastStreamID {
		cc.mu.Unlock()
		return nil, errIDsUsedUp
	}
	id := cc.next
	cc.next += 2
	st := &stream{cc: cc, id: id, headed: make(chan struct{}), done: make(chan struct{}), wake: make(chan struct{}, 1)}
	cc.streams[id] = st
	cc.mu.Unlock()
	if err := cc.write(appendFrame(nil, id, frameRequest, encodeRequest(method, target, h, body))); err != nil {
		return nil, err
	}
	return st, nil
}

// write writes whole frames; a failed write breaks the connection.
func (cc *clientConn) write(b []byte) error {
	cc.wmu.Lock()
	defer cc.wmu.Unlock()
	cc.c.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := cc.c.Write(b); err != nil {
		err = fmt.Errorf("%w: %w", errConnLost, err)
		cc.fail(err)
		return err
	}
	return nil
}

// readLoop hands the server's frames to their streams until the
// connection breaks.
func (cc *clientConn) readLoop() {
	for {
		id, typ, payload, err := readFrame(cc.r)
		if err != nil {
			cc.fail(fmt.Errorf("%w: %w", errConnLost, err))
			return
		}
		cc.mu.Lock()
		st := cc.streams[id]
		if typ == frameEnd {
			delete(cc.streams, id)
		}
		retired := cc.next > lastStreamID && len(cc.streams) == 0
		cc.mu.Unlock()
		if retired {
			if st != nil {
				st.finish(nil)
			}
			cc.fail(errIDsUsedUp)
			return
		}
		if st == nil {
			continue // given up by the client
		}
		switch typ {
		case frameHead:
			code, h, err := decodeHead(payload)
			if err != nil {
				cc.fail(err)
				return
			}
			st.head(code, h)
		case frameData:
			st.push(payload)
		case frameEnd:
			st.finish(nil)
		default:
			cc.fail(fmt.Errorf("execframes: unexpected frame type %d from the server", typ))
			return
		}
	}
}

// fail breaks the connection and ends its streams with err.
func (cc *clientConn) fail(err error) {
	cc.mu.Lock()
	if cc.err != nil {
		cc.mu.Unlock()
		return
	}
	cc.err = err
	streams := cc.streams
	cc.streams = nil
	cc.mu.Unlock()
	cc.c.Close()
	for _, st := range streams {
		st.finish(err)
	}
}

// cancel tells the server a stream is given up.
func (cc *clientConn) cancel(id uint32) {
	cc.mu.Lock()
	_, open := cc.streams[id]
	delete(cc.streams, id)
	retired := cc.next > lastStreamID && len(cc.streams) == 0
	cc.mu.Unlock()
	if open {
		cc.write(appendFrame(nil, id, frameCancel, nil))
	}
	if retired {
		cc.fail(errIDsUsedUp)
	}
}

// stream is one request's response, and its body (io.ReadCloser).
type stream struct {
	cc     *clientConn
	id     uint32
	headed chan struct{} // closed when the head came
	done   chan struct{} // closed at the end, whatever it was
	wake   chan struct{} // a new piece of the body or the end
	stop   func() bool   // stops the watch of the request's context

	mu      sync.Mutex
	code    int
	header  http.Header
	pieces  [][]byte
	ended   bool
	err     error // the end's error; nil for a complete body
	closed  bool
	gotHead bool
}

func (st *stream) head(code int, h http.Header) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.gotHead || st.ended {
		return
	}
	st.gotHead = true
	st.code, st.header = code, h
	close(st.headed)
}

func (st *stream) push(p []byte) {
	st.mu.Lock()
	if st.ended {
		st.mu.Unlock()
		return
	}
	st.pieces = append(st.pieces, p)
	st.mu.Unlock()
	st.signal()
}

func (st *stream) finish(err error) {
	st.mu.Lock()
	if st.ended {
		st.mu.Unlock()
		return
	}
	st.ended, st.err = true, err
	close(st.done)
	st.mu.Unlock()
	st.signal()
}

func (st *stream) signal() {
	select {
	case st.wake <- struct{}{}:
	default:
	}
}

// abandon ends the stream from the client's side: its request's context
// is done.
func (st *stream) abandon(err error) {
	st.finish(err)
	st.cc.cancel(st.id)
}

// Read reads the body as it comes.
func (st *stream) Read(p []byte) (int, error) {
	for {
		st.mu.Lock()
		if st.closed {
			st.mu.Unlock()
			return 0, errors.New("execframes: read on a closed body")
		}
		if len(st.pieces) > 0 {
			n := copy(p, st.pieces[0])
			if n == len(st.pieces[0]) {
				st.pieces[0] = nil
				st.pieces = st.pieces[1:]
			} else {
				st.pieces[0] = st.pieces[0][n:]
			}
			st.mu.Unlock()
			return n, nil
		}
		if st.ended {
			err := st.err
			st.mu.Unlock()
			if err == nil {
				err = io.EOF
			}
			return 0, err
		}
		st.mu.Unlock()
		<-st.wake
	}
}

// Close gives the body up; the server is told when it has not ended.
func (st *stream) Close() error {
	st.mu.Lock()
	already := st.closed
	st.closed = true
	ended := st.ended
	st.pieces = nil
	st.mu.Unlock()
	if already {
		return nil
	}
	if st.stop != nil {
		st.stop()
	}
	if !ended {
		st.finish(context.Canceled)
		st.cc.cancel(st.id)
	}
	return nil
}
