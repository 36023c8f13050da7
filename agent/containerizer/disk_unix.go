//go:build unix

package containerizer

import (
	"io/fs"
	"syscall"
)

// fileID names a file on the machine: its device and inode.
type fileID struct{ dev, ino uint64 }

// allocated is the disk space fi takes (its 512-byte blocks, as du counts
// them); a file with several links counts only the first time it is seen.
func allocated(fi fs.FileInfo, seen map[fileID]bool) int64 {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fi.Size()
	}
	if !fi.IsDir() && st.Nlink > 1 {
		id := fileID{uint64(st.Dev), uint64(st.Ino)}
		if seen[id] {
			return 0
		}
		seen[id] = true
	}
	return int64(st.Blocks) * 512
}
