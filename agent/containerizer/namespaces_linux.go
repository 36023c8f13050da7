//go:build linux

package containerizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// FilesystemLinux is the filesystem/linux isolator: each container gets a
// private mount namespace, the sandbox's own tmp directory bound at /tmp,
// and its ContainerInfo's volumes (a host path or a path of its sandbox)
// bound at their container paths.
type FilesystemLinux struct{}

// PidNamespace is the namespaces/pid isolator: each container gets a pid
// namespace of its own, whose first process (pid 1) is its supervisor, and
// a /proc that shows it, so that `ps` in a task shows the container's
// processes only. A container whose LinuxInfo asks to share the agent's
// pid namespace does, unless DisallowSharing.
type PidNamespace struct {
	// DisallowSharing refuses LinuxInfo.share_pid_namespace
	// (--disallow_sharing_agent_pid_namespace).
	DisallowSharing bool
}

var (
	_ Isolator = FilesystemLinux{}
	_ Isolator = PidNamespace{}
)

// Name implements Isolator.
func (FilesystemLinux) Name() string { return IsolatorFilesystemLinux }

// Prepare implements Isolator: the supervisor starts in a new mount
// namespace with the binds to make there.
func (FilesystemLinux) Prepare(spec *Spec, cmd *exec.Cmd) error {
	if !supervised(cmd) {
		return errNeedsSupervisor
	}
	if spec.Container != nil && spec.Container.GetType() == mesos.ContainerInfo_DOCKER {
		return errors.New("a DOCKER container is not for the Mesos containerizer")
	}
	binds, err := volumeBinds(spec.Directory, spec.Container)
	if err != nil {
		return err
	}
	ownTmp := false
	for _, b := range binds {
		if filepath.Clean(b.Target) == "/tmp" {
			ownTmp = true
		}
	}
	if !ownTmp {
		tmp := filepath.Join(spec.Directory, sandboxTmp)
		if err := os.MkdirAll(tmp, 0o755); err != nil {
			return fmt.Errorf("create the sandbox's tmp: %w", err)
		}
		if err := os.Chmod(tmp, 0o777|os.ModeSticky); err != nil {
			return fmt.Errorf("create the sandbox's tmp: %w", err)
		}
		binds = append([]bindMount{{Source: tmp, Target: "/tmp"}}, binds...)
	}
	setCloneflags(cmd, syscall.CLONE_NEWNS)
	return editPlan(cmd, func(p *mountPlan) {
		p.Binds = append(p.Binds, binds...)
		// superviseArgs: <binary> _supervise <runtime dir> <path> ...
		p.Keep = append(p.Keep, spec.Directory)
		p.Dir = spec.Directory
		if len(cmd.Args) > 3 {
			p.Keep = append(p.Keep, cmd.Args[2], cmd.Args[3])
		}
	})
}

// Isolate implements Isolator.
func (FilesystemLinux) Isolate(string, int) error { return nil }

// Update implements Isolator.
func (FilesystemLinux) Update(string, []*mesos.Resource) error { return nil }

// Cleanup implements Isolator: the mounts went with the container's mount
// namespace.
func (FilesystemLinux) Cleanup(string) error { return nil }

// Name implements Isolator.
func (PidNamespace) Name() string { return IsolatorNamespacesPid }

// Prepare implements Isolator: the supervisor starts in new pid and mount
// namespaces and mounts a /proc of its own.
func (n PidNamespace) Prepare(spec *Spec, cmd *exec.Cmd) error {
	if !supervised(cmd) {
		return errNeedsSupervisor
	}
	if spec.Container.GetLinuxInfo().GetSharePidNamespace() {
		if n.DisallowSharing {
			// Mesos's words.
			return errors.New("Sharing agent pid namespace with top-level container is not allowed")
		}
		return nil
	}
	setCloneflags(cmd, syscall.CLONE_NEWPID|syscall.CLONE_NEWNS)
	return editPlan(cmd, func(p *mountPlan) { p.Proc = true })
}

