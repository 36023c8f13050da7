package execframes

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// serveSocket serves h in frames on a unix socket of a temporary
// directory, as the agent does, and returns a client Transport for it.
func serveSocket(t *testing.T, h http.Handler) (*Transport, func()) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.sock")
	stop := serveAt(t, path, h)
	t.Cleanup(stop)
	return dialer(path), stop
}

// serveAt serves h in frames on the unix socket path until stop is
// called. Connections that do not open with the preface are closed, as an
// agent without frames would answer them.
func serveAt(t *testing.T, path string, h http.Handler) (stop func()) {
	t.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := bufio.NewReader(c)
				first, err := r.Peek(1)
				if err != nil || !IsPreface(first) {
					c.Close()
					return
				}
				Serve(ctx, c, r, h, slog.New(slog.DiscardHandler))
			}()
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			ln.Close()
			wg.Wait()
		})
	}
}

// dialer is a Transport to the unix socket path.
func dialer(path string) *Transport {
	return &Transport{Dial: func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}}
}

func TestRequestAndResponse(t *testing.T) {
	tr, _ := serveSocket(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if r.Method != http.MethodPost || r.URL.Path != "/api/v1/executor" || r.URL.RawQuery != "a=b" {
			http.Error(w, "wrong request line "+r.Method+" "+r.URL.String(), http.StatusTeapot)
			return
		}
		if r.ContentLength != int64(len(body)) {
			http.Error(w, fmt.Sprintf("content length %d for %d bytes", r.ContentLength, len(body)), http.StatusTeapot)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		w.Header().Add("X-Echo", r.Header.Get("Content-Type"))
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, "got %s", body)
	}))
	hc := &http.Client{Transport: tr}
	for i := range 3 { // the connection is reused
		resp, err := hc.Post("http://agent/api/v1/executor?a=b", "application/x-protobuf", strings.NewReader(fmt.Sprintf("call %d", i)))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusAccepted || string(body) != fmt.Sprintf("got call %d", i) ||
			resp.Header.Get("X-Echo") != "application/x-protobuf" || resp.Header.Get("Content-Type") != "text/plain" {
			t.Fatalf("response %d: %d %q %v", i, resp.StatusCode, body, resp.Header)
		}
	}
}

// A streamed response arrives as the handler flushes it, and the client
// giving it up ends the handler's context.
func TestStreamFlushesAndCancels(t *testing.T) {
	flushed := make(chan struct{})
	handlerDone := make(chan error, 1)
	tr, _ := serveSocket(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		for i := range 2 {
			fmt.Fprintf(w, "event %d\n", i)
			w.(http.Flusher).Flush()
		}
		close(flushed)
		<-r.Context().Done()
		handlerDone <- r.Context().Err()
	}))
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, "http://agent/api/v1/executor", strings.NewReader("SUBSCRIBE"))
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(resp.Body)
	for i := range 2 {
		line, err := r.ReadString('\n')
		if err != nil || line != fmt.Sprintf("event %d\n", i) {
			t.Fatalf("line %d = %q, %v", i, line, err)
		}
	}
	<-flushed
	cancel()
	select {
	case err := <-handlerDone:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the handler's context ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the handler's context did not end when the client gave the stream up")
	}
	if _, err := r.ReadString('\n'); !errors.Is(err, context.Canceled) {
		t.Fatalf("reading a given-up body: %v, want context.Canceled", err)
	}
	resp.Body.Close()
}

// Many streams share the connection at once, each getting its own answer.
func TestConcurrentStreams(t *testing.T) {
	tr, _ := serveSocket(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Write(b)
		w.(http.Flusher).Flush()
		w.Write([]byte("!"))
	}))
	hc := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := fmt.Sprintf("stream %d", i)
			resp, err := hc.Post("http://agent/x", "text/plain", strings.NewReader(want))
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			if err != nil || string(got) != want+"!" {
				errs <- fmt.Errorf("got %q, %v; want %q", got, err, want+"!")
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// When the server goes away, open streams fail, and the next request dials
// a new connection.
func TestConnectionLossFailsStreamsAndRedials(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.sock")
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stream" {
			w.(http.Flusher).Flush()
			<-r.Context().Done()
			return
		}
		io.WriteString(w, "ok")
	})
	stop := serveAt(t, path, h)
	hc := &http.Client{Transport: dialer(path)}
	resp, err := hc.Post("http://agent/stream", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	read := make(chan error, 1)
	go func() { _, err := io.ReadAll(resp.Body); read <- err }()
	stop()
	select {
	case err := <-read:
		if err == nil || !errors.Is(err, errConnLost) {
			t.Fatalf("reading a stream of a lost connection: %v, want the loss", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the stream did not fail when the server went away")
	}
	resp.Body.Close()
	if _, err := hc.Post("http://agent/x", "text/plain", nil); err == nil {
		t.Fatal("a request with no server succeeded")
	}
	defer serveAt(t, path, h)()
	resp, err = hc.Post("http://agent/x", "text/plain", nil)
	if err != nil {
		t.Fatalf("after the server came back: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "ok" {
		t.Fatalf("after the server came back: %q", body)
	}
}

// A server that does not speak frames sends the requests to Fallback.
func TestFallbackWhenNotSpoken(t *testing.T) {
	path := filepath.Join(t.TempDir(), "h.sock")
	ln, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "plain http")
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	dial := func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", path)
	}
	tr := &Transport{Dial: dial, Fallback: &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) }}}
	resp, err := (&http.Client{Transport: tr}).Post("http://agent/api/v1/executor", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "plain http" {
		t.Fatalf("body %q", body)
	}
	// Without a fallback the request fails, naming why.
	_, err = (&http.Client{Transport: &Transport{Dial: dial}}).Post("http://agent/x", "text/plain", nil)
	if !errors.Is(err, ErrNotSpoken) {
		t.Fatalf("err = %v, want ErrNotSpoken", err)
	}
}

