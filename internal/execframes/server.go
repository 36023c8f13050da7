package execframes

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// writeTimeout bounds one write to a connection; a peer that reads nothing
// for that long loses it.
const writeTimeout = 30 * time.Second

// flushSize is how much a response holds before it sends it unasked.
const flushSize = 64 << 10

// IsPreface reports whether a connection whose first bytes are b (at least
// one) speaks frames: no HTTP/1.1 method and not HTTP/2's preface starts
// with Preface's first byte.
func IsPreface(b []byte) bool { return len(b) > 0 && b[0] == Preface[0] }

// Serve serves one connection of frames with h until it ends or ctx is
// done, and then waits for the handlers it started. r reads the
// connection, the first bytes of which (Preface) have not been read yet.
// Each request runs h in a goroutine of its own; its context ends when the
// client cancels it or the connection ends.
func Serve(ctx context.Context, conn net.Conn, r *bufio.Reader, h http.Handler, log *slog.Logger) error {
	defer conn.Close()
	pre := make([]byte, len(Preface))
	if _, err := io.ReadFull(r, pre); err != nil {
		return fmt.Errorf("execframes: reading the preface: %w", err)
	}
	if string(pre) != Preface {
		return fmt.Errorf("execframes: bad preface %q", pre)
	}
	s := &server{conn: conn, streams: make(map[uint32]context.CancelFunc)}
	// The client waits for the preface back before its first request.
	if err := s.write([]byte(Preface)); err != nil {
		return err
	}
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	var handlers sync.WaitGroup
	defer handlers.Wait()
	defer cancel() // before the wait: the handlers see the end
	for {
		id, typ, payload, err := readFrame(r)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("execframes: %w", err)
		}
		switch typ {
		case frameRequest:
			s.mu.Lock()
			_, dup := s.streams[id]
			s.mu.Unlock()
			if dup || id%2 == 0 {
				return fmt.Errorf("execframes: stream %d reused or not the client's", id)
			}
			req, err := newRequest(cctx, payload, conn)
			if err != nil {
				log.Debug("a bad request in frames", "err", err)
				s.write(appendFrame(appendFrame(nil, id, frameHead, encodeHead(http.StatusBadRequest, http.Header{"Content-Type": {"text/plain; charset=utf-8"}})), id, frameData, []byte(err.Error())))
				s.write(appendFrame(nil, id, frameEnd, nil))
				continue
			}
			rctx, rcancel := context.WithCancel(req.Context())
			req = req.WithContext(rctx)
			s.mu.Lock()
			s.streams[id] = rcancel
			s.mu.Unlock()
			handlers.Add(1)
			go func() {
				defer handlers.Done()
				w := &responseWriter{s: s, id: id, ctx: rctx, header: make(http.Header)}
				h.ServeHTTP(w, req)
				w.end()
				s.mu.Lock()
				delete(s.streams, id)
				s.mu.Unlock()
				rcancel()
			}()
		case frameCancel:
			s.mu.Lock()
			c := s.streams[id]
			s.mu.Unlock()
			if c != nil {
				c()
			}
		default:
			return fmt.Errorf("execframes: unexpected frame type %d from a client", typ)
		}
	}
}

// newRequest makes the http.Request of a request frame.
func newRequest(ctx context.Context, payload []byte, conn net.Conn) (*http.Request, error) {
	method, target, h, body, err := decodeRequest(payload)
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://localhost"+target, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("execframes: %w", err)
	}
	req.Header = h
	req.ContentLength = int64(len(body))
	req.Host = h.Get("Host")
	if req.Host == "" {
		req.Host = "localhost"
	}
	req.RequestURI = target
	if a := conn.RemoteAddr(); a != nil {
		req.RemoteAddr = a.String()
	}
	return req, nil
}

// server is one connection's state.
type server struct {
	conn    net.Conn
	wmu     sync.Mutex
	dead    bool
	mu      sync.Mutex
	streams map[uint32]context.CancelFunc
}

// write writes b (whole frames) at once; a failed write ends the
// connection.
func (s *server) write(b []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.dead {
		return net.ErrClosed
	}
	s.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := s.conn.Write(b); err != nil {
		s.dead = true
		s.conn.Close()
		return fmt.Errorf("execframes: %w", err)
	}
	return nil
}

// responseWriter is a handler's http.ResponseWriter: the head goes out with
// the first flush, the body as it is flushed, the end when the handler
// returns.
type responseWriter struct {
	s      *server
	id     uint32
	ctx    context.Context
	header http.Header
	code   int // 0 until WriteHeader
	sent   bool
	buf    []byte
}

func (w *responseWriter) Header() http.Header { return w.header }

func (w *responseWriter) WriteHeader(code int) {
	if w.code != 0 || code < 200 {
		return // informational answers are not passed on
	}
	w.code = code
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if err := w.ctx.Err(); err != nil {
		return 0, err
	}
	w.buf = append(w.buf, p...)
	if len(w.buf) >= flushSize {
		if err := w.FlushError(); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// Flush sends what the handler wrote so far (http.Flusher).
func (w *responseWriter) Flush() { _ = w.FlushError() }

// FlushError is Flush with its error, as http.ResponseController wants.
func (w *responseWriter) FlushError() error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	return w.s.write(w.frames(nil))
}

// frames appends the head, when not sent yet, and what is held.
func (w *responseWriter) frames(b []byte) []byte {
	if w.code == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if !w.sent {
		b = appendFrame(b, w.id, frameHead, encodeHead(w.code, w.header))
		w.sent = true
	}
	if len(w.buf) > 0 {
		b = appendFrame(b, w.id, frameData, w.buf)
		w.buf = w.buf[:0]
	}
	return b
}

// end sends the rest of the response and its end, unless the client gave
// it up.
func (w *responseWriter) end() {
	if w.ctx.Err() != nil {
		return
	}
	_ = w.s.write(appendFrame(w.frames(nil), w.id, frameEnd, nil))
}
