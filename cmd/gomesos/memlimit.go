package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"

	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/internal/memlimit"
)

// memoryLimitUsage is the help of --memory_limit (master, bench launch).
var memoryLimitUsage = "soft limit on the process's Go memory (runtime/debug.SetMemoryLimit): a Mesos byte size (e.g. 2GB); " +
	"'auto', a limit that follows the heap the garbage collector finds live (" + autoRatioText + " times its peak, at least 64 MiB over it), " +
	"or 'Rx' for R times its peak (e.g. 1.5x): the collector runs earlier as the heap nears it, trading CPU for memory; or 'none'. " +
	"Default: 'auto', or GOMEMLIMIT's when that is set"

// memoryLimitFlag is --memory_limit, applied with start.
type memoryLimitFlag struct {
	bytes int64   // > 0: a fixed limit
	ratio float64 // > 0: adaptive, at this ratio
	mode  string
}

const (
	memLimitAuto = "auto"
	memLimitNone = "none"
)

func (f *memoryLimitFlag) String() string {
	if f == nil {
		return ""
	}
	if f.bytes > 0 {
		return codec.FormatBytes(f.bytes)
	}
	if f.ratio > 0 {
		return strconv.FormatFloat(f.ratio, 'g', -1, 64) + "x"
	}
	return f.mode
}

func (f *memoryLimitFlag) Set(s string) error {
	if s == memLimitAuto || s == memLimitNone {
		f.bytes, f.ratio, f.mode = 0, 0, s
		return nil
	}
	if r, ok := strings.CutSuffix(s, "x"); ok {
		ratio, err := strconv.ParseFloat(r, 64)
		if err != nil || !(ratio > 1) || math.IsInf(ratio, 0) {
			return fmt.Errorf("%q is not a ratio above 1 (e.g. 1.5x)", s)
		}
		f.bytes, f.ratio, f.mode = 0, ratio, ""
		return nil
	}
	n, err := codec.ParseBytes(s)
	if err != nil {
		return err
	}
	if n <= 0 {
		return fmt.Errorf("%q is not a positive size, 'auto' or 'none'", s)
	}
	f.bytes, f.ratio, f.mode = n, 0, ""
	return nil
}

// start sets the process's soft memory limit as the flag says: a fixed
// size; none; or, when the flag says 'auto' or a ratio, or was not given
// and the environment sets no GOMEMLIMIT, the adaptive limit, kept until
// stop is called (stop then waits for it to put back the limit it found).
// rule is the adaptive limit's rule, "" for the others (the limit in force
// says what they are).
func (f *memoryLimitFlag) start(ctx context.Context) (rule string, stop func()) {
	switch {
	case f.bytes > 0:
		debug.SetMemoryLimit(f.bytes)
		return "", func() {}
	case f.mode == memLimitNone:
		debug.SetMemoryLimit(math.MaxInt64) // GOMEMLIMIT's too
		return "", func() {}
	case f.mode == "" && f.ratio == 0 && os.Getenv("GOMEMLIMIT") != "":
		return "", func() {}
	}
	a := memlimit.Default
	if f.ratio > 0 {
		a.Ratio = f.ratio
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Run(ctx)
	}()
	return a.String(), func() {
		cancel()
		<-done
	}
}

var autoRatioText = strconv.FormatFloat(memlimit.Default.Ratio, 'g', -1, 64)