// Bad frames from a client end its connection; a bad request line gets a
// 400 and leaves it open.
func TestBadInput(t *testing.T) {
	for _, tc := range []struct {
		name    string
		payload []byte
		typ     byte
	}{
		{"no request line", []byte("POST"), frameRequest},
		{"relative target", []byte("POST x\n\n"), frameRequest},
		{"headers without end", []byte("POST /x\nA: b\n"), frameRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method, target, h, body, err := decodeRequest(tc.payload)
			if err == nil {
				t.Fatalf("decoded %q %q %v %q", method, target, h, body)
			}
		})
	}
	if _, _, err := decodeHead([]byte("abc\n\n")); err == nil {
		t.Fatal("a head with a bad status decoded")
	}
	tr, _ := serveSocket(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	cc, _, err := tr.conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	st, err := cc.send("POST", "not-a-path", http.Header{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	<-st.done
	if st.code != http.StatusBadRequest {
		t.Fatalf("a bad request line: status %d", st.code)
	}
	resp, err := (&http.Client{Transport: tr}).Get("http://agent/fine")
	if err != nil {
		t.Fatalf("the connection did not survive a bad request: %v", err)
	}
	resp.Body.Close()
	// A frame of an unknown type ends the connection.
	cc.write(appendFrame(nil, 99, 42, nil))
	deadline := time.Now().Add(10 * time.Second)
	for !cc.broken() {
		if time.Now().After(deadline) {
			t.Fatal("the server kept a connection that sent a frame of an unknown type")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestHeaderRoundTrip(t *testing.T) {
	h := http.Header{"Content-Type": {"application/json"}, "Mesos-Stream-Id": {"abc"}, "X-Multi": {"1", "2"}, "Bad": {"a\nb"}}
	got, rest, err := parseHeader(appendHeader(nil, h))
	if err != nil || len(rest) != 0 {
		t.Fatal(err, rest)
	}
	if got.Get("Content-Type") != "application/json" || got.Get("Mesos-Stream-Id") != "abc" || len(got["X-Multi"]) != 2 || got.Get("Bad") != "" {
		t.Fatalf("headers %v", got)
	}
}

// A connection that gave its last stream ID takes no more: the next
// request dials a new one, and the old one closes once its streams ended.
func TestStreamIDsUsedUp(t *testing.T) {
	old := lastStreamID
	lastStreamID = 5 // streams 1, 3 and 5 per connection
	t.Cleanup(func() { lastStreamID = old })
	tr, _ := serveSocket(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, r.URL.Path) }))
	dial := tr.Dial
	dials := 0
	tr.Dial = func(ctx context.Context) (net.Conn, error) { dials++; return dial(ctx) }
	hc := &http.Client{Transport: tr}
	var conns []*clientConn
	for i := range 7 {
		resp, err := hc.Get(fmt.Sprintf("http://agent/%d", i))
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != fmt.Sprintf("/%d", i) {
			t.Fatalf("request %d: %q", i, body)
		}
		tr.mu.Lock()
		if len(conns) == 0 || conns[len(conns)-1] != tr.cc {
			conns = append(conns, tr.cc)
		}
		tr.mu.Unlock()
	}
	if dials != 3 || len(conns) != 3 {
		t.Fatalf("%d dials and %d connections for 7 requests of 3 streams each, want 3", dials, len(conns))
	}
	for i, cc := range conns[:2] {
		deadline := time.Now().Add(10 * time.Second)
		for !cc.broken() {
			if time.Now().After(deadline) {
				t.Fatalf("used-up connection %d was not closed", i)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// broken reports whether the connection broke (or was retired).
func (cc *clientConn) broken() bool {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	return cc.err != nil
}
