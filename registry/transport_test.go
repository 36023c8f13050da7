package registry

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/gomesos/gomesos/internal/testutil"
)

// serveLayer serves a layer at RaftPath on a real HTTP server; the layer
// advertises the server's address.
func serveLayer(t *testing.T) (*StreamLayer, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	layer := NewStreamLayer(ln.Addr().String())
	mux := http.NewServeMux()
	mux.Handle(RaftPath, layer)
	srv := httptest.NewUnstartedServer(mux)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(func() {
		layer.Close()
		srv.Close()
	})
	return layer, ln.Addr().String()
}

func TestStreamLayerRefusesPlainRequests(t *testing.T) {
	testutil.CheckGoroutines(t)
	_, addr := serveLayer(t)
	resp, err := http.Get("http://" + addr + RaftPath)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "Upgrade: gomesos-raft") {
		t.Errorf("a plain GET got %s %q, want 400 naming the upgrade", resp.Status, body)
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestStreamLayerCarriesBytesBothWays(t *testing.T) {
	testutil.CheckGoroutines(t)
	server, addr := serveLayer(t)
	client := NewStreamLayer("127.0.0.1:1")
	defer client.Close()

	// The dialer's first bytes may arrive with its request, and the
	// server's with its 101: neither is lost in a bufio.Reader.
	raw, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Write([]byte("POST " + RaftPath + " HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: gomesos-raft\r\n\r\nearly bytes")); err != nil {
		t.Fatal(err)
	}
	in, err := server.Accept()
	if err != nil {
		t.Fatal(err)
	}
	in.SetReadDeadline(time.Now().Add(10 * time.Second)) // a lost byte fails, not hangs
	buf := make([]byte, len("early bytes"))
	if _, err := io.ReadFull(in, buf); err != nil || string(buf) != "early bytes" {
		t.Fatalf("the server read %q, %v", buf, err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(raw), nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade answered %v, %v", resp, err)
	}

	// Through Dial: the accepting side writes at once.
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := server.Accept()
		if err == nil {
			c.Write([]byte("hello"))
			accepted <- c
		}
		close(accepted)
	}()
	out, err := client.Dial(raft.ServerAddress(addr), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := <-accepted
	if c == nil {
		t.Fatal("nothing accepted")
	}
	out.SetReadDeadline(time.Now().Add(10 * time.Second))
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf = make([]byte, 5)
	if _, err := io.ReadFull(out, buf); err != nil || string(buf) != "hello" {
		t.Fatalf("the dialer read %q, %v", buf, err)
	}
	if _, err := out.Write([]byte("world")); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "world" {
		t.Fatalf("the server read %q, %v", buf, err)
	}

	// Closing the layer closes its connections, fails Accept, and turns
	// further upgrades away.
	server.Close()
	if _, err := c.Read(buf); err == nil {
		t.Error("a connection of a closed layer still reads")
	}
	if _, err := io.ReadFull(out, buf); err == nil {
		t.Error("the peer of a closed layer's connection still reads")
	}
	if _, err := in.Read(buf); err == nil {
		t.Error("an early connection of a closed layer still reads")
	}
	if _, err := server.Accept(); !errors.Is(err, ErrStreamLayerClosed) {
		t.Errorf("Accept on a closed layer: %v", err)
	}
	if _, err := client.Dial(raft.ServerAddress(addr), 5*time.Second); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("dialing a closed layer: %v, want a 503", err)
	}
	client.Close()
	if _, err := client.Dial(raft.ServerAddress(addr), time.Second); !errors.Is(err, ErrStreamLayerClosed) {
		t.Errorf("Dial on a closed layer: %v", err)
	}
}

// Raft's leadership notifications never wait for the master: a master
// that does not read sees, when it does, only the latest value.
func TestLeadershipRelayCoalesces(t *testing.T) {
	s := &Replicated{lead: make(chan bool, 1), stopLead: make(chan struct{}), leadDone: make(chan struct{})}
	notify := make(chan bool) // unbuffered: each send waits for the relay
	go s.relayLeadership(notify, false)
	for _, v := range []bool{true, false, true, false, true} {
		select {
		case notify <- v:
		case <-time.After(10 * time.Second):
			t.Fatal("the relay made Raft wait")
		}
	}
	if v := <-s.lead; v {
		t.Fatal("first value true, want false")
	}
	if v := <-s.lead; !v {
		t.Fatal("second value false, want the latest, true")
	}
	notify <- false
	notify <- true // back to what the master last saw: nothing to tell
	close(s.stopLead)
	<-s.leadDone
	var rest []bool
	for v := range s.lead {
		rest = append(rest, v)
	}
	if len(rest) != 1 || rest[0] {
		t.Errorf("after the master saw true, the relay delivered %v then closed, want [false]", rest)
	}
}

// Bytes a peer sends right behind its 101 reach the dialer.
func TestStreamLayerDialKeepsBytesAfterTheUpgrade(t *testing.T) {
	testutil.CheckGoroutines(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		req, err := http.ReadRequest(bufio.NewReader(c))
		if err != nil || req.URL.Path != RaftPath || req.Header.Get("Upgrade") != "gomesos-raft" {
			return
		}
		c.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: gomesos-raft\r\n\r\nright behind"))
		io.Copy(io.Discard, c)
	}()
	layer := NewStreamLayer("127.0.0.1:1")
	defer layer.Close()
	c, err := layer.Dial(raft.ServerAddress(ln.Addr().String()), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	buf := make([]byte, len("right behind"))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != "right behind" {
		t.Fatalf("read %q, %v", buf, err)
	}
}
