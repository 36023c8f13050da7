package containerizer

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// makeSandboxAt creates the sandbox rel (local and clean, as
// RelativeToWorkDir makes it) below workDir, opens its stdout and stderr
// and, with linkLatest, points the "latest" link beside it at it. It walks
// down from a descriptor of the work directory one name at a time, each
// opened relative to the last with O_NOFOLLOW, and does all of it in that
// one walk: an os.Root's MkdirAll, then its OpenRoot of the sandbox, then
// another for the link walked the path three times, and on a busy disk
// each step of a walk costs a few microseconds more than the launch needs.
// A symbolic link on the way (or as stdout or stderr) sends it to
// makeSandboxRoot, which follows one that stays inside the work directory.
func makeSandboxAt(workDir, rel string, linkLatest bool, log *slog.Logger) (stdout, stderr *os.File, err error) {
	stdout, stderr, err = makeSandboxFast(workDir, rel, linkLatest, log)
	if errors.Is(err, errLinked) {
		return makeSandboxRoot(workDir, rel, linkLatest, log)
	}
	return stdout, stderr, err
}

// errLinked: a name on the way is not a directory or a file of its own
// (a symbolic link, say).
var errLinked = errors.New("not a plain directory or file")

func makeSandboxFast(workDir, rel string, linkLatest bool, log *slog.Logger) (stdout, stderr *os.File, err error) {
	fd, err := unix.Open(workDir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("create sandbox: open %s: %w", workDir, err)
	}
	runs := -1 // the sandbox's parent, held for the link
	defer func() {
		unix.Close(fd)
		if runs >= 0 {
			unix.Close(runs)
		}
	}()
	names := strings.Split(rel, "/")
	// .../executors/<executor>/runs/<run>: the executors' directory.
	spreadAt := -1
	if n := len(names); n >= 4 && names[n-4] == executorsDir && names[n-2] == runsDir {
		spreadAt = n - 4
	}
	for i, name := range names {
		// The run's own directory is new, the others mostly exist.
		next, made, err := openDirAt(fd, name, i == len(names)-1)
		if made && i == spreadAt {
			spreadChildren(fd, name, log)
		}
		if errors.Is(err, unix.ENOTDIR) || errors.Is(err, unix.ELOOP) {
			return nil, nil, errLinked
		}
		if err != nil {
			return nil, nil, fmt.Errorf("create sandbox: %s: %w", filepath.Join(names[:i+1]...), err)
		}
		if linkLatest && i == len(names)-1 {
			runs = fd
		} else {
			unix.Close(fd)
		}
		fd = next
	}
	dir := filepath.Join(workDir, rel)
	if stdout, err = openAppendAt(fd, dir, "stdout"); err != nil {
		if errors.Is(err, unix.ELOOP) {
			return nil, nil, errLinked
		}
		return nil, nil, fmt.Errorf("open stdout: %w", err)
	}
	if stderr, err = openAppendAt(fd, dir, "stderr"); err != nil {
		stdout.Close()
		if errors.Is(err, unix.ELOOP) {
			return nil, nil, errLinked
		}
		return nil, nil, fmt.Errorf("open stderr: %w", err)
	}
	if runs >= 0 {
		if err := linkLatestAt(runs, names[len(names)-1]); err != nil {
			log.Warn("linking the latest run", "dir", dir, "err", err)
		}
	}
	return stdout, stderr, nil
}

// openDirAt opens (O_PATH) the directory name of parent, creating it when
// missing, and says whether it made it; a symbolic link is refused. With
// fresh, it is created first, which saves a failed lookup when it is new.
func openDirAt(parent int, name string, fresh bool) (fd int, made bool, err error) {
	const flags = unix.O_PATH | unix.O_DIRECTORY | unix.O_NOFOLLOW | unix.O_CLOEXEC
	if fresh {
		err := unix.Mkdirat(parent, name, 0o755)
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return -1, false, err
		}
		made = err == nil
	}
	for try := 0; ; try++ {
		fd, err := unix.Openat(parent, name, flags, 0)
		if err == nil {
			return fd, made, nil
		}
		if try > 0 || !errors.Is(err, unix.ENOENT) {
			return -1, false, err
		}
		// EEXIST: another launch made it meanwhile.
		err = unix.Mkdirat(parent, name, 0o755)
		if err != nil && !errors.Is(err, unix.EEXIST) {
			return -1, false, err
		}
		made = err == nil
	}
}

// Names in the sandbox's path: <work_dir>/slaves/<agent>/frameworks/
// <framework>/executors/<executor>/runs/<run>.
const (
	executorsDir = "executors"
	runsDir      = "runs"
)

// fsTopDirFlag is linux/fs.h's FS_TOPDIR_FL, which x/sys/unix does not
// name.
const fsTopDirFlag = 0x00020000

// spreadChildren marks the new directory name of parent as the top of
// unrelated trees (FS_TOPDIR_FL, chattr +T), as one marks /home: ext4's
// Orlov allocator then places each executor's directory, and the run, files
// and link below it, in a block group of its own choosing instead of
// packing every sandbox into the group of the framework's directory. Where
// sandboxes come and go, that group fills with inodes freed moments ago,
// which ext4 without a journal steps over one by one on every allocation
// (they are not reused for 30 s to 5 min): on this project's test machines
// a sandbox cost 1.2-2.6 ms of kernel time in such a directory, and about
// 0.2 ms with the mark. Other filesystems ignore or refuse the flag, which
// is only a placement hint, so a failure is logged at debug level and
// nothing else.
func spreadChildren(parent int, name string, log *slog.Logger) {
	fd, err := unix.Openat(parent, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		log.Debug("marking a sandbox parent as a top directory", "dir", name, "err", err)
		return
	}
	defer unix.Close(fd)
	flags, err := unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
	if err == nil && flags&fsTopDirFlag == 0 {
		err = unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, int(flags|fsTopDirFlag))
	}
	if err != nil {
		log.Debug("marking a sandbox parent as a top directory", "dir", name, "err", err)
	}
}

// openAppendAt opens (creating it) the file name of directory fd dir for
// appending, refusing a symbolic link.
func openAppendAt(fd int, dir, name string) (*os.File, error) {
	f, err := unix.Openat(fd, name, unix.O_WRONLY|unix.O_CREAT|unix.O_APPEND|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o644)
	if err != nil {
		return nil, &os.PathError{Op: "openat", Path: filepath.Join(dir, name), Err: err}
	}
	return os.NewFile(uintptr(f), filepath.Join(dir, name)), nil
}

// linkLatestAt points the latest link of the runs directory fd at run. An
// executor's first run makes the link; a later one replaces it through a
// temporary link, renamed over it.
func linkLatestAt(runs int, run string) error {
	err := unix.Symlinkat(run, runs, latestLink)
	if !errors.Is(err, unix.EEXIST) {
		return err
	}
	_ = unix.Unlinkat(runs, latestTmp, 0)
	if err := unix.Symlinkat(run, runs, latestTmp); err != nil {
		return err
	}
	return unix.Renameat(runs, latestTmp, runs, latestLink)
}
