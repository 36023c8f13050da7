//go:build !linux

package containerizer

import (
	"errors"
	"os"
	"syscall"
)

// hostSupported: the executor host needs Linux (SOCK_SEQPACKET, pidfds).
const hostSupported = false

var errNoHost = errors.New("the executor host runs only on Linux")

type hostClient struct{}

func runHost([]string) int { return 2 }

func (p *Posix) launchHosted(Spec, string, []string, []string, string, *os.File, *os.File) (int, error) {
	return 0, errNoHost
}

func (p *Posix) hostSignal(string, syscall.Signal) error { return errNoHost }
func (p *Posix) hostDestroy([]string, bool)              {}
func (p *Posix) closeHost()                              {}

func (p *Posix) waitHosted(c *container) { defer p.wg.Done() }

// recoverHosted reports the hosted containers ended: none can run here.
func (p *Posix) recoverHosted(recs []recovery, want map[string]bool, _ string) []Recovered {
	for _, r := range recs {
		p.cleanupIsolators(r.id)
		if want[r.id] {
			p.report(Termination{ID: r.id, Status: -1})
		}
		p.removeRunDir(r.dir)
	}
	return nil
}
