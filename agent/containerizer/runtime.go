package containerizer

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The runtime directory holds, per container, what a restarted agent needs
// to find the container's processes again (Mesos keeps the same under
// /var/run/mesos/containers/<id>):
//
//	<RuntimeDir>/containers/<id>/launch.json  the container's ID and sandbox,
//	                                          written before it starts
//	                             pids.json    its processes: the session leader
//	                                          (the supervisor) and the executor,
//	                                          each with its start time, and the
//	                                          boot they belong to
//	                             status       the executor's wait status, in
//	                                          decimal, written by the
//	                                          supervisor (or the executor
//	                                          host) when the executor ends
//
// A container whose executor runs in the executor host (host.go) has its
// directory and status only: its launch record and its processes (the
// host as root and executor, and its task once started) are lines of the
// host's task journal (host_journal.go) instead of a launch.json and a
// pids.json, which earlier versions wrote and recovery still reads.
//
// Every file is written whole or not at all (a temporary file renamed over
// it), so a crash of any process at any moment leaves each either absent
// or complete. Nothing is fsynced: like Mesos's /var/run/mesos (a tmpfs),
// the records only mean something within the boot that wrote them (a
// process that crashes loses nothing the kernel has; after a reboot no
// process of theirs runs, and pids.json's boot ID says so). A record that a
// power cut left empty or missing is read as absent, which is what it is
// after a reboot: the container has ended. Not syncing keeps a launch free
// of the journal commits (several milliseconds each on a busy disk) that a
// thousand launches at once would otherwise queue for. A container's directory is removed once its
// end has been handed to OnExit: an agent that crashes before it has
// checkpointed that end finds the container, after its restart, ended
// with an unknown status.
const (
	containersDir = "containers"
	launchFile    = "launch.json"
	pidsFile      = "pids.json"
	statusFile    = "status"
)

// launchRecord is launch.json.
type launchRecord struct {
	ID        string `json:"container_id"`
	Directory string `json:"directory"`
	// Supervised is true when the executor runs under a supervisor.
	Supervised bool `json:"supervised"`
	// Hosted is true when the executor runs inside the executor host.
	Hosted bool `json:"hosted,omitempty"`
}

// procRecord names one process for as long as it lives: a pid is reused
// once its process is gone, its start time (clock ticks since boot) tells
// the newcomer apart.
type procRecord struct {
	Pid       int    `json:"pid"`
	StartTime uint64 `json:"start_time"`
}

// pidsRecord is pids.json.
type pidsRecord struct {
	// BootID is the boot the processes ran in; after a reboot none of them
	// is running, whatever the pids say.
	BootID string `json:"boot_id"`
	// Root leads the container's session and process group: the
	// supervisor, or the executor itself when unsupervised.
	Root     procRecord `json:"root"`
	Executor procRecord `json:"executor"`
	// Task is a hosted container's task process (the leader of its own
	// session), once it has started; Root and Executor are then the host.
	Task *procRecord `json:"task,omitempty"`
	// Hosted marks the records the executor host writes: their root is
	// the host, which no sweep of the container may kill.
	Hosted bool `json:"hosted,omitempty"`
}

// recordProc describes the running process pid.
func recordProc(pid int) procRecord {
	start, _, _ := procIdentity(pid)
	return procRecord{Pid: pid, StartTime: start}
}

// sameProcess reports whether pid is the live process that started at start.
func sameProcess(pid int, start uint64) bool {
	s, zombie, ok := procIdentity(pid)
	return ok && !zombie && s == start
}

// writeFileAtomic replaces path with data so that a crash of the writer
// leaves either the old file or the new one, never a part. It does not
// fsync (see the runtime directory's comment above).
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// writeNewJSON creates path, which must not exist, with v in one write:
// a process that crashes leaves it absent, empty (read as absent) or whole.
// It is for a file in a directory just made, with nothing to replace.
func writeNewJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	_, err = f.Write(append(b, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return writeFileAtomic(path, append(b, '\n'))
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}

// writeStatus records the executor's wait status in the container's
// runtime directory.
func writeStatus(dir string, status int) error {
	return writeFileAtomic(filepath.Join(dir, statusFile), []byte(strconv.Itoa(status)+"\n"))
}

// readStatus returns the wait status the supervisor recorded, if any.
func readStatus(dir string) (int, bool) {
	b, err := os.ReadFile(filepath.Join(dir, statusFile))
	if err != nil {
		return 0, false
	}
	status, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || status < 0 {
		return 0, false
	}
	return status, true
}
