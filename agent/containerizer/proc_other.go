//go:build !linux

package containerizer

import "syscall"

// ProcessAlive reports whether pid names a live process.
func ProcessAlive(pid int) bool { return syscall.Kill(pid, 0) == nil }

// killTree kills the container's process group; without /proc the posix
// launcher cannot follow processes that left it.
func killTree(root, sid int, _ bool) {
	if sid > 1 {
		_ = syscall.Kill(-sid, syscall.SIGKILL)
	}
	if root > 1 {
		_ = syscall.Kill(root, syscall.SIGKILL)
	}
}

func waitExitNoReap(pid int) {}