// Isolate implements Isolator.
func (PidNamespace) Isolate(string, int) error { return nil }

// Update implements Isolator.
func (PidNamespace) Update(string, []*mesos.Resource) error { return nil }

// Cleanup implements Isolator: the namespace ended with its last process.
func (PidNamespace) Cleanup(string) error { return nil }

func setCloneflags(cmd *exec.Cmd, flags uintptr) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Cloneflags |= flags
}

// NamespacesAvailable reports whether this process may create pid and
// mount namespaces (tests skip without them).
func NamespacesAvailable() error {
	if os.Geteuid() != 0 {
		return errors.New("not running as root")
	}
	cmd := exec.Command("/bin/true")
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS}
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("cannot create pid and mount namespaces: %w", err)
	}
	return nil
}

// hostProc is the agent's /proc, kept open by a supervisor that mounts a
// /proc of its own over it, to name its processes by their pids outside.
type hostProc struct {
	fd   int
	self int // the supervisor's pid outside
}

// openHostProc opens /proc before anything is mounted over it.
func openHostProc() (*hostProc, error) {
	link, err := os.Readlink("/proc/self")
	if err != nil {
		return nil, fmt.Errorf("read /proc/self: %w", err)
	}
	self, err := strconv.Atoi(link)
	if err != nil {
		return nil, fmt.Errorf("read /proc/self: %q is no pid", link)
	}
	fd, err := syscall.Open("/proc", syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /proc: %w", err)
	}
	return &hostProc{fd: fd, self: self}, nil
}

// stat reads /proc/<pid>/stat as the host sees it.
func (h *hostProc) stat(pid int) []byte {
	fd, err := syscall.Openat(h.fd, strconv.Itoa(pid)+"/stat", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	defer syscall.Close(fd)
	buf := make([]byte, 1024)
	n, err := syscall.Read(fd, buf)
	if err != nil || n <= 0 {
		return nil
	}
	return buf[:n]
}

// record describes the process pid (a host pid) for pids.json.
func (h *hostProc) record(pid int) procRecord {
	start, _, _ := parseStartTime(h.stat(pid))
	return procRecord{Pid: pid, StartTime: start}
}

// child finds the host pid of the supervisor's only child.
func (h *hostProc) child() (int, error) {
	dup, err := syscall.Dup(h.fd)
	if err != nil {
		return 0, err
	}
	d := os.NewFile(uintptr(dup), "/proc")
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return 0, fmt.Errorf("list /proc: %w", err)
	}
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		if pi, ok := parseStat(pid, h.stat(pid)); ok && pi.ppid == h.self {
			return pid, nil
		}
	}
	return 0, errors.New("the executor's pid outside its pid namespace was not found")
}

func (h *hostProc) close() { _ = syscall.Close(h.fd) }

