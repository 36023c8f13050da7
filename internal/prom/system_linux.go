package prom

import (
	"runtime"
	"syscall"
)

// System is the system/* figures of /metrics/snapshot: the machine's
// processors, load averages and memory.
func System() map[string]float64 {
	m := map[string]float64{"system/cpus_total": float64(runtime.NumCPU())}
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
