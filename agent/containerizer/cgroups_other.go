//go:build !linux

package containerizer

import "errors"

var errNoCgroups = errors.New("cgroups exist only on Linux")

// DetectCgroups fails: cgroups exist only on Linux.
func DetectCgroups() (CgroupHost, error) { return CgroupHost{}, errNoCgroups }

// CgroupsWritable fails: cgroups exist only on Linux.
func CgroupsWritable(CgroupHost, string) error { return errNoCgroups }

// Cgroups is the cgroups isolator, which exists only on Linux.
type Cgroups struct{ Isolator }

// NewCgroups fails: cgroups exist only on Linux.
func NewCgroups(CgroupHost, CgroupsOptions) (*Cgroups, error) { return nil, errNoCgroups }
