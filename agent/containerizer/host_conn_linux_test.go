package containerizer

import (
	"net"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// The containerizer's requests to the executor host (launches) go over
// connections the host keeps open: one idle connection serves request after
// request, and one the host has hung up is replaced without the request
// being lost.
func TestHostKeepsConnections(t *testing.T) {
	work := t.TempDir()
	p := NewPosix(Options{WorkDir: work, SupervisorPath: supervisor(t), ExecutorHost: true})
	t.Cleanup(p.DestroyAll)
	hc, err := p.ensureHost()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.closeHost)
	unknown := hostRequest{Op: "signal", ID: "nothing", Signal: int(unix.SIGUSR1)}
	for i := range 3 {
		_, err := hc.call(unknown)
		if err == nil || !strings.Contains(err.Error(), ErrUnknownContainer.Error()) {
			t.Fatalf("request %d: %v, want %v", i, err, ErrUnknownContainer)
		}
		if n := len(hc.idle); n != 1 {
			t.Fatalf("after request %d, %d idle connections, want the one kept", i, n)
		}
	}
	// An idle connection whose other end is gone (a host that hung up).
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.Close(fds[1])
	f := os.NewFile(uintptr(fds[0]), "dead")
	c, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	kept := <-hc.idle
	defer kept.Close()
	hc.idle <- c.(*net.UnixConn)
	if _, err := hc.call(unknown); err == nil || !strings.Contains(err.Error(), ErrUnknownContainer.Error()) {
		t.Fatalf("request on a dead idle connection: %v, want the host's answer on a new one", err)
	}
	if n := len(hc.idle); n != 1 {
		t.Fatalf("%d idle connections, want the new one", n)
	}
}
