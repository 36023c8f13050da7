//go:build unix

package master

import (
	"fmt"
	"syscall"
)

// raiseOpenFiles raises the process's limit on open files to at least
// need, raising the hard limit too when that is lower (which takes
// privileges), and returns the limit in force.
func raiseOpenFiles(need uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, fmt.Errorf("reading RLIMIT_NOFILE: %w", err)
	}
	if lim.Cur >= need {
		return lim.Cur, nil
	}
	want := lim
	want.Cur = max(need, min(lim.Max, 4*need))
	want.Max = max(lim.Max, want.Cur)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err != nil {
		return lim.Cur, fmt.Errorf("raising RLIMIT_NOFILE from %d (hard %d) to %d: %w", lim.Cur, lim.Max, want.Cur, err)
	}
	return want.Cur, nil
}
