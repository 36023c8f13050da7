//go:build !linux

package prom

import "runtime"

// System is the system/* figures of /metrics/snapshot: only the machine's
// processors away from Linux.
func System() map[string]float64 {
	return map[string]float64{"system/cpus_total": float64(runtime.NumCPU())}
}
