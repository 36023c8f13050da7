package containerizer

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gomesos/gomesos/internal/testutil"
)

// A hosted container whose host died while no agent ran is found by the
// host's task journal: Recover kills its task's session, which outlived
// the host, and reports the container ended with an unknown status.
func TestRecoverSweepsJournaledTaskOfDeadHost(t *testing.T) {
	h := restarted(t, t.TempDir())
	task := exec.Command("sleep", "1000")
	task.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := task.Start(); err != nil {
		t.Fatal(err)
	}
	ended := make(chan struct{})
	go func() { _ = task.Wait(); close(ended) }()
	t.Cleanup(func() {
		_ = task.Process.Kill()
		<-ended
	})

	if err := os.MkdirAll(h.runDir("c"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeNewJSON(filepath.Join(h.runDir("c"), launchFile), launchRecord{ID: "c", Directory: h.sandbox("c"), Hosted: true}); err != nil {
		t.Fatal(err)
	}
	j, err := openHostTaskJournal(filepath.Join(h.workDir, "runtime"))
	if err != nil {
		t.Fatal(err)
	}
	err = j.append(hostTaskEntry{ID: "c", RunDir: h.runDir("c"), BootID: bootID(), Task: recordProc(task.Process.Pid)})
	j.close()
	if err != nil {
		t.Fatal(err)
	}

	got, err := h.p.Recover([]string{"c"})
	if err != nil || len(got) != 0 {
		t.Fatalf("Recover = %+v, %v; want nothing adopted", got, err)
	}
	tm := h.exit()
	if tm.ID != "c" || tm.Status != -1 || tm.Destroyed {
		t.Errorf("termination = %+v (%s)", tm, tm)
	}
	select {
	case <-ended:
	case <-time.After(patience):
		t.Fatal("the task of the dead host survived recovery")
	}
	testutil.WaitFor(t, "the runtime directory to go", patience, func() bool {
		_, err := os.Stat(h.runDir("c"))
		return errors.Is(err, os.ErrNotExist)
	})
}
