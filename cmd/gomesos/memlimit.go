package main

import (
	"fmt"
	"runtime/debug"

	"github.com/gomesos/gomesos/codec"
)

// memoryLimitUsage is the help of --memory_limit (master, local, bench
// launch).
const memoryLimitUsage = "soft limit on the process's Go memory, as a Mesos byte size (e.g. 2GB): the garbage collector runs more often as the heap nears it, trading CPU for memory (runtime/debug.SetMemoryLimit; default: none, or GOMEMLIMIT)"

// memoryLimitFlag is --memory_limit: a Mesos byte size, applied with
// apply.
type memoryLimitFlag struct {
	bytes int64 // 0: not set
}

func (f *memoryLimitFlag) String() string {
	if f == nil || f.bytes == 0 {
		return ""
	}
	return codec.FormatBytes(f.bytes)
}

func (f *memoryLimitFlag) Set(s string) error {
	n, err := codec.ParseBytes(s)
	if err != nil {
		return err
	}
	if n <= 0 {
		return fmt.Errorf("%q is not a positive size", s)
	}
	f.bytes = n
	return nil
}

// apply sets the process's soft memory limit when the flag was given.
func (f *memoryLimitFlag) apply() {
	if f.bytes > 0 {
		debug.SetMemoryLimit(f.bytes)
	}
}
