package agent

import (
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/gomesos/gomesos/agent/core"
)

// buildInformation describes this binary for /state and /version: the VCS
// revision and time Go stamped into it, else the executable's mtime.
var buildInformation = sync.OnceValue(func() core.BuildInfo {
	var b core.BuildInfo
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
		b.Date = t.UTC().Format("2006-01-02 15:04:05")
		b.Time = float64(t.Unix())
	}
	return b
})
