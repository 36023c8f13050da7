package containerizer

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// dirFlags reads a directory's inode flags (lsattr).
func dirFlags(t *testing.T, dir string) (uint32, error) {
	t.Helper()
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	return unix.IoctlGetUint32(fd, unix.FS_IOC_GETFLAGS)
}

// The directory that holds a framework's executors is marked as the top of
// unrelated trees (chattr +T), so that ext4 spreads the sandboxes over its
// block groups; the directories above and below it are not.
func TestSandboxExecutorsDirIsATopDir(t *testing.T) {
	h, parent := escapeHarness(t)
	// Can this filesystem hold the flag at all?
	probe := filepath.Join(parent, "probe")
	if err := os.Mkdir(probe, 0o755); err != nil {
		t.Fatal(err)
	}
	fd, err := unix.Open(probe, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	err = unix.IoctlSetPointerInt(fd, unix.FS_IOC_SETFLAGS, fsTopDirFlag)
	unix.Close(fd)
	if err != nil {
		t.Skipf("the test's filesystem does not take FS_TOPDIR_FL (%v)", err)
	}
	if f, err := dirFlags(t, probe); err != nil || f&fsTopDirFlag == 0 {
		t.Skipf("the test's filesystem does not keep FS_TOPDIR_FL (flags %#x, %v)", f, err)
	}

	framework := filepath.Join(h.workDir, "slaves", "a", "frameworks", "f")
	executors := filepath.Join(framework, "executors")
	for _, e := range []string{"e1", "e2"} {
		dir := filepath.Join(executors, e, "runs", "r")
		if _, err := h.p.Launch(Spec{ID: e, Directory: dir, Path: "/bin/true", LinkLatest: true}); err != nil {
			t.Fatalf("Launch %s: %v", e, err)
		}
		h.exit()
		if _, err := os.Stat(filepath.Join(dir, "stdout")); err != nil {
			t.Errorf("%s: %v", e, err)
		}
	}
	for dir, top := range map[string]bool{
		executors: true, framework: false,
		filepath.Join(executors, "e1"): false, filepath.Join(executors, "e1", "runs", "r"): false,
	} {
		f, err := dirFlags(t, dir)
		if err != nil {
			t.Fatalf("flags of %s: %v", dir, err)
		}
		if got := f&fsTopDirFlag != 0; got != top {
			t.Errorf("%s: top directory flag %v, want %v", dir, got, top)
		}
	}
}

// Where the filesystem refuses the flag (tmpfs, say), the sandbox is made
// all the same.
func TestSandboxWithoutTopDirSupport(t *testing.T) {
	const shm = "/dev/shm"
	if _, err := os.Stat(shm); err != nil {
		t.Skipf("no %s: %v", shm, err)
	}
	work, err := os.MkdirTemp(shm, "gomesos-sandbox-test")
	if err != nil {
		t.Skipf("no temporary directory in %s: %v", shm, err)
	}
	t.Cleanup(func() { os.RemoveAll(work) })
	dir := filepath.Join(work, "slaves", "a", "frameworks", "f", "executors", "e", "runs", "r")
	rel, err := RelativeToWorkDir(work, dir)
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := makeSandboxAt(work, rel, true, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("makeSandboxAt: %v", err)
	}
	stdout.Close()
	stderr.Close()
	for _, name := range []string{"stdout", "stderr"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Error(err)
		}
	}
	if target, err := os.Readlink(filepath.Join(filepath.Dir(dir), "latest")); err != nil || target != "r" {
		t.Errorf("runs/latest -> %q (%v), want r", target, err)
	}
}
