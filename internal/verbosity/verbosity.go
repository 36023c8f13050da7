// Package verbosity owns a process's log verbosity as the operator API
// shows and sets it (GET_LOGGING_LEVEL, SET_LOGGING_LEVEL): Mesos's glog
// verbosity level, 0 by default. While the level is above 0 the slog
// handler logs at debug; after the duration the operator gave, the level
// goes back to 0 and the handler to its configured level. It owns no
// logger: it changes the slog.LevelVar the process's handler reads.
package verbosity

import (
	"log/slog"
	"sync"
	"time"
)

// Verbosity is a process's verbosity level. It is safe for concurrent use.
type Verbosity struct {
	mu    sync.Mutex
	lv    *slog.LevelVar
	base  slog.Level
	level uint32
	timer *time.Timer
}

// New returns a verbosity of level 0 that drives lv (nil: a level of its
// own, which changes no handler).
func New(lv *slog.LevelVar) *Verbosity {
	if lv == nil {
		lv = new(slog.LevelVar)
	}
	return &Verbosity{lv: lv, base: lv.Level()}
}

// Level is the current verbosity level.
func (v *Verbosity) Level() uint32 {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.level
}

// Set sets the level for d, after which it reverts to 0. A later Set
// replaces an earlier one and its revert.
func (v *Verbosity) Set(level uint32, d time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.timer != nil {
		v.timer.Stop()
		v.timer = nil
	}
	v.apply(level)
	if level == 0 {
		return
	}
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		v.mu.Lock()
		defer v.mu.Unlock()
		if v.timer == t {
			v.timer = nil
			v.apply(0)
		}
	})
	v.timer = t
}

func (v *Verbosity) apply(level uint32) {
	v.level = level
	if level > 0 {
		v.lv.Set(min(v.base, slog.LevelDebug))
	} else {
		v.lv.Set(v.base)
	}
}
