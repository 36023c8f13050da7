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

// systemMetrics are the system/* metrics of /metrics/snapshot.
func systemMetrics() map[string]float64 {
	m := map[string]float64{}
	var si syscall.Sysinfo_t
	if err := syscall.Sysinfo(&si); err == nil {
		unit := float64(si.Unit)
		m["system/mem_total_bytes"] = float64(si.Totalram) * unit
		m["system/mem_free_bytes"] = float64(si.Freeram) * unit
		const scale = 1 << 16 // SI_LOAD_SHIFT
		m["system/load_1min"] = float64(si.Loads[0]) / scale
		m["system/load_5min"] = float64(si.Loads[1]) / scale
		m["system/load_15min"] = float64(si.Loads[2]) / scale
	}
	return m
}
