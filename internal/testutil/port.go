package testutil

import (
	"net"
	"testing"
)

// FreePort is a TCP port free on loopback now: for a process the test
// starts (or restarts) on a known port, or a port no one listens on.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
