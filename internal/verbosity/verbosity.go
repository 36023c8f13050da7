// Package verbosity is the process's logging verbosity as Mesos's operator
// API shows it (GET_LOGGING_LEVEL, SET_LOGGING_LEVEL): glog's verbose level,
// 0 unless raised. Gomesos maps it onto log/slog: handlers built with
// Leveler log at the configured level (SetBase) while the verbosity is 0,
// and at debug level while it is above 0. A level set for a duration
// reverts to 0 when the duration ends, unless set again meanwhile.
package verbosity

import (
	"log/slog"
	"sync"
	"time"
)

var (
	level slog.LevelVar // what handlers built with Leveler log at

	mu      sync.Mutex
	base    = slog.LevelInfo
	current uint32
	revert  *time.Timer
	gen     uint64 // counts Sets, so that a stale revert does nothing
)

// Leveler is the process-wide level, for slog.HandlerOptions.
func Leveler() slog.Leveler { return &level }

// SetBase sets the level logged at while the verbosity is 0 (the
// --logging_level flag).
func SetBase(l slog.Level) {
	mu.Lock()
	defer mu.Unlock()
	base = l
	apply()
}

// Get is the verbosity.
func Get() uint32 {
	mu.Lock()
	defer mu.Unlock()
	return current
}

// Set sets the verbosity to n for d; then it reverts to 0. A Set replaces
// the revert of the one before. Setting 0 reverts at once.
func Set(n uint32, d time.Duration) {
	mu.Lock()
	defer mu.Unlock()
	gen++
	if revert != nil {
		revert.Stop()
		revert = nil
	}
	current = n
	apply()
	if n == 0 {
		return
	}
	mine := gen
	revert = time.AfterFunc(d, func() {
		mu.Lock()
		defer mu.Unlock()
		if gen != mine {
			return
		}
		current = 0
		revert = nil
		apply()
	})
}

// apply sets the slog level from base and current; mu is held.
func apply() {
	if current > 0 {
		level.Set(min(base, slog.LevelDebug))
	} else {
		level.Set(base)
	}
}
