//go:build !linux

package containerizer

import (
	"errors"
	"log/slog"
)

// DefaultPidsMax is the pids limit of every container under cgroups/pids.
const DefaultPidsMax = 4096

// CgroupsOptions configure the cgroups isolator.
type CgroupsOptions struct {
	Root           string
	CPU, Mem, Pids bool
	EnableCFS      bool
	PidsMax        int64
	Logger         *slog.Logger
}

// CgroupHost says what cgroups the host offers.
type CgroupHost struct {
	Version int
	Mounts  map[string]string
}

var errNoCgroups = errors.New("cgroups exist only on Linux")

// DetectCgroups fails: cgroups exist only on Linux.
func DetectCgroups() (CgroupHost, error) { return CgroupHost{}, errNoCgroups }

// CgroupsWritable fails: cgroups exist only on Linux.
func CgroupsWritable(CgroupHost, string) error { return errNoCgroups }

// Cgroups is the cgroups isolator, which exists only on Linux.
type Cgroups struct{ Isolator }

// NewCgroups fails: cgroups exist only on Linux.
func NewCgroups(CgroupHost, CgroupsOptions) (*Cgroups, error) { return nil, errNoCgroups }
