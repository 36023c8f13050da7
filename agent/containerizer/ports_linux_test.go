package containerizer

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/internal/testutil"
)

// envListen makes the test binary a helper that listens on that TCP port
// (0: any), writes the port to the file "port" in its directory, and waits.
const envListen = "GOMESOS_TEST_LISTEN"

func init() { mainHooks = append(mainHooks, mainIfListener) }

func mainIfListener() {
	v, ok := os.LookupEnv(envListen)
	if !ok {
		return
	}
	l, err := net.Listen("tcp", ":"+v)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(3)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := os.WriteFile("port", []byte(strconv.Itoa(port)), 0o644); err != nil {
		os.Exit(3)
	}
	time.Sleep(time.Hour)
}

func portsResource(ranges ...uint64) []*mesos.Resource {
	r := &mesos.Resource{Name: proto.String("ports"), Type: mesos.Value_RANGES.Enum(), Ranges: &mesos.Value_Ranges{}}
	for i := 0; i+1 < len(ranges); i += 2 {
		r.Ranges.Range = append(r.Ranges.Range, &mesos.Value_Range{Begin: proto.Uint64(ranges[i]), End: proto.Uint64(ranges[i+1])})
	}
	return []*mesos.Resource{r}
}

// launchListener starts the listening helper in container id and returns
// the port it listens on.
func launchListener(t *testing.T, h *harness, id string, port int, res []*mesos.Resource) int {
	t.Helper()
	self := supervisor(t)
	h.launchSpec(Spec{ID: id, Path: self, Args: []string{self}, Env: []string{envListen + "=" + strconv.Itoa(port)}, Resources: res})
	var got int
	file := filepath.Join(h.sandbox(id), "port")
	testutil.WaitFor(t, "the helper to listen", patience, func() bool {
		b, err := os.ReadFile(file)
		if err != nil {
			return false
		}
		got, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	return got
}

// With --enforce_container_ports, a container listening on a port it was
// not given is killed with REASON_CONTAINER_LIMITATION and Mesos's
// message; one listening on its own port is left alone.
func TestPortsEnforced(t *testing.T) {
	p, err := NewPorts(PortsOptions{WatchInterval: time.Hour, Enforce: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, p)

	own := testutil.FreePort(t)
	got := launchListener(t, h, "good", own, portsResource(uint64(own), uint64(own)))
	if got != own {
		t.Fatalf("the helper listens on %d, not %d", got, own)
	}
	bad := launchListener(t, h, "bad", 0, portsResource(1, 2))

	p.Check()
	tm := h.exit()
	if tm.ID != "bad" || tm.Limitation == nil {
		t.Fatalf("termination = %+v (%s), want the container on an unallocated port ended by a limitation", tm, tm)
	}
	want := fmt.Sprintf("Container bad is listening on unallocated port(s): [%d-%d]", bad, bad)
	if tm.Limitation.Reason != mesos.TaskStatus_REASON_CONTAINER_LIMITATION || tm.Limitation.Message != want {
		t.Errorf("limitation = %v %q, want REASON_CONTAINER_LIMITATION %q", tm.Limitation.Reason, tm.Limitation.Message, want)
	}
	p.Check()
	if h.destroyed("good") {
		t.Error("the container listening on its own port was destroyed")
	}
	h.noExit()

	// An update that takes the port away makes it unallocated.
	if err := h.p.Update("good", portsResource(1, 2)); err != nil {
		t.Fatal(err)
	}
	p.Check()
	if tm := h.exit(); tm.ID != "good" || tm.Limitation == nil || !strings.Contains(tm.Limitation.Message, strconv.Itoa(own)) {
		t.Errorf("termination after the update = %+v (%s)", tm, tm)
	}
}

// Without enforcement, an unallocated port is only reported.
func TestPortsNotEnforced(t *testing.T) {
	p, err := NewPorts(PortsOptions{WatchInterval: time.Hour}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, p)
	launchListener(t, h, "loose", 0, nil)
	p.Check()
	p.Check()
	if h.destroyed("loose") {
		t.Error("the container was destroyed without enforcement")
	}
	h.noExit()
	if lim := p.Limitation("loose"); lim != nil {
		t.Errorf("limitation without enforcement: %+v", lim)
	}
}

// With --check_agent_port_range_only, ports outside the agent's range
// are not checked.
func TestPortsIsolatedRange(t *testing.T) {
	p, err := NewPorts(PortsOptions{WatchInterval: time.Hour, Enforce: true, Isolated: []PortRange{{1, 2}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, p)
	launchListener(t, h, "outside", 0, nil)
	p.Check()
	if h.destroyed("outside") {
		t.Error("a port outside the isolated range was enforced")
	}
	h.noExit()
}

// The watch runs by itself every WatchInterval, and stops when no
// container is left.
func TestPortsWatch(t *testing.T) {
	p, err := NewPorts(PortsOptions{WatchInterval: 20 * time.Millisecond, Enforce: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, p)
	// Not launchListener: the watch may end the helper between its listen
	// and its writing the port down, so nothing waits for that file.
	self := supervisor(t)
	h.launchSpec(Spec{ID: "watched", Path: self, Args: []string{self}, Env: []string{envListen + "=0"}})
	if tm := h.exit(); tm.Limitation == nil {
		t.Fatalf("termination = %+v (%s)", tm, tm)
	}
	testutil.WaitFor(t, "the watch to stop", patience, func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return !p.watching
	})
}

func TestPortRangesFormat(t *testing.T) {
	if got := formatRanges(toRanges([]uint64{80, 81, 82, 90, 100, 101})); got != "[80-82, 90-90, 100-101]" {
		t.Errorf("formatRanges = %s", got)
	}
	if _, err := NewPorts(PortsOptions{WatchInterval: -time.Second}, nil); err == nil {
		t.Error("a negative watch interval is accepted")
	}
}

// destroyed reports whether the running container id has been destroyed
// (Destroy marks it, synchronously, before its end is reported).
func (h *harness) destroyed(id string) bool {
	h.p.mu.Lock()
	defer h.p.mu.Unlock()
	c := h.p.containers[id]
	return c == nil || c.destroyed
}

// All together, as an agent runs them: the container in its cgroup and
// its own namespaces (the supervisor, its pid namespace's init, joined
// the cgroup as pid 1 there); network/ports finds its processes through
// the cgroup.
func TestPortsWithCgroupsAndNamespaces(t *testing.T) {
	needNamespaces(t)
	g := newCgroupsTest(t, CgroupsOptions{Pids: true})
	p, err := NewPorts(PortsOptions{WatchInterval: time.Hour, Enforce: true}, g)
	if err != nil {
		t.Fatal(err)
	}
	if p.pidsOf == nil {
		t.Fatal("network/ports does not list processes through the cgroups isolator")
	}
	h := newHarness(t, g, FilesystemLinux{}, PidNamespace{}, p)
	port := launchListener(t, h, "all", 0, portsResource(1, 2))
	pid := h.p.Pids()["all"]
	pids, err := g.Pids("all")
	if err != nil {
		t.Fatal(err)
	}
	h.p.mu.Lock()
	sup := h.p.containers["all"].root
	h.p.mu.Unlock()
	if !slices.Contains(pids, pid) || !slices.Contains(pids, sup) {
		t.Errorf("the cgroup holds %v, not the supervisor %d and the executor %d", pids, sup, pid)
	}
	if inside, ok := nsPidOf(pid); !ok || inside == pid {
		t.Errorf("the executor %d is not in a pid namespace of its own (%d inside)", pid, inside)
	}
	p.Check()
	tm := h.exit()
	if tm.Limitation == nil || !strings.Contains(tm.Limitation.Message, fmt.Sprintf("[%d-%d]", port, port)) {
		t.Fatalf("termination = %+v (%s)", tm, tm)
	}
}

// A container recovered after an agent restart is checked once an update
// tells its ports (as in Mesos: its launch resources are not known then).
func TestPortsRecovered(t *testing.T) {
	workDir := t.TempDir()
	pid := launchThenDie(t, workDir, "survivor", envListen+"=0 exec "+supervisor(t))
	p, err := NewPorts(PortsOptions{WatchInterval: time.Hour, Enforce: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, workDir: workDir, exits: make(chan Termination, 16)}
	h.p = NewPosix(Options{WorkDir: workDir, SupervisorPath: supervisor(t), OnExit: func(tm Termination) { h.exits <- tm }, Isolators: []Isolator{p}})
	t.Cleanup(h.p.DestroyAll)
	var port int
	testutil.WaitFor(t, "the survivor to listen", patience, func() bool {
		b, err := os.ReadFile(filepath.Join(h.sandbox("survivor"), "port"))
		if err != nil {
			return false
		}
		port, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	if got, err := h.p.Recover([]string{"survivor"}); err != nil || len(got) != 1 || got[0].Pid != pid {
		t.Fatalf("Recover = %+v, %v", got, err)
	}
	p.Check()
	if h.destroyed("survivor") {
		t.Fatal("a recovered container was checked before its ports were known")
	}
	if err := h.p.Update("survivor", portsResource(1, 2)); err != nil {
		t.Fatal(err)
	}
	p.Check()
	tm := h.exit()
	if tm.Limitation == nil || !strings.Contains(tm.Limitation.Message, fmt.Sprintf("[%d-%d]", port, port)) {
		t.Fatalf("termination = %+v (%s)", tm, tm)
	}
}
