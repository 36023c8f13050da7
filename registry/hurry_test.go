package registry

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// processGone tells a dead master from a live one: a closed port, and a
// port whose connections end before any answer (a killed process whose
// listening socket outlives its connections for an instant), are gone; a
// master that answers, or is too busy to answer in time, is alive.
func TestProcessGone(t *testing.T) {
	live := httptest.NewServer(http.NewServeMux())
	defer live.Close()
	if processGone(live.Listener.Addr().String()) {
		t.Error("a master answering HTTP was taken for gone")
	}

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := closed.Addr().String()
	closed.Close()
	if !processGone(addr) {
		t.Error("a closed port was taken for a live master")
	}

	// Connections taken and ended unanswered: the dying process.
	dying, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer dying.Close()
	go func() {
		for {
			c, err := dying.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if !processGone(dying.Addr().String()) {
		t.Error("a port whose connections end unanswered was taken for a live master")
	}

	// A connection held without an answer: busy, alive.
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	held := make(chan net.Conn, 1)
	go func() {
		if c, err := busy.Accept(); err == nil {
			held <- c
		}
	}()
	if processGone(busy.Addr().String()) {
		t.Error("a master too busy to answer within the probe was taken for gone")
	}
	select {
	case c := <-held:
		c.Close()
	default:
	}
}
