//go:build !linux

package cputime

import "time"

// OfProcess is not measured here: it reports false.
func OfProcess(pid int) (time.Duration, bool) { return 0, false }

// MinorFaultsOf is not measured here: it reports false.
func MinorFaultsOf(pid int) (int64, bool) { return 0, false }
