//go:build !linux

package containerizer

import (
	"log/slog"
	"os"
)

// makeSandboxAt is makeSandboxRoot.
func makeSandboxAt(workDir, rel string, linkLatest bool, log *slog.Logger) (stdout, stderr *os.File, err error) {
	return makeSandboxRoot(workDir, rel, linkLatest, log)
}
