package containerizer

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/internal/testutil"
)

// needNamespaces skips a test where pid and mount namespaces cannot be
// made.
func needNamespaces(t *testing.T) {
	t.Helper()
	if err := NamespacesAvailable(); err != nil {
		t.Skipf("skipping: namespaces/pid and filesystem/linux need pid and mount namespaces: %v", err)
	}
}

func (h *harness) launchSpec(spec Spec) int {
	h.t.Helper()
	if spec.Directory == "" {
		spec.Directory = h.sandbox(spec.ID)
	}
	if spec.Path == "" {
		spec.Path = "/bin/sh"
	}
	spec.Env = append([]string{"PATH=" + os.Getenv("PATH")}, spec.Env...)
	pid, err := h.p.Launch(spec)
	if err != nil {
		h.t.Fatal(err)
	}
	return pid
}

func shell(id, script string) Spec {
	return Spec{ID: id, Args: []string{"sh", "-c", script}}
}

// nsPid is the process's pid in its own pid namespace, from the host's
// /proc/<pid>/status (NSpid lists it in every namespace, outermost first).
func nsPid(t *testing.T, pid int) int {
	t.Helper()
	n, ok := nsPidOf(pid)
	if !ok {
		t.Fatalf("no NSpid in /proc/%d/status", pid)
	}
	return n
}

func nsPidOf(pid int) (int, bool) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "NSpid:"); ok {
			f := strings.Fields(v)
			n, err := strconv.Atoi(f[len(f)-1])
			return n, err == nil
		}
	}
	return 0, false
}

// With namespaces/pid, the task sees only its container's processes: the
// supervisor as pid 1, the executor, and what the executor runs;
// `ps` shows a handful. The pid the containerizer reports is the host's.
func TestPidNamespaceShowsOnlyTheContainer(t *testing.T) {
	needNamespaces(t)
	h := newHarness(t, FilesystemLinux{}, PidNamespace{})
	pid := h.launchSpec(shell("pidns", `echo $$ > self; cat /proc/1/cmdline | tr '\0' ' ' > init; ps -e -o pid= > ps.out; sleep 1000`))
	dir := h.sandbox("pidns")
	testutil.WaitFor(t, "the task's ps", patience, func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "ps.out"))
		return err == nil && len(b) > 0 && readTrim(t, filepath.Join(dir, "self")) != ""
	})
	// The reported pid is the executor's on the host; inside, it has
	// another (after the supervisor's threads).
	inside := nsPid(t, pid)
	if got := readTrim(t, filepath.Join(dir, "self")); got != strconv.Itoa(inside) || inside == pid {
		t.Errorf("the executor's pid inside is %s; the reported pid %d is %d inside", got, pid, inside)
	}
	if init := readTrim(t, filepath.Join(dir, "init")); !strings.Contains(init, SuperviseArg) {
		t.Errorf("pid 1 inside is %q, want the supervisor", init)
	}
	// ps may not have written all yet: wait for its whole output.
	var lines []string
	testutil.WaitFor(t, "ps to finish", patience, func() bool {
		lines = strings.Fields(readTrim(t, filepath.Join(dir, "ps.out")))
		return len(lines) >= 3
	})
	if len(lines) > 6 {
		t.Errorf("ps inside the container lists %d processes, want a handful: %v", len(lines), lines)
	}
	if err := h.p.Destroy("pidns"); err != nil {
		t.Fatal(err)
	}
	if tm := h.exit(); !tm.Destroyed || tm.Pid != pid {
		t.Errorf("termination = %+v (%s)", tm, tm)
	}
	if !testutil.ProcessGone(pid) {
		t.Errorf("the executor %d survived its container", pid)
	}
}

