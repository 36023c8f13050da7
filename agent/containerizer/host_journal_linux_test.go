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
	j, err := openHostTaskJournal(filepath.Join(h.workDir, "runtime"), nil)
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

// A hosted container has no launch.json, and no runtime directory until
// its executor ends: its launch record is the host's journal line, written
// as the host took the launch. Recover reads it (the sandbox included) and
// reports a container that ended while no agent ran with the status its
// host recorded, and one its dead host ran with no directory yet as ended
// with an unknown status; a journal line of a container the agent does not
// know, whose task is gone, was forgotten: nothing is reported. A runtime
// directory with no record at all (a launch that never reached the host)
// is an orphan when unknown and ended, status unknown, when known.
func TestRecoverHostedLaunchRecordFromJournal(t *testing.T) {
	h := restarted(t, t.TempDir())
	for _, id := range []string{"ended", "unrecorded", "orphan"} {
		if err := os.MkdirAll(h.runDir(id), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := writeStatus(h.runDir("ended"), 7<<8); err != nil {
		t.Fatal(err)
	}
	runtime := filepath.Join(h.workDir, "runtime")
	j, err := openHostTaskJournal(runtime, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The launches' lines: a host long gone, no task yet.
	for _, id := range []string{"ended", "nodir", "forgotten"} {
		err = j.append(hostTaskEntry{ID: id, RunDir: h.runDir(id), BootID: bootID(), Host: procRecord{Pid: 1 << 30, StartTime: 1}, Directory: h.sandbox(id)})
		if err != nil {
			t.Fatal(err)
		}
	}
	j.close()
	journal, err := readHostTasks(runtime)
	if err != nil {
		t.Fatal(err)
	}
	r := readRecovery(filepath.Join(runtime, containersDir), "ended", journal)
	if !r.recorded || !r.launch.Hosted || r.launch.Directory != h.sandbox("ended") || !r.havePids || r.pids.Task == nil || r.pids.Task.Pid != 0 {
		t.Errorf("the journal's launch record read as %+v", r)
	}

	got, err := h.p.Recover([]string{"ended", "unrecorded", "nodir"})
	if err != nil || len(got) != 0 {
		t.Fatalf("Recover = %+v, %v; want nothing adopted", got, err)
	}
	ends := map[string]Termination{}
	for range 3 {
		tm := h.exit()
		ends[tm.ID] = tm
	}
	if tm := ends["ended"]; tm.Status != 7<<8 || tm.Destroyed {
		t.Errorf("ended: termination %+v (%s), want exit status 7", tm, tm)
	}
	for _, id := range []string{"unrecorded", "nodir"} {
		if tm, ok := ends[id]; !ok || tm.Status != -1 {
			t.Errorf("%s: termination %+v (%v), want an unknown status", id, tm, ok)
		}
	}
	h.noExit()
	for _, id := range []string{"ended", "unrecorded", "orphan"} {
		testutil.WaitFor(t, id+"'s runtime directory to go", patience, func() bool {
			_, err := os.Stat(h.runDir(id))
			return errors.Is(err, os.ErrNotExist)
		})
	}
}

// The host records a hosted executor's end in a runtime directory it makes
// (with its parent, when no container made that yet), which recovery reads.
func TestHostRecordsEndInANewRunDir(t *testing.T) {
	runtime := t.TempDir()
	for i, id := range []string{"first", "second"} {
		dir := filepath.Join(runtime, containersDir, id)
		if err := recordEnd(dir, (i+1)<<8); err != nil {
			t.Fatalf("recording %s's end: %v", id, err)
		}
		if st, ok := readStatus(dir); !ok || st != (i+1)<<8 {
			t.Errorf("%s's status = %d, %v; want %d", id, st, ok, (i+1)<<8)
		}
	}
}

// An executor that ends after its agent's runtime directory was removed
// leaves nothing behind: the directory is not made again.
func TestHostRecordsNoEndWhenTheRuntimeDirIsGone(t *testing.T) {
	runtime := filepath.Join(t.TempDir(), "runtime")
	dir := filepath.Join(runtime, containersDir, "late")
	if err := recordEnd(dir, 9); err == nil {
		t.Fatal("recorded an end under a runtime directory that is gone")
	}
	if _, err := os.Stat(runtime); !os.IsNotExist(err) {
		t.Fatalf("the runtime directory was made again: %v", err)
	}
}
