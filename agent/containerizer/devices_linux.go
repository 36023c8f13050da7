//go:build linux

package containerizer

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// deviceNumber tells a device file's type ('c' or 'b') and numbers.
func deviceNumber(path string) (typ byte, major, minor int64, err error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, 0, 0, fmt.Errorf("device %s: %w", path, err)
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFCHR:
		typ = 'c'
	case unix.S_IFBLK:
		typ = 'b'
	default:
		return 0, 0, 0, fmt.Errorf("%s is not a character or block device", path)
	}
	return typ, int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev)), nil
}
