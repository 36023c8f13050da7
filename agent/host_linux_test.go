package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/gomesos/gomesos/agent/containerizer"
	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/internal/testutil"
)

// statField reads field n (1-based, as proc(5) numbers them) of a
// process's stat line.
func statField(t *testing.T, pid, n int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("process %d: %v", pid, err)
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	return f[n-3]
}

func cmdline(pid int) string {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.ReplaceAll(string(b), "\x00", " ")
}

// Command tasks run in one executor host per agent: every task's executor
// pid is the host's, the host is the task's parent, and the task leads a
// session of its own.
func TestExecutorHostRunsCommandTasks(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	a := startAgent(t, fm, nil)
	defer a.stop(t)
	agentID := a.registered(t)
	cmd := `echo $$ > "$MESOS_SANDBOX/task.pid"; exec sleep 1000`
	fm.send(runTask(commandTask("one", agentID, cmd)))
	fm.send(runTask(commandTask("two", agentID, cmd)))
	one, two := waitRunning(t, fm, "one"), waitRunning(t, fm, "two")
	host := int(one.GetStatus().GetContainerStatus().GetExecutorPid())
	if other := int(two.GetStatus().GetContainerStatus().GetExecutorPid()); host <= 0 || other != host {
		t.Fatalf("executor pids %d and %d, want the same host", host, other)
	}
	if !strings.Contains(cmdline(host), containerizer.HostArg) {
		t.Fatalf("executor pid %d is %q, not the executor host", host, cmdline(host))
	}
	for _, id := range []string{"one", "two"} {
		pid := testutil.WaitPIDFile(t, filepath.Join(sandboxOf(t, a, id), "task.pid"), patience)
		if ppid := statField(t, pid, 4); ppid != strconv.Itoa(host) {
			t.Errorf("task %s (pid %d) has parent %s, want the host %d", id, pid, ppid, host)
		}
		if sid := statField(t, pid, 6); sid != strconv.Itoa(pid) {
			t.Errorf("task %s (pid %d) is in session %s, want its own", id, pid, sid)
		}
	}
	fm.send(killTask("one", 0))
	fm.waitUpdate("one", mesos.TaskState_TASK_KILLED)
	if !containerizer.ProcessAlive(host) {
		t.Fatal("the host ended with one of its containers")
	}
}

