//go:build !unix

package main

import "time"

// processCPU is unknown here: benchmarks report zero CPU time.
func processCPU() time.Duration { return 0 }
