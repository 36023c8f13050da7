//go:build !linux

package cputime

import "time"

// OfProcess is not measured here: it reports false.
func OfProcess(pid int) (time.Duration, bool) { return 0, false }
