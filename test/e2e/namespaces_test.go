package e2e

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomesos/gomesos/agent/containerizer"
)

// Through the real binary: `gomesos local` with filesystem/linux,
// namespaces/pid and network/ports (enforced). A task sees a handful of
// processes, has the sandbox's tmp as /tmp and its ports as PORT0/PORTS;
// a task listening on its own port is left alone, one listening on a port
// it was not given is killed with Mesos's message.
func TestNamespacesFilesystemAndPortsThroughTheBinary(t *testing.T) {
	if err := containerizer.NamespacesAvailable(); err != nil {
		t.Skipf("skipping: namespaces/pid and filesystem/linux need pid and mount namespaces: %v", err)
	}
	work := t.TempDir()
	// With cgroups where the agent can write them: the supervisor joins
	// its cgroup as its pid namespace's init, and network/ports finds the
	// container's processes in the cgroup.
	isolation := "posix/cpu,posix/mem"
	if host, err := containerizer.DetectCgroups(); err == nil && containerizer.CgroupsWritable(host, os.Getenv("MESOS_CGROUPS_ROOT")) == nil {
		isolation = containerizer.DefaultCgroupsIsolation
	}
	local := startProc(t, "local", "--port=0", "--work_dir="+work, "--num_agents=1",
		"--isolation="+isolation+",filesystem/linux,namespaces/pid,network/ports",
		"--enforce_container_ports", "--container_ports_watch_interval=100ms")
	masterAddr := strings.TrimPrefix(local.expect(t, `master (http://\S+) with 1 agent`)[1], "http://")

	execute := func(name, res, command string) (int, string) {
		cmd := exec.Command(gomesosBin, "execute", "--master="+masterAddr, "--name="+name, "--resources="+res, "--command="+command)
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			return exitErr.ExitCode(), out.String()
		}
		if err != nil {
			t.Fatalf("gomesos execute: %v\n%s", err, out.String())
		}
		return 0, out.String()
	}

	file := fmt.Sprintf("gomesos-e2e-%d", os.Getpid())
	script := strings.Join([]string{
		`n=$(ps -e -o pid= | wc -l); echo "processes $n"; [ "$n" -le 8 ] || exit 11`,
		`echo private > /tmp/` + file + ` && [ -f "$MESOS_SANDBOX/tmp/` + file + `" ] || exit 12`,
		`[ "$PORT0" = 31000 ] && [ "$PORTS" = 31000,31001 ] || exit 13`,
	}, "; ")
	code, out := execute("inside", "cpus:0.1;mem:32;ports:[31000-31001]", script)
	if code != 0 {
		t.Fatalf("the task inside the namespaces failed (exit %d: 11 too many processes, 12 /tmp not the sandbox's, 13 no ports):\n%s\nagent stderr:\n%s",
			code, out, local.stderr.String())
	}
	if _, err := os.Stat(filepath.Join("/tmp", file)); err == nil {
		os.Remove(filepath.Join("/tmp", file))
		t.Errorf("the task's /tmp/%s landed in the host's /tmp", file)
	}

	busybox, err := exec.LookPath("busybox")
	if err != nil {
		t.Skip("skipping the ports enforcement part: no busybox to listen with nc")
	}
	// Listening on its own port for a while (ten scans), a task finishes.
	code, out = execute("own-port", "cpus:0.1;mem:32;ports:[31002-31002]",
		busybox+` nc -l -p "$PORT0" & sleep 1; kill $!; exit 0`)
	if code != 0 {
		t.Fatalf("the task listening on its own port failed (exit %d):\n%s", code, out)
	}
	code, out = execute("listener", "cpus:0.1;mem:32;ports:[31000-31000]", busybox+" nc -l -p 31999")
	if code == 0 {
		t.Fatalf("the task listening on an unallocated port was not killed:\n%s", out)
	}
	for _, want := range []string{"TASK_FAILED", "is listening on unallocated port(s): [31999-31999]", "reason: REASON_CONTAINER_LIMITATION", "source: SOURCE_AGENT"} {
		if !strings.Contains(out, want) {
			t.Errorf("execute output lacks %q:\n%s", want, out)
		}
	}
}
