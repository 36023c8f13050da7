//go:build !unix

package containerizer

import "io/fs"

type fileID struct{}

// allocated is fi's size: without Unix stat there are no block counts.
func allocated(fi fs.FileInfo, _ map[fileID]bool) int64 { return fi.Size() }
