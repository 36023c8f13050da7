package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"time"

	"github.com/gomesos/gomesos/master/core"
)

// buildInfo describes this binary for /version and the state endpoints.
func buildInfo() core.BuildInfo {
	b := core.BuildInfo{Version: core.Version, BuildUser: os.Getenv("USER")}
	if exe, err := os.Executable(); err == nil {
		if st, err := os.Stat(exe); err == nil {
			b.BuildTime = float64(st.ModTime().Unix())
			b.BuildDate = st.ModTime().UTC().Format(time.DateTime)
		}
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				b.GitSHA = s.Value
			}
		}
	}
	return b
}

func runVersion(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	b := buildInfo()
	fmt.Fprintf(stdout, "gomesos %s (Mesos API %s)\n", b.GitSHA, b.Version)
	return 0
}