// The supervisor is the pid namespace's init: it reaps the orphans the
// container leaves, which would otherwise stay zombies.
func TestPidNamespaceReapsOrphans(t *testing.T) {
	needNamespaces(t)
	h := newHarness(t, FilesystemLinux{}, PidNamespace{})
	h.launchSpec(shell("reap", `(sleep 0.1 & echo $! > orphan); sleep 1000`))
	dir := h.sandbox("reap")
	var orphan int
	testutil.WaitFor(t, "the orphan's pid", patience, func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "orphan"))
		if err != nil {
			return false
		}
		orphan, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	// orphan is its pid inside; the supervisor's children outside are
	// the executor and, until reaped, the orphan.
	h.p.mu.Lock()
	sup := h.p.containers["reap"].root
	h.p.mu.Unlock()
	testutil.WaitFor(t, "the orphan to be reaped", patience, func() bool {
		for _, pi := range listProcs() {
			if n, ok := nsPidOf(pi.pid); ok && pi.ppid == sup && n == orphan {
				return false
			}
		}
		return true
	})
}

// filesystem/linux gives the container the sandbox's tmp as /tmp: a file
// written there lands in the sandbox, not in the host's /tmp; the sandbox
// stays reachable at its path (here below /tmp, as a test's work
// directory is); and no mount shows on the host.
func TestFilesystemLinuxPrivateTmp(t *testing.T) {
	needNamespaces(t)
	h := newHarness(t, FilesystemLinux{})
	name := fmt.Sprintf("gomesos-test-%d-%s", os.Getpid(), strings.ReplaceAll(t.Name(), "/", "_"))
	h.launchSpec(shell("tmp", `echo private > /tmp/`+name+` && cat /tmp/`+name+` > "$MESOS_SANDBOX/seen" && ls -ld /tmp | cut -c1-10 > "$MESOS_SANDBOX/mode"`))
	if tm := h.exit(); tm.ExitCode() != 0 {
		out, _ := os.ReadFile(filepath.Join(h.sandbox("tmp"), "stderr"))
		t.Fatalf("task ended %s: %s", tm, out)
	}
	if got := readTrim(t, filepath.Join(h.sandbox("tmp"), sandboxTmp, name)); got != "private" {
		t.Errorf("the sandbox's tmp holds %q", got)
	}
	if got := readTrim(t, filepath.Join(h.sandbox("tmp"), "seen")); got != "private" {
		t.Errorf("the task read back %q", got)
	}
	if got := readTrim(t, filepath.Join(h.sandbox("tmp"), "mode")); got != "drwxrwxrwt" {
		t.Errorf("/tmp inside has mode %s, want drwxrwxrwt", got)
	}
	if _, err := os.Stat(filepath.Join("/tmp", name)); err == nil {
		os.Remove(filepath.Join("/tmp", name))
		t.Errorf("the task's /tmp/%s landed in the host's /tmp", name)
	}
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mi), h.workDir) {
		t.Errorf("a container's mount shows on the host:\n%s", mi)
	}
}

