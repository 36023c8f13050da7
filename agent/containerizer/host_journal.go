package containerizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
)

// The executor host records the task process it starts for each container
// in one append-only journal of its runtime directory, hostTasksFile, one
// JSON line per task, instead of a pids.json of the container's own: a new
// file per task is a new directory entry, which on a busy ext4 costs more
// than the rest of the record's work (an append is one write to a file
// already open). What the line says is what the container's pids.json
// said of a hosted container: the host's process (root and executor), the
// task's, and the boot.
//
// The host appends a line as it takes a launch, before it answers the
// agent (the container's sandbox, with no task yet): that line is the
// container's launch record, which a hosted container has instead of a
// launch.json (one file fewer per launch). It appends another once the
// task has started and before it tells the watching agent, as it wrote
// pids.json. A line is written whole by
// one write (a crash leaves it absent, or, after a power cut, unreadable,
// which is read as absent). The latest line of a container wins. Lines of
// containers that have ended, been reported and forgotten are dropped when
// the journal is rewritten (a container is kept while its runtime
// directory exists, while the host runs it, and while its task's process
// lives, which the sweep of a dead host's task needs): by each host as it starts, and
// whenever the lines have grown to twice the kept ones (plus a margin), by
// a temporary file renamed over it. A reader sees the file before or after
// a rewrite, either of which holds every container still recorded.
//
// Records written by an earlier version (a hosted container's pids.json)
// are still read: a container's own pids.json, when it has one, wins.
const hostTasksFile = "executor_host.tasks"

// hostTaskEntry is one line of the journal.
type hostTaskEntry struct {
	ID     string     `json:"id"`
	RunDir string     `json:"run_dir"`
	BootID string     `json:"boot_id"`
	Host   procRecord `json:"host"`
	// Task is zero in the line of a launch whose task has not started.
	Task procRecord `json:"task"`
	// Directory is the container's sandbox.
	Directory string `json:"directory,omitempty"`
}

// launch is the entry as the container's launch.json would have said it.
func (e hostTaskEntry) launch() launchRecord {
	return launchRecord{ID: e.ID, Directory: e.Directory, Hosted: true}
}

// pids is the entry as the container's pids.json would have said it.
func (e hostTaskEntry) pids() pidsRecord {
	task := e.Task
	return pidsRecord{BootID: e.BootID, Root: e.Host, Executor: e.Host, Task: &task, Hosted: true}
}

// readHostTasks reads the journal of runtime directory dir: the latest
// entry of each container. A missing journal is an empty one.
func readHostTasks(dir string) (map[string]hostTaskEntry, error) {
	b, err := os.ReadFile(filepath.Join(dir, hostTasksFile))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("read the executor host's task journal: %w", err)
	}
	return parseHostTasks(b), nil
}

func parseHostTasks(b []byte) map[string]hostTaskEntry {
	out := map[string]hostTaskEntry{}
	for len(b) > 0 {
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		var e hostTaskEntry
		if len(line) == 0 || json.Unmarshal(line, &e) != nil || e.ID == "" {
			continue // torn or empty: absent
		}
		out[e.ID] = e
	}
	return out
}

// hostTaskJournal is the host's writer of the journal.
type hostTaskJournal struct {
	mu   sync.Mutex
	path string
	// running reports whether the host runs a container; nil: none.
	running func(id string) bool
	f       *os.File
	lines   int // in the file now
	limit   int // lines at which it is rewritten
}

// hostJournalMargin is how many lines beyond twice the kept ones the
// journal may grow to before it is rewritten.
const hostJournalMargin = 1024

// openHostTaskJournal opens (creating it) the journal of runtime directory
// dir, rewritten without the entries of containers that are gone; running
// (nil for none) says which containers the host runs.
func openHostTaskJournal(dir string, running func(id string) bool) (*hostTaskJournal, error) {
	j := &hostTaskJournal{path: filepath.Join(dir, hostTasksFile), running: running}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.compactLocked(); err != nil {
		return nil, err
	}
	return j, nil
}

// compactLocked rewrites the journal with the latest entry of each
// container that is not gone, and reopens it; j.mu is held.
func (j *hostTaskJournal) compactLocked() error {
	b, err := os.ReadFile(j.path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("read the executor host's task journal: %w", err)
	}
	var buf bytes.Buffer
	kept := 0
	for _, e := range parseHostTasks(b) {
		if e.RunDir == "" || !j.keeps(e) {
			continue
		}
		line, err := json.Marshal(e)
		if err != nil {
			continue
		}
		buf.Write(line)
		buf.WriteByte('\n')
		kept++
	}
	if err := writeFileAtomic(j.path, buf.Bytes()); err != nil {
		return err
	}
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open the executor host's task journal: %w", err)
	}
	if j.f != nil {
		j.f.Close()
	}
	j.f = f
	j.lines = kept
	j.limit = 2*kept + hostJournalMargin
	return nil
}

// keeps reports whether e's container is not gone: its runtime directory
// exists (it has not been reported and forgotten), the host runs it (a
// hosted container has no directory until it ends), or its task's
// process still runs (its host died, and a sweep may yet need the record).
func (j *hostTaskJournal) keeps(e hostTaskEntry) bool {
	if _, err := os.Stat(e.RunDir); err == nil {
		return true
	}
	if j.running != nil && j.running(e.ID) {
		return true
	}
	return e.Task.Pid > 0 && sameProcess(e.Task.Pid, e.Task.StartTime)
}

// append records e, in one write.
func (j *hostTaskJournal) append(e hostTaskEntry) error {
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("record a task: %w", err)
	}
	line = append(line, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	if _, err := j.f.Write(line); err != nil {
		return fmt.Errorf("record a task: %w", err)
	}
	j.lines++
	if j.lines >= j.limit {
		if err := j.compactLocked(); err != nil {
			// The lines are all still there; the next append tries again
			// after another margin.
			j.limit = j.lines + hostJournalMargin
			return err
		}
	}
	return nil
}

func (j *hostTaskJournal) close() {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f != nil {
		j.f.Close()
		j.f = nil
	}
}
