package agent

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// A filesystem left mounted below a directory gc removes is detached
// first, so that the removal does not reach into it; the directory then
// goes, and what was in the mounted filesystem stays where it is.
func TestGCRemoveTreeDetachesMounts(t *testing.T) {
	work := t.TempDir()
	sandbox := filepath.Join(work, "run")
	volume := filepath.Join(work, "volume")
	target := filepath.Join(sandbox, "vol")
	mkdirs(t, target, volume)
	if err := os.WriteFile(filepath.Join(volume, "keep"), []byte("data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount(volume, target, "", unix.MS_BIND, ""); err != nil {
		t.Skipf("cannot bind-mount here: %v", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(target, unix.MNT_DETACH) })
	if got, err := mountsBelow(sandbox); err != nil || len(got) != 1 || got[0] != target {
		t.Fatalf("mountsBelow = %v, %v; want [%s]", got, err, target)
	}
	if err := removeTree(sandbox); err != nil {
		t.Fatalf("removeTree: %v", err)
	}
	if exists(sandbox) {
		t.Errorf("%s still exists", sandbox)
	}
	if data, err := os.ReadFile(filepath.Join(volume, "keep")); err != nil || string(data) != "data" {
		t.Errorf("the mounted volume's file: %q, %v; want it kept", data, err)
	}
}