// Volumes: a host path and a path of the sandbox are bound where the
// ContainerInfo says, read-only when asked.
func TestFilesystemLinuxVolumes(t *testing.T) {
	needNamespaces(t)
	h := newHarness(t, FilesystemLinux{})
	host := t.TempDir()
	if err := os.WriteFile(filepath.Join(host, "f"), []byte("from the host"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := shell("vol", `cat ro/f > seen; if touch ro/g 2>/dev/null; then echo writable; else echo readonly; fi > ro.mode; echo data > rw/x`)
	spec.Container = &mesos.ContainerInfo{
		Type: mesos.ContainerInfo_MESOS.Enum(),
		Volumes: []*mesos.Volume{
			{ContainerPath: proto.String("ro"), Mode: mesos.Volume_RO.Enum(), Source: &mesos.Volume_Source{
				Type: mesos.Volume_Source_HOST_PATH.Enum(), HostPath: &mesos.Volume_Source_HostPath{Path: proto.String(host)}}},
			{ContainerPath: proto.String("rw"), Mode: mesos.Volume_RW.Enum(), Source: &mesos.Volume_Source{
				Type: mesos.Volume_Source_SANDBOX_PATH.Enum(), SandboxPath: &mesos.Volume_Source_SandboxPath{
					Type: mesos.Volume_Source_SandboxPath_SELF.Enum(), Path: proto.String("shared")}}},
		},
	}
	h.launchSpec(spec)
	tm := h.exit()
	stderr, _ := os.ReadFile(filepath.Join(h.sandbox("vol"), "stderr"))
	if tm.ExitCode() != 0 {
		t.Fatalf("task ended %s: %s", tm, stderr)
	}
	dir := h.sandbox("vol")
	if got := readTrim(t, filepath.Join(dir, "seen")); got != "from the host" {
		t.Errorf("the task read %q from the host volume", got)
	}
	if got := readTrim(t, filepath.Join(dir, "ro.mode")); got != "readonly" {
		t.Errorf("the RO volume is %s", got)
	}
	if _, err := os.Stat(filepath.Join(host, "g")); err == nil {
		t.Error("the task wrote through a read-only volume")
	}
	if got := readTrim(t, filepath.Join(dir, "shared", "x")); got != "data" {
		t.Errorf("the sandbox volume holds %q", got)
	}

	// A volume of a kind this agent has not fails the launch, clearly.
	bad := shell("badvol", "true")
	bad.Container = &mesos.ContainerInfo{Type: mesos.ContainerInfo_MESOS.Enum(), Volumes: []*mesos.Volume{
		{ContainerPath: proto.String("x"), Mode: mesos.Volume_RW.Enum(), Source: &mesos.Volume_Source{Type: mesos.Volume_Source_DOCKER_VOLUME.Enum()}}}}
	bad.Directory, bad.Path = h.sandbox("badvol"), "/bin/sh"
	if _, err := h.p.Launch(bad); err == nil || !strings.Contains(err.Error(), "DOCKER_VOLUME") {
		t.Errorf("Launch with a DOCKER_VOLUME volume: %v", err)
	}
}

// Mesos's way to a private /tmp, a volume with host_path "tmp" (relative:
// a directory of the sandbox) at /tmp, as --default_container_info gives
// it, replaces filesystem/linux's own.
func TestFilesystemLinuxTmpVolume(t *testing.T) {
	needNamespaces(t)
	h := newHarness(t, FilesystemLinux{})
	spec := shell("tmpvol", `echo mine > /tmp/x`)
	spec.Container = &mesos.ContainerInfo{Type: mesos.ContainerInfo_MESOS.Enum(), Volumes: []*mesos.Volume{
		{ContainerPath: proto.String("/tmp"), HostPath: proto.String("scratch"), Mode: mesos.Volume_RW.Enum()}}}
	h.launchSpec(spec)
	if tm := h.exit(); tm.ExitCode() != 0 {
		out, _ := os.ReadFile(filepath.Join(h.sandbox("tmpvol"), "stderr"))
		t.Fatalf("task ended %s: %s", tm, out)
	}
	if got := readTrim(t, filepath.Join(h.sandbox("tmpvol"), "scratch", "x")); got != "mine" {
		t.Errorf("the volume holds %q", got)
	}
	if fi, err := os.Stat(filepath.Join(h.sandbox("tmpvol"), "scratch")); err != nil {
		t.Error(err)
	} else if fi.Mode()&os.ModeSticky == 0 {
		t.Errorf("the volume's directory has mode %v, not /tmp's", fi.Mode())
	}
	if _, err := os.Stat(filepath.Join(h.sandbox("tmpvol"), sandboxTmp)); err == nil {
		t.Error("filesystem/linux made its own tmp beside the volume at /tmp")
	}
}

// LinuxInfo.share_pid_namespace keeps the container in the agent's pid
// namespace, unless the agent disallows it.
func TestPidNamespaceSharing(t *testing.T) {
	needNamespaces(t)
	share := &mesos.ContainerInfo{Type: mesos.ContainerInfo_MESOS.Enum(), LinuxInfo: &mesos.LinuxInfo{SharePidNamespace: proto.Bool(true)}}
	h := newHarness(t, FilesystemLinux{}, PidNamespace{})
	spec := shell("shared", `echo $$ > self`)
	spec.Container = share
	pid := h.launchSpec(spec)
	h.exit()
	if got := readTrim(t, filepath.Join(h.sandbox("shared"), "self")); got != strconv.Itoa(pid) {
		t.Errorf("a container sharing the agent's pid namespace sees itself as %s, want %d", got, pid)
	}

	strict := newHarness(t, FilesystemLinux{}, PidNamespace{DisallowSharing: true})
	spec = shell("refused", "true")
	spec.Container, spec.Directory, spec.Path = share, strict.sandbox("refused"), "/bin/sh"
	if _, err := strict.p.Launch(spec); err == nil || !strings.Contains(err.Error(), "Sharing agent pid namespace with top-level container is not allowed") {
		t.Errorf("Launch sharing the pid namespace where disallowed: %v", err)
	}
}

// A container in its own namespaces survives its agent; the restarted
// agent adopts it by its host pid and can destroy it.
func TestPidNamespaceRecovered(t *testing.T) {
	needNamespaces(t)
	workDir := t.TempDir()
	t.Setenv(envDoomedNamespaces, "1")
	pid := launchThenDie(t, workDir, "nsalive", `echo $$ > self; exec sleep 1000`)
	h := restarted(t, workDir)
	var self string
	testutil.WaitFor(t, "the executor's pid inside", patience, func() bool {
		b, err := os.ReadFile(filepath.Join(h.sandbox("nsalive"), "self"))
		self = strings.TrimSpace(string(b))
		return err == nil && self != ""
	})
	if inside := nsPid(t, pid); strconv.Itoa(inside) != self || inside == pid {
		t.Fatalf("the doomed agent reported pid %d (%d inside), not the executor's host pid (%s inside)", pid, inside, self)
	}
	got, err := h.p.Recover([]string{"nsalive"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Pid != pid {
		t.Fatalf("Recover = %+v, want the container with pid %d", got, pid)
	}
	if err := h.p.Destroy("nsalive"); err != nil {
		t.Fatal(err)
	}
	if tm := h.exit(); tm.ID != "nsalive" || !tm.Destroyed {
		t.Errorf("termination = %+v (%s)", tm, tm)
	}
	testutil.WaitFor(t, "the executor to be gone", patience, func() bool { return testutil.ProcessGone(pid) })
}

// namespaces/pid needs filesystem/linux, as in Mesos; both are known to
// --isolation.
func TestIsolatorsForNamespaces(t *testing.T) {
	if _, _, err := IsolatorsFor("posix/cpu,namespaces/pid", CgroupsOptions{}); err == nil ||
		(!strings.Contains(err.Error(), "requires the 'filesystem/linux' isolator") && !strings.Contains(err.Error(), "need namespaces")) {
		t.Errorf("namespaces/pid alone: %v", err)
	}
	if _, _, err := IsolatorsFor("bogus/thing", CgroupsOptions{}); err == nil || !strings.Contains(err.Error(), "network/ports") {
		t.Errorf("an unknown isolator: %v", err)
	}
	if NamespacesAvailable() != nil {
		return
	}
	isos, resolved, err := IsolatorsFor("posix/cpu,filesystem/linux,namespaces/pid", CgroupsOptions{})
	var names []string
	for _, iso := range isos {
		names = append(names, iso.Name())
	}
	if err != nil || resolved != "posix/cpu,filesystem/linux,namespaces/pid" || strings.Join(names, ",") != resolved {
		t.Errorf("IsolatorsFor = %v, %q, %v", names, resolved, err)
	}
}
