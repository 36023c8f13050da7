package containerizer

import (
	"os"
	"path/filepath"
	"testing"
)

// The journal keeps the latest entry of each container, reads a torn line
// as absent, and drops, when rewritten, the entries of containers whose
// runtime directory is gone, unless the host runs them (a hosted container
// has no directory before it ends).
func TestHostTaskJournal(t *testing.T) {
	dir := t.TempDir()
	runDir := func(id string) string { return filepath.Join(dir, containersDir, id) }
	for _, id := range []string{"a", "b"} {
		if err := os.MkdirAll(runDir(id), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	j, err := openHostTaskJournal(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	entry := func(id string, pid int) hostTaskEntry {
		return hostTaskEntry{ID: id, RunDir: runDir(id), BootID: "boot", Host: procRecord{Pid: 1, StartTime: 2}, Task: procRecord{Pid: pid, StartTime: uint64(pid) * 10}}
	}
	for _, e := range []hostTaskEntry{entry("a", 100), entry("b", 200), entry("gone", 300), entry("a", 101), entry("hosted", 400)} {
		if err := j.append(e); err != nil {
			t.Fatal(err)
		}
	}
	// A line cut short by a power cut, say.
	f, err := os.OpenFile(filepath.Join(dir, hostTasksFile), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"id":"b","task":{"pid":9`); err != nil {
		t.Fatal(err)
	}
	f.Close()

	got, err := readHostTasks(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 || got["a"].Task.Pid != 101 || got["b"].Task.Pid != 200 || got["gone"].Task.Pid != 300 || got["hosted"].Task.Pid != 400 {
		t.Fatalf("journal = %+v", got)
	}
	if p := got["a"].pids(); !p.Hosted || p.Task == nil || p.Task.StartTime != 1010 || p.Root.Pid != 1 || p.BootID != "boot" {
		t.Errorf("a's record = %+v", p)
	}
	j.close()

	// A new host rewrites it without "gone", whose directory is not,
	// keeping "hosted", which has none but runs.
	j, err = openHostTaskJournal(dir, func(id string) bool { return id == "hosted" })
	if err != nil {
		t.Fatal(err)
	}
	defer j.close()
	got, _ = readHostTasks(dir)
	if len(got) != 3 || got["a"].Task.Pid != 101 || got["b"].Task.Pid != 200 || got["hosted"].Task.Pid != 400 {
		t.Fatalf("rewritten journal = %+v", got)
	}
	// Growing past its limit, it is rewritten as it goes.
	if err := os.RemoveAll(runDir("b")); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < hostJournalMargin+10; i++ {
		if err := j.append(entry("a", 1000+i)); err != nil {
			t.Fatal(err)
		}
	}
	if j.lines > hostJournalMargin {
		t.Errorf("the journal has %d lines, never rewritten", j.lines)
	}
	got, _ = readHostTasks(dir)
	if len(got) != 2 || got["a"].Task.Pid != 1000+hostJournalMargin+9 || got["hosted"].Task.Pid != 400 {
		t.Fatalf("journal after growth = %+v", got)
	}
}

// A missing journal reads as empty.
func TestHostTaskJournalMissing(t *testing.T) {
	got, err := readHostTasks(t.TempDir())
	if err != nil || len(got) != 0 {
		t.Fatalf("readHostTasks = %v, %v", got, err)
	}
}
