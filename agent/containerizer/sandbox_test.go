package containerizer

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomesos/gomesos/internal/ids"
)

// escapeHarness is a containerizer whose work directory sits alone in a
// parent directory, so that anything created outside the work directory
// shows up beside it.
func escapeHarness(t *testing.T) (*harness, string) {
	parent := t.TempDir()
	work := filepath.Join(parent, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, workDir: work, exits: make(chan Termination, 16)}
	h.p = NewPosix(Options{WorkDir: work, SupervisorPath: supervisor(t), OnExit: func(tm Termination) { h.exits <- tm }})
	t.Cleanup(h.p.DestroyAll)
	return h, parent
}

// onlyWorkDir fails the test when the work directory's parent holds
// anything but the work directory (and what the test put there itself).
func onlyWorkDir(t *testing.T, parent string, planted ...string) {
	t.Helper()
	var names []string
	err := filepath.WalkDir(parent, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(parent, p)
		if rel == "." || rel == "work" || strings.HasPrefix(rel, "work"+string(filepath.Separator)) {
			return nil
		}
		names = append(names, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if !slices.Contains(planted, name) {
			t.Errorf("%s was created outside the work directory", name)
		}
	}
}

// A sandbox must lie strictly below the work directory: one that is the work
// directory, leaves it by "..", or is elsewhere altogether is refused before
// anything is created or started. A containerizer with no work directory
// refuses every launch.
func TestLaunchRefusesSandboxOutsideWorkDir(t *testing.T) {
	h, parent := escapeHarness(t)
	w := h.workDir
	for _, dir := range []string{
		w,
		w + "/",
		w + "/..",
		w + "/../x",
		w + "/slaves/a/frameworks/f/executors/../../../../../../x/runs/c",
		w + "/slaves/a/frameworks/f/executors/../../../../../../../x",
		parent + "/elsewhere",
		"/",
		"relative/sandbox",
		"",
	} {
		if _, err := h.p.Launch(Spec{ID: "c", Directory: dir, Path: "/bin/true"}); err == nil {
			t.Errorf("Launch in %q succeeded", dir)
		}
	}
	if len(h.p.Pids()) != 0 || len(h.exits) != 0 {
		t.Errorf("a refused launch started something: %v", h.p.Pids())
	}
	onlyWorkDir(t, parent)
	if entries, _ := os.ReadDir(w); len(entries) != 0 {
		t.Errorf("refused launches left %v in the work directory", entries)
	}

	none := NewPosix(Options{})
	if _, err := none.Launch(Spec{ID: "c", Directory: filepath.Join(w, "s"), Path: "/bin/true"}); err == nil || !strings.Contains(err.Error(), "no work directory") {
		t.Errorf("Launch without a work directory: %v", err)
	}
}

// A symbolic link inside the work directory that points out of it (left by
// an executor, say) does not carry a sandbox, or its stdout, out with it.
func TestLaunchRefusesSymlinkedEscape(t *testing.T) {
	h, parent := escapeHarness(t)
	outside := filepath.Join(parent, "outside")
	if err := os.Mkdir(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(h.workDir, "runs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(h.workDir, "slaves")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(h.workDir, "runs", "c2")); err != nil {
		t.Fatal(err)
	}
	for id, dir := range map[string]string{
		"c1": filepath.Join(h.workDir, "slaves", "a", "runs", "c1"),
		"c2": filepath.Join(h.workDir, "runs", "c2"),
	} {
		if _, err := h.p.Launch(Spec{ID: id, Directory: dir, Path: "/bin/true"}); err == nil {
			t.Errorf("Launch in %s (through a link out of the work directory) succeeded", dir)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("launches through a link created %v outside the work directory", entries)
	}
	onlyWorkDir(t, parent, "outside")

	// A link that stays inside the work directory is followed.
	if err := os.Mkdir(filepath.Join(h.workDir, "real"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("real", filepath.Join(h.workDir, "inside")); err != nil {
		t.Fatal(err)
	}
	if _, err := h.p.Launch(Spec{ID: "c3", Directory: filepath.Join(h.workDir, "inside", "c3"), Path: "/bin/true"}); err != nil {
		t.Errorf("Launch through a link inside the work directory: %v", err)
	}
	h.exit()
	if _, err := os.Stat(filepath.Join(h.workDir, "real", "c3", "stdout")); err != nil {
		t.Errorf("sandbox through an inner link: %v", err)
	}
}

// FuzzSandboxPath: for any ids, either Mesos's id rule refuses one of them,
// or the sandbox built from them is strictly inside the work directory. And
// whatever path ids are joined into without the rule, the containerizer
// either refuses it or creates it inside the work directory, and nothing
// outside.
func FuzzSandboxPath(f *testing.F) {
	for _, seed := range [][4]string{
		{"m-S0", "m-0000", "ex", "0f8e4c56-1b7d-4f6a-9c3e-2d5b7a9e1f00"},
		{"m-S0", "m-0000", "../../x", "c"},
		{"m-S0", "m-0000", "..", "c"},
		{"m-S0", "m-0000", ".", "c"},
		{"m-S0", "m-0000", "a/b", "c"},
		{"m-S0", "m-0000", `a\b`, "c"},
		{"m-S0", "m-0000", "a\x01b", "c"},
		{"..", "..", "..", ".."},
		{"a", "../../../../../../..", "b", "c"},
		{"a", "f", "e", "../../../../../../../../tmp"},
		{"", "", "", ""},
		{"a", "f", "é", "c d"},
	} {
		f.Add(seed[0], seed[1], seed[2], seed[3])
	}
	parent := f.TempDir()
	work := filepath.Join(parent, "work")
	if err := os.Mkdir(work, 0o755); err != nil {
		f.Fatal(err)
	}
	p := NewPosix(Options{WorkDir: work})
	f.Fuzz(func(t *testing.T, agent, framework, executor, container string) {
		valid := ids.Validate(agent) == nil && ids.Validate(framework) == nil &&
			ids.Validate(executor) == nil && ids.ValidateContainerID(container) == nil
		dir, err := ids.Sandbox(work, agent, framework, executor, container)
		switch {
		case err != nil && valid:
			t.Fatalf("valid ids refused: %v", err)
		case err == nil && !valid:
			t.Fatalf("invalid ids made sandbox %q", dir)
		case err == nil:
			if rel, err := RelativeToWorkDir(work, dir); err != nil || !filepath.IsLocal(rel) {
				t.Fatalf("sandbox %q of valid ids is not inside %q: %v", dir, work, err)
			}
		}

		raw := filepath.Join(work, "slaves", agent, "frameworks", framework, "executors", executor, "runs", container)
		stdout, stderr, err := p.makeSandbox(raw, true)
		if err == nil {
			stdout.Close()
			stderr.Close()
			real, err := filepath.EvalSymlinks(raw)
			if err != nil || !ids.Within(work, real) || real == work {
				t.Fatalf("sandbox %q was made at %q (%v), not inside %q", raw, real, err, work)
			}
		}
		entries, err := os.ReadDir(parent)
		if err != nil || len(entries) != 1 || entries[0].Name() != "work" {
			t.Fatalf("ids %q made something outside the work directory: %v", []string{agent, framework, executor, container}, entries)
		}
	})
}

// The sandbox's stdout or stderr planted beforehand as a link out of the
// work directory is not written through: the launch fails, and the file
// outside stays as it was.
func TestLaunchRefusesLinkedStdout(t *testing.T) {
	h, parent := escapeHarness(t)
	outside := filepath.Join(parent, "outside")
	if err := os.WriteFile(outside, []byte("keep\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, name := range []string{"stdout", "stderr"} {
		id := "c" + string(rune('1'+i))
		dir := filepath.Join(h.workDir, "slaves", "a", "runs", id)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(outside, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
		if _, err := h.p.Launch(Spec{ID: id, Directory: dir, Path: "/bin/sh", Args: []string{"sh", "-c", "echo leaked; echo leaked >&2"}}); err == nil {
			h.exit()
			t.Errorf("Launch with %s linked out of the work directory succeeded", name)
		}
	}
	if b, err := os.ReadFile(outside); err != nil || string(b) != "keep\n" {
		t.Errorf("the file outside holds %q (%v)", b, err)
	}
	onlyWorkDir(t, parent, "outside")
}

// LinkLatest points runs/latest at each new run of an executor in turn,
// as a relative link, replacing the last one's.
func TestLaunchLinksLatest(t *testing.T) {
	h, _ := escapeHarness(t)
	runs := filepath.Join(h.workDir, "slaves", "a", "frameworks", "f", "executors", "e", "runs")
	for _, id := range []string{"r1", "r2"} {
		dir := filepath.Join(runs, id)
		if _, err := h.p.Launch(Spec{ID: id, Directory: dir, Path: "/bin/true", LinkLatest: true}); err != nil {
			t.Fatalf("Launch %s: %v", id, err)
		}
		h.exit()
		if target, err := os.Readlink(filepath.Join(runs, "latest")); err != nil || target != id {
			t.Errorf("after run %s, runs/latest -> %q (%v)", id, target, err)
		}
		if _, err := os.Stat(filepath.Join(runs, "latest", "stdout")); err != nil {
			t.Errorf("runs/latest/stdout after run %s: %v", id, err)
		}
	}
	if _, err := os.Lstat(filepath.Join(runs, "latest.tmp")); err == nil {
		t.Error("runs/latest.tmp was left behind")
	}
	// Without LinkLatest no link is made.
	other := filepath.Join(h.workDir, "slaves", "a", "frameworks", "f", "executors", "x", "runs")
	if _, err := h.p.Launch(Spec{ID: "r3", Directory: filepath.Join(other, "r3"), Path: "/bin/true"}); err != nil {
		t.Fatal(err)
	}
	h.exit()
	if _, err := os.Lstat(filepath.Join(other, "latest")); err == nil {
		t.Error("a launch without LinkLatest linked runs/latest")
	}
}
