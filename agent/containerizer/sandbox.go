package containerizer

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// makeSandboxRoot creates the sandbox rel below workDir and opens its
// stdout and stderr files, all through an os.Root on the work directory,
// so that neither ".." nor a symbolic link leads out of it (one that stays
// inside is followed); with linkLatest it also points the "latest" link
// beside it at it.
func makeSandboxRoot(workDir, rel string, linkLatest bool, log *slog.Logger) (stdout, stderr *os.File, err error) {
	root, err := os.OpenRoot(workDir)
	if err != nil {
		return nil, nil, fmt.Errorf("create sandbox: %w", err)
	}
	defer root.Close()
	if err := root.MkdirAll(rel, 0o755); err != nil {
		return nil, nil, fmt.Errorf("create sandbox: %w", err)
	}
	sb, err := root.OpenRoot(rel)
	if err != nil {
		return nil, nil, fmt.Errorf("create sandbox: %w", err)
	}
	defer sb.Close()
	const flags = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	stdout, err = sb.OpenFile("stdout", flags, 0o644)
	if err != nil {
		return nil, nil, fmt.Errorf("open stdout: %w", err)
	}
	stderr, err = sb.OpenFile("stderr", flags, 0o644)
	if err != nil {
		stdout.Close()
		return nil, nil, fmt.Errorf("open stderr: %w", err)
	}
	if linkLatest {
		if err := linkLatestIn(root, rel); err != nil {
			log.Warn("linking the latest run", "dir", filepath.Join(workDir, rel), "err", err)
		}
	}
	return stdout, stderr, nil
}

// linkLatestIn points the "latest" link beside the sandbox rel of root at
// it, as linkLatestAt does from a held descriptor: an executor's first run
// makes the link, a later one replaces it through a temporary link.
func linkLatestIn(root *os.Root, rel string) error {
	runs, err := root.OpenRoot(filepath.Dir(rel))
	if err != nil {
		return err
	}
	defer runs.Close()
	if err := runs.Symlink(filepath.Base(rel), latestLink); !errors.Is(err, fs.ErrExist) {
		return err
	}
	_ = runs.Remove(latestTmp)
	if err := runs.Symlink(filepath.Base(rel), latestTmp); err != nil {
		return err
	}
	return runs.Rename(latestTmp, latestLink)
}
