//go:build linux || darwin

package master

import (
	"os"
	"runtime"
	"syscall"
)

// maxRSSOf is a finished process's peak resident set, in bytes.
func maxRSSOf(ps *os.ProcessState) uint64 {
	ru, ok := ps.SysUsage().(*syscall.Rusage)
	if !ok || ru.Maxrss <= 0 {
		return 0
	}
	if runtime.GOOS == "darwin" {
		return uint64(ru.Maxrss) // bytes there
	}
	return uint64(ru.Maxrss) << 10 // KiB on Linux
}