// setupMounts carries out the mount plan in the supervisor's new mount
// namespace. It returns the host's /proc, kept open, when it mounts a
// /proc of the container's own, else nil.
func setupMounts() (*hostProc, error) {
	v, ok := os.LookupEnv(mountsEnv)
	if !ok {
		return nil, nil
	}
	_ = os.Unsetenv(mountsEnv)
	var plan mountPlan
	if err := json.Unmarshal([]byte(v), &plan); err != nil {
		return nil, fmt.Errorf("read the mount plan: %w", err)
	}
	// Nothing mounted here may reach the host.
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_SLAVE, ""); err != nil {
		return nil, fmt.Errorf("make the container's mounts slaves of the host's: %w", err)
	}
	// Every source is opened before anything is mounted, so that a bind
	// over /tmp does not hide a source below it.
	binds := orderBinds(plan)
	fds := make([]int, len(binds))
	for i, b := range binds {
		fd, err := syscall.Open(b.Source, unix.O_PATH|syscall.O_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("open %s to bind it at %s: %w", b.Source, b.Target, err)
		}
		fds[i] = fd
	}
	defer func() {
		for _, fd := range fds {
			_ = syscall.Close(fd)
		}
	}()
	var host *hostProc
	if plan.Proc {
		h, err := openHostProc()
		if err != nil {
			return nil, err
		}
		host = h
	}
	fail := func(err error) (*hostProc, error) {
		if host != nil {
			host.close()
		}
		return nil, err
	}
	for i, b := range binds {
		var st syscall.Stat_t
		if err := syscall.Fstat(fds[i], &st); err != nil {
			return fail(fmt.Errorf("stat %s: %w", b.Source, err))
		}
		if _, err := os.Lstat(b.Target); errors.Is(err, os.ErrNotExist) {
			// Only the sandbox, bound again below a covering bind, may
			// need its mount point made; that is in the sandbox's tmp.
			if err := makeMountPoint(b.Target, st.Mode&syscall.S_IFMT == syscall.S_IFDIR); err != nil {
				return fail(fmt.Errorf("make the mount point %s: %w", b.Target, err))
			}
		}
		src := "/proc/self/fd/" + strconv.Itoa(fds[i])
		if err := syscall.Mount(src, b.Target, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
			return fail(fmt.Errorf("bind %s at %s: %w", b.Source, b.Target, err))
		}
		if b.ReadOnly {
			if err := syscall.Mount("", b.Target, "", syscall.MS_BIND|syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
				return fail(fmt.Errorf("make %s read-only: %w", b.Target, err))
			}
		}
	}
	if plan.Dir != "" {
		if err := os.Chdir(plan.Dir); err != nil {
			return fail(fmt.Errorf("enter the sandbox: %w", err))
		}
	}
	if plan.Proc {
		if err := syscall.Mount("proc", "/proc", "proc", syscall.MS_NOSUID|syscall.MS_NODEV|syscall.MS_NOEXEC, ""); err != nil {
			return fail(fmt.Errorf("mount the container's /proc: %w", err))
		}
	}
	return host, nil
}

// orderBinds lists the plan's binds in the order to make them: first
// those that cover no kept path, with the kept paths they cover bound again
// after them (parents first), then the binds into kept paths (volumes in
// the sandbox), so that those land on the kept path's new mount.
func orderBinds(plan mountPlan) []bindMount {
	var keep []string
	for _, k := range plan.Keep {
		k = filepath.Clean(k)
		if k == "" || k == "." || slices.Contains(keep, k) {
			continue
		}
		for _, b := range plan.Binds {
			if k != filepath.Clean(b.Target) && within(b.Target, k) {
				keep = append(keep, k)
				break
			}
		}
	}
	if len(keep) == 0 {
		return plan.Binds
	}
	slices.SortFunc(keep, func(a, b string) int { return len(a) - len(b) })
	var first, later []bindMount
	for _, b := range plan.Binds {
		inKept := false
		for _, k := range keep {
			if within(k, b.Target) {
				inKept = true
			}
		}
		if inKept {
			later = append(later, b)
		} else {
			first = append(first, b)
		}
	}
	out := first
	for i, k := range keep {
		// A kept path below another kept one comes along with it.
		covered := false
		for _, parent := range keep[:i] {
			if within(parent, k) {
				covered = true
			}
		}
		if !covered {
			out = append(out, bindMount{Source: k, Target: k})
		}
	}
	return append(out, later...)
}

// within reports whether path is dir or lies below it.
func within(dir, path string) bool {
	dir, path = filepath.Clean(dir), filepath.Clean(path)
	return path == dir || dir == "/" || strings.HasPrefix(path, dir+"/")
}

// reapAsInit waits, as the init of the container's pid namespace, for the
// executor (pid, as the namespace numbers it) and reaps every orphan that
// is handed to it meanwhile. It returns the executor's wait status.
func reapAsInit(pid int) (syscall.WaitStatus, error) {
	for {
		var ws syscall.WaitStatus
		got, err := syscall.Wait4(-1, &ws, 0, nil)
		if errors.Is(err, syscall.EINTR) {
			continue
		}
		if err != nil {
			return 0, err
		}
		if got == pid {
			return ws, nil
		}
	}
}
