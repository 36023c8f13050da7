//go:build !linux

package agent

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// diskUsage is the used share of the filesystem that holds dir:
// 1 − free blocks / all blocks.
func diskUsage(dir string) (float64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	if st.Blocks == 0 {
		return 0, nil
	}
	return float64(st.Blocks-st.Bfree) / float64(st.Blocks), nil
}

// unmountBelow does nothing here: only Linux agents mount volumes.
func unmountBelow(string) error { return nil }
