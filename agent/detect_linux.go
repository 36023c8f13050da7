package agent

import "syscall"

// memoryBytes is the machine's total memory, or 0 when unknown.
func memoryBytes() uint64 {
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err != nil {
		return 0
	}
	return uint64(si.Totalram) * uint64(si.Unit)
}

// diskBytes is the size of the filesystem holding dir, or 0 when unknown.
func diskBytes(dir string) uint64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0
	}
	return st.Blocks * uint64(st.Bsize)
}
