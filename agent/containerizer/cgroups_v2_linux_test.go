//go:build linux

package containerizer

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gomesos/gomesos/internal/testutil"
)

// cgroup2Mount finds a cgroup2 mount (the unified hierarchy, alone or
// beside v1 ones) and the controllers it offers.
func cgroup2Mount() (string, []string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return "", nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		sep := slices.Index(fields, "-")
		if sep >= 5 && sep+1 < len(fields) && fields[sep+1] == "cgroup2" {
			b, err := os.ReadFile(filepath.Join(fields[4], "cgroup.controllers"))
			if err != nil {
				return "", nil, err
			}
			return fields[4], strings.Fields(string(b)), nil
		}
	}
	return "", nil, fmt.Errorf("no cgroup2 hierarchy is mounted")
}

// newCgroupsV2Test returns a v2 isolator on the host's cgroup2 mount,
// whatever the agent would pick here, with the limits of opts that the
// mount's controllers allow (the others are turned off, saying so), or
// skips. At the end it checks that no cgroup is left below its root.
func newCgroupsV2Test(t *testing.T, opts CgroupsOptions) *Cgroups {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: cgroup tests need root")
	}
	mount, controllers, err := cgroup2Mount()
	if err != nil {
		t.Skipf("skipping: %v", err)
	}
	for _, c := range []struct {
		on         *bool
		controller string
	}{{&opts.CPU, "cpu"}, {&opts.Mem, "memory"}, {&opts.Pids, "pids"}} {
		if *c.on && !slices.Contains(controllers, c.controller) {
			t.Logf("the cgroup2 hierarchy at %s does not offer the %s controller (it offers %q): its limits are not checked here", mount, c.controller, controllers)
			*c.on = false
		}
	}
	host := CgroupHost{Version: 2, Mounts: map[string]string{"": mount}}
	opts.Root = fmt.Sprintf("gomesos-test-v2-%d-%d", os.Getpid(), cgroupTestSeq.Add(1))
	if err := CgroupsWritable(host, opts.Root); err != nil {
		t.Skipf("skipping: the cgroup2 hierarchy is not writable here: %v", err)
	}
	g, err := NewCgroups(host, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeTestRoot(t, filepath.Join(mount, opts.Root)) })
	return g
}

// The v2 code path on the host's cgroup2 mount, with the cgroup core that
// needs no controller: every process of the container (supervisor,
// executor, a double-forked child) joins its cgroup; destroy kills them
// all at once through cgroup.kill and removes the cgroup; the device list
// is an eBPF program (the default whitelist, and GPUs that an update
// adds); recovery removes an old empty cgroup no container owns.
func TestCgroupsV2Core(t *testing.T) {
	dir := t.TempDir()
	gpu0 := deviceNode(t, dir, "gpu0", 'c', 1, 11)
	alloc := NewGPUAllocator([]GPU{{Index: 0, Major: 1, Minor: 11}}, nil)
	g := newCgroupsV2Test(t, CgroupsOptions{CPU: true, Mem: true, Pids: true, Devices: true, GPUs: alloc})
	h := newHarness(t, g)
	marker := filepath.Join(dir, "escaped")
	trigger := filepath.Join(dir, "again")
	probe := map[string]string{"gpu0": gpu0, "null": "/dev/null"}
	h.launchRes("c1", `setsid sh -c 'sleep 300 & echo $! > `+marker+`.tmp; mv `+marker+`.tmp `+marker+`'; `+
		probeBody(probe)+`echo done; while [ ! -e `+trigger+` ]; do sleep 0.05; done; echo again; `+probeDevices(probe), nil)
	escaped := testutil.WaitPIDFile(t, marker, patience)
	first := probeResult(t, h, "c1")
	if strings.Contains(first, "null denied") {
		t.Skipf("skipping: the eBPF device program denies everything here (%q)", first)
	}
	wantLines(t, "c1", first, "null ok", "gpu0 denied")

	cgroup := filepath.Join(g.host.Mounts[""], g.rel("c1"))
	pids, err := g.Pids("c1")
	if err != nil {
		t.Fatal(err)
	}
	sup := h.p.containers["c1"].root
	for _, p := range []int{sup, escaped} {
		if !slices.Contains(pids, p) {
			t.Errorf("cgroup %s holds %v, not %d", cgroup, pids, p)
		}
	}
	if got := procCgroup(escaped, ""); got != g.rel("c1") {
		t.Errorf("the double-forked process is in v2 cgroup %q, want %q", got, g.rel("c1"))
	}

	// An update that gives the container a GPU replaces its device program.
	if err := h.p.Update("c1", scalars("gpus", 1.0)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(trigger, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	stdout := filepath.Join(h.sandbox("c1"), "stdout")
	testutil.WaitFor(t, "the second probe", patience, func() bool {
		b, _ := os.ReadFile(stdout)
		return strings.HasSuffix(string(b), "done\n") && strings.Contains(string(b), "again\n")
	})
	_, second, _ := strings.Cut(readTrim(t, stdout), "again\n")
	wantLines(t, "c1", second, "null ok", "gpu0 ok")

	// A restarted agent's isolator recovers the GPU from the cgroup's
	// record, and removes an old empty cgroup no record names.
	if err := g.Prepare(&Spec{ID: "leftover"}, &exec.Cmd{}); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(filepath.Join(g.host.Mounts[""], g.rel("leftover")), old, old); err != nil {
		t.Fatal(err)
	}
	alloc2 := NewGPUAllocator([]GPU{{Index: 0, Major: 1, Minor: 11}}, nil)
	g2, err := NewCgroups(g.host, CgroupsOptions{Root: g.opts.Root, Devices: true, GPUs: alloc2})
	if err != nil {
		t.Fatal(err)
	}
	if err := g2.RecoverIsolation([]string{"c1"}); err != nil {
		t.Fatal(err)
	}
	if got := minorsOf(alloc2.Of("c1")); !slices.Equal(got, []int64{11}) {
		t.Errorf("recovered c1 holds minors %v, want [11]", got)
	}
	if _, err := os.Stat(filepath.Join(g.host.Mounts[""], g.rel("leftover"))); !os.IsNotExist(err) {
		t.Errorf("recovery left the old empty cgroup (%v)", err)
	}

	if err := h.p.Destroy("c1"); err != nil {
		t.Fatal(err)
	}
	h.exit()
	if ProcessAlive(escaped) {
		t.Errorf("double-forked process %d survived destroy", escaped)
		_ = syscallKill(escaped)
	}
	if _, err := os.Stat(cgroup); !os.IsNotExist(err) {
		t.Errorf("cgroup %s survived its container (%v)", cgroup, err)
	}
	if alloc.Free() != 1 {
		t.Errorf("the GPU was not freed")
	}
}
