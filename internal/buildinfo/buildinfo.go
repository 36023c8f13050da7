// Package buildinfo reads what the running binary knows of its own build:
// the commit and time Go stamped into it (else the executable's
// modification time) and the user who runs it, for /version and the state
// endpoints of the master and the agent.
package buildinfo

import (
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/gomesos/gomesos/codec"
)

// Read describes this binary. It reads the build once per process.
var Read = sync.OnceValue(func() codec.BuildInfo {
	b := codec.BuildInfo{Version: codec.MesosVersion, User: os.Getenv("USER")}
	var t time.Time
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.GitSHA = s.Value
			case "vcs.time":
				t, _ = time.Parse(time.RFC3339, s.Value)
			}
		}
	}
	if t.IsZero() {
		if exe, err := os.Executable(); err == nil {
			if fi, err := os.Stat(exe); err == nil {
				t = fi.ModTime()
			}
		}
	}
	if !t.IsZero() {
		b.Date = t.UTC().Format(time.DateTime)
		b.Time = float64(t.Unix())
	}
	return b
})