// A task in the host outlives an agent restart: the new agent adopts it,
// and its end, while the agent was down or after, reaches the master with
// the task's real exit status.
func TestExecutorHostTaskEndsReportedAcrossRestart(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	dir := t.TempDir()
	a := startAgent(t, fm, func(c *Config) { c.WorkDir = dir })
	agentID := a.registered(t)
	// Each task exits with its status once its sandbox holds "go".
	wait := func(code int) string {
		return fmt.Sprintf(`echo $$ > "$MESOS_SANDBOX/task.pid"; while [ ! -e "$MESOS_SANDBOX/go" ]; do sleep 0.05; done; exit %d`, code)
	}
	fm.send(runTaskOf("fw-1", true, commandTask("down", agentID, wait(7))))
	fm.send(runTaskOf("fw-1", true, commandTask("after", agentID, wait(9))))
	waitRunning(t, fm, "down")
	waitRunning(t, fm, "after")
	downBox, afterBox := sandboxOf(t, a, "down"), sandboxOf(t, a, "after")
	downPid := testutil.WaitPIDFile(t, filepath.Join(downBox, "task.pid"), patience)
	a.exit(t)

	// "down" ends while no agent runs.
	if err := os.WriteFile(filepath.Join(downBox, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the task to end while the agent is down", func() bool { return !containerizer.ProcessAlive(downPid) })

	b := startAgent(t, fm, func(c *Config) { c.WorkDir = dir; c.Port = a.port })
	defer b.stop(t)
	b.registered(t)
	// The acknowledgements of the tasks' TASK_RUNNING may not have reached
	// the first agent before it exited: the second one resends them, and
	// they are acknowledged again until the end.
	last := func(task string) *agentproto.StatusUpdate {
		fm.ackUntilTerminal(task)
		ups := fm.updatesFor(task)
		return ups[len(ups)-1]
	}
	down := last("down")
	if got := down.GetStatus().GetMessage(); down.GetStatus().GetState() != mesos.TaskState_TASK_FAILED || got != "Command exited with status 7" {
		t.Errorf("down: %v", down.GetStatus())
	}
	if err := os.WriteFile(filepath.Join(afterBox, "go"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	after := last("after")
	if got := after.GetStatus().GetMessage(); after.GetStatus().GetState() != mesos.TaskState_TASK_FAILED || got != "Command exited with status 9" || after.GetStatus().GetSource() != mesos.TaskStatus_SOURCE_EXECUTOR {
		t.Errorf("after: %v", after.GetStatus())
	}
}

// The host is a shared failure domain: when it dies, every container in
// it ends, reported as such, and no task process is left.
func TestExecutorHostKilledEndsItsContainers(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	a := startAgent(t, fm, nil)
	defer a.stop(t)
	agentID := a.registered(t)
	cmd := `echo $$ > "$MESOS_SANDBOX/task.pid"; sleep 1000 & sleep 1000`
	fm.send(runTask(commandTask("one", agentID, cmd)))
	fm.send(runTask(commandTask("two", agentID, cmd)))
	one := waitRunning(t, fm, "one")
	waitRunning(t, fm, "two")
	host := int(one.GetStatus().GetContainerStatus().GetExecutorPid())
	var pids []int
	for _, id := range []string{"one", "two"} {
		pids = append(pids, testutil.WaitPIDFile(t, filepath.Join(sandboxOf(t, a, id), "task.pid"), patience))
	}
	if err := syscall.Kill(host, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"one", "two"} {
		fm.ackUntilTerminal(id)
		ups := fm.updatesFor(id)
		if st := ups[len(ups)-1]; st.GetStatus().GetSource() != mesos.TaskStatus_SOURCE_AGENT {
			t.Errorf("%s ended %v, want the agent's report", id, st.GetStatus())
		}
	}
	for _, pid := range pids {
		// The task's session: its shell and both sleeps.
		eventually(t, "the task's processes to be gone", func() bool {
			return !containerizer.ProcessAlive(pid) && len(sessionMembers(pid)) == 0
		})
	}
}

// sessionMembers lists the live processes of a session.
func sessionMembers(sid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		if len(f) > 3 && f[3] == strconv.Itoa(sid) && f[0] != "Z" {
			out = append(out, pid)
		}
	}
	return out
}

// With cgroups isolation a hosted task is born in its container's cgroups
// (no fork escapes them), while no thread of the host stays there.
func TestExecutorHostTaskInContainerCgroups(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: cgroups isolation needs root")
	}
	host, err := containerizer.DetectCgroups()
	if err != nil {
		t.Skipf("skipping: no usable cgroups here: %v", err)
	}
	root := fmt.Sprintf("gomesos-host-test-%d", os.Getpid())
	if err := containerizer.CgroupsWritable(host, root); err != nil {
		t.Skipf("skipping: cgroups are not writable here: %v", err)
	}
	isolators, resolved, err := containerizer.IsolatorsFor(containerizer.DefaultCgroupsIsolation, containerizer.CgroupsOptions{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, m := range host.Mounts {
			_ = os.Remove(filepath.Join(m, root))
		}
	})
	checkLeaks(t)
	fm := newFakeMaster(t)
	a := startAgent(t, fm, func(c *Config) { c.Isolators, c.Isolation = isolators, resolved })
	defer a.stop(t)
	agentID := a.registered(t)
	fm.send(runTask(commandTask("boxed", agentID, `sleep 1000 & echo $! > "$MESOS_SANDBOX/child.pid"; echo $$ > "$MESOS_SANDBOX/task.pid"; wait`)))
	up := waitRunning(t, fm, "boxed")
	container := up.GetStatus().GetContainerStatus().GetContainerId().GetValue()
	hostPid := int(up.GetStatus().GetContainerStatus().GetExecutorPid())
	box := sandboxOf(t, a, "boxed")
	want := "/" + root + "/" + container
	for _, f := range []string{"task.pid", "child.pid"} {
		pid := testutil.WaitPIDFile(t, filepath.Join(box, f), patience)
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			parts := strings.SplitN(line, ":", 3)
			if len(parts) == 3 && (strings.Contains(parts[1], "memory") || strings.Contains(parts[1], "pids") || (host.Version == 2 && parts[1] == "")) && parts[2] != want {
				t.Errorf("%s (pid %d) is in %s, want %s", f, pid, line, want)
			}
		}
	}
	// The thread that forked the task into the cgroups ends right after
	// the fork (asynchronously, on a loaded machine a moment later): none
	// stays there.
	eventually(t, "no thread of the host left in the container's cgroup", func() bool {
		threads, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", hostPid))
		for _, th := range threads {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/cgroup", hostPid, th.Name()))
			if strings.Contains(string(b), container) {
				return false
			}
		}
		return true
	})
	fm.send(killTask("boxed", 0))
	fm.waitUpdate("boxed", mesos.TaskState_TASK_KILLED)
}

// The executors of the host reach the agent over its unix socket, all of
// them on one connection of frames: with eight tasks running the host holds
// no TCP socket, and the agent's runtime directory has agent.sock.
func TestHostedExecutorsShareTheAgentSocket(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	a := startAgent(t, fm, nil)
	defer a.stop(t)
	agentID := a.registered(t)
	sock := filepath.Join(a.cfg.RuntimeDir, "agent.sock")
	if len(sock) > 107 {
		t.Skipf("the test's runtime directory is too long for a socket: %s", sock)
	}
	const n = 8
	for i := range n {
		fm.send(runTask(commandTask(fmt.Sprint("t", i), agentID, "exec sleep 1000")))
	}
	var host int
	for i := range n {
		up := waitRunning(t, fm, fmt.Sprint("t", i))
		host = int(up.GetStatus().GetContainerStatus().GetExecutorPid())
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("no socket at %s: %v", sock, err)
	}
	tcp := map[string]bool{}
	for _, table := range []string{"tcp", "tcp6"} {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", host, table))
		for _, line := range strings.Split(string(b), "\n")[1:] {
			if f := strings.Fields(line); len(f) > 9 {
				tcp[f[9]] = true // the socket's inode
			}
		}
	}
	// The host's own socket and the connections the containerizer keeps
	// to it for its launches (a few, however many executors) are not the
	// executors'.
	own := map[string]bool{}
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/net/unix", host))
	for _, line := range strings.Split(string(b), "\n")[1:] {
		if f := strings.Fields(line); len(f) >= 8 && strings.HasSuffix(f[7], "executor_host.sock") {
			own[f[6]] = true
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", host))
	if err != nil {
		t.Fatal(err)
	}
	sockets, tcpSockets := 0, 0
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", host, fd.Name()))
		if inode, ok := strings.CutPrefix(link, "socket:["); err == nil && ok && !own[strings.TrimSuffix(inode, "]")] {
			sockets++
			if tcp[strings.TrimSuffix(inode, "]")] {
				tcpSockets++
			}
		}
	}
	if tcpSockets > 0 || sockets >= n {
		t.Errorf("the host holds %d sockets, %d of them TCP, for %d executors; want no TCP and fewer than %d", sockets, tcpSockets, n, n)
	}
}
