//go:build !linux

package containerizer

import (
	"errors"
	"syscall"
)

var errNoNamespaces = errors.New("namespaces exist only on Linux")

// FilesystemLinux is the filesystem/linux isolator, which exists only on
// Linux.
type FilesystemLinux struct{ Isolator }

// PidNamespace is the namespaces/pid isolator, which exists only on Linux.
type PidNamespace struct {
	Isolator
	DisallowSharing bool
}

// NamespacesAvailable fails: namespaces exist only on Linux.
func NamespacesAvailable() error { return errNoNamespaces }

type hostProc struct{ self int }

func (h *hostProc) record(pid int) procRecord { return procRecord{Pid: pid} }
func (h *hostProc) child() (int, error)       { return 0, errNoNamespaces }
func (h *hostProc) close()                    {}

func setupMounts() (*hostProc, error) { return nil, nil }

func reapAsInit(int) (syscall.WaitStatus, error) { return 0, errNoNamespaces }
