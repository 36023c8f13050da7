//go:build linux

package containerizer

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/gomesos/gomesos/internal/testutil"
)

// deviceNode makes a device node (type 'c' or 'b') in dir and checks that
// this process, outside any container, can open it; else the test skips.
func deviceNode(t *testing.T, dir, name string, typ byte, major, minor uint32) string {
	t.Helper()
	path := filepath.Join(dir, name)
	mode := uint32(unix.S_IFCHR)
	if typ == 'b' {
		mode = unix.S_IFBLK
	}
	if err := unix.Mknod(path, mode|0o600, int(unix.Mkdev(major, minor))); err != nil {
		t.Skipf("skipping: cannot make device node %c %d:%d: %v", typ, major, minor, err)
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Skipf("skipping: device %c %d:%d cannot be opened here even outside a container: %v", typ, major, minor, err)
	}
	unix.Close(fd)
	return path
}

// probeDevices is a container script that reports, one line each, whether
// it can open each device ("<name> ok" or "<name> denied"), its
// CUDA_VISIBLE_DEVICES, and then stays.
func probeDevices(devices map[string]string) string {
	return probeBody(devices) + `echo done; exec sleep 300`
}

// probeBody is the probe's report alone.
func probeBody(devices map[string]string) string {
	var b strings.Builder
	b.WriteString(`echo "cuda=${CUDA_VISIBLE_DEVICES-unset}"; `)
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for n := range devices {
			if !yield(n) {
				return
			}
		}
	}) {
		fmt.Fprintf(&b, `if (true < %s) 2>/dev/null; then echo "%s ok"; else echo "%s denied"; fi; `, devices[name], name, name)
	}
	return b.String()
}

// probeResult waits for the probe's report in the container's stdout.
func probeResult(t *testing.T, h *harness, id string) string {
	t.Helper()
	stdout := filepath.Join(h.sandbox(id), "stdout")
	defer func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(h.sandbox(id), "stderr"))
			c, _ := os.ReadFile(stdout)
			t.Logf("container %s stdout:\n%s\nstderr:\n%s", id, c, b)
		}
	}()
	testutil.WaitFor(t, "container "+id+" to probe its devices", patience, func() bool {
		b, _ := os.ReadFile(stdout)
		return strings.Contains(string(b), "done\n")
	})
	return readTrim(t, stdout)
}

func wantLines(t *testing.T, id, got string, want ...string) {
	t.Helper()
	lines := strings.Split(got, "\n")
	for _, w := range want {
		if !slices.Contains(lines, w) {
			t.Errorf("container %s reported %q, want a line %q", id, got, w)
		}
	}
}

// cgroups/devices: a container may open the devices of Mesos's default
// whitelist (/dev/null...) and those --allowed_devices adds, and no other
// (here a node with /dev/kmsg's numbers, which this process can open); it
// may make device nodes (mknod is whitelisted) but not open them.
func TestCgroupsDevices(t *testing.T) {
	dir := t.TempDir()
	denied := deviceNode(t, dir, "kmsg", 'c', 1, 11)
	allowed := deviceNode(t, dir, "loop", 'b', 7, 0)
	rules, err := ParseAllowedDevices(`{"allowed_devices":[{"device":{"path":"` + allowed + `"},"access":{"read":true}}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if want := (DeviceRule{'b', 7, 0, "r"}); len(rules) != 1 || rules[0] != want {
		t.Fatalf("--allowed_devices = %v, want [%v]", rules, want)
	}
	g := newCgroupsTest(t, CgroupsOptions{Devices: true, AllowedDevices: rules})
	if g.Version() == 1 && g.host.Mounts[v1Devices] == "" {
		t.Skip("skipping: the cgroups v1 devices hierarchy is not mounted")
	}
	h := newHarness(t, g)
	made := filepath.Join(dir, "made")
	h.launchRes("c1", `mknod `+made+` c 1 11 && echo "mknod ok"; echo x > /dev/null && echo "null ok"; `+
		probeDevices(map[string]string{"kmsg": denied, "loop": allowed, "made": made, "zero": "/dev/zero"}), nil)
	got := probeResult(t, h, "c1")
	wantLines(t, "c1", got, "cuda=unset", "mknod ok", "null ok", "zero ok", "loop ok", "kmsg denied", "made denied")
	if g.Version() == 1 {
		list := readTrim(t, filepath.Join(g.devicesPath("c1"), "devices.list"))
		for _, w := range []string{"c 1:3 rwm", "c 136:* rwm", "c *:* m", "b 7:0 r"} {
			if !slices.Contains(strings.Split(list, "\n"), w) {
				t.Errorf("devices.list lacks %q:\n%s", w, list)
			}
		}
	}
	if err := h.p.Destroy("c1"); err != nil {
		t.Fatal(err)
	}
	h.exit()
}

// gpu/nvidia, with a fake device list standing for NVML's (two "GPUs" that
// are devices this host has): a container with gpus:1 may open its GPU
// and no other, and has CUDA_VISIBLE_DEVICES; one without GPUs opens
// none; a launch asking for more GPUs than are free fails; cleanup frees
// the GPUs; a restarted agent gives an adopted container back its GPU,
// from the record on its cgroup or (v1) from its device list.
func TestCgroupsGPUs(t *testing.T) {
	dir := t.TempDir()
	gpu0 := deviceNode(t, dir, "gpu0", 'c', 1, 11)
	gpu1 := deviceNode(t, dir, "gpu1", 'c', 10, 234)
	fake := []GPU{{Index: 0, Major: 1, Minor: 11}, {Index: 1, Major: 10, Minor: 234}}
	alloc := NewGPUAllocator(fake, nil)
	g := newCgroupsTest(t, CgroupsOptions{Devices: true, GPUs: alloc})
	h := newHarness(t, g)
	probe := probeDevices(map[string]string{"gpu0": gpu0, "gpu1": gpu1})

	h.launchRes("with", probe, scalars("gpus", 1.0))
	wantLines(t, "with", probeResult(t, h, "with"), "cuda=0", "gpu0 ok", "gpu1 denied")
	// "without" probes again once told to (after an update below).
	trigger := filepath.Join(dir, "again")
	h.launchRes("without", probeBody(map[string]string{"gpu0": gpu0, "gpu1": gpu1})+`echo done; `+
		`while [ ! -e `+trigger+` ]; do sleep 0.05; done; echo again; `+probeDevices(map[string]string{"gpu0": gpu0, "gpu1": gpu1}), nil)
	wantLines(t, "without", probeResult(t, h, "without"), "cuda=unset", "gpu0 denied", "gpu1 denied")
	h.launchRes("other", probe, scalars("gpus", 1.0))
	wantLines(t, "other", probeResult(t, h, "other"), "cuda=1", "gpu0 denied", "gpu1 ok")

	_, err := h.p.Launch(Spec{ID: "greedy", Directory: h.sandbox("greedy"), Path: "/bin/true", Resources: scalars("gpus", 1.0)})
	if err == nil || !strings.Contains(err.Error(), "gpu/nvidia") || !strings.Contains(err.Error(), "free") {
		t.Errorf("launching with no GPU free: err = %v", err)
	}

	// A restarted agent's isolator, with a fresh allocator.
	alloc2 := NewGPUAllocator(fake, nil)
	g2, err := NewCgroups(g.host, CgroupsOptions{Root: g.opts.Root, Devices: true, GPUs: alloc2})
	if err != nil {
		t.Fatal(err)
	}
	if err := g2.RecoverIsolation([]string{"with", "without", "other"}); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string][]int64{"with": {11}, "other": {234}, "without": nil} {
		if got := minorsOf(alloc2.Of(id)); !slices.Equal(got, want) {
			t.Errorf("recovered %s holds minors %v, want %v", id, got, want)
		}
	}
	if g.Version() == 1 {
		// Without the record, Mesos's way: the device list.
		if err := unix.Removexattr(g.devicesPath("other"), gpusXattr); err != nil {
			t.Fatal(err)
		}
		alloc3 := NewGPUAllocator([]GPU{{Index: 0, Major: NvidiaMajor, Minor: 11}, {Index: 1, Major: NvidiaMajor, Minor: 234}}, nil)
		g3, _ := NewCgroups(g.host, CgroupsOptions{Root: g.opts.Root, Devices: true, GPUs: alloc3})
		dl := filepath.Join(g.devicesPath("other"), "devices.allow")
		if err := os.WriteFile(dl, []byte("c "+strconv.Itoa(NvidiaMajor)+":234 rwm"), 0); err != nil {
			t.Fatal(err)
		}
		if err := g3.recoverGPUs("other"); err != nil {
			t.Fatal(err)
		}
		if got := minorsOf(alloc3.Of("other")); !slices.Equal(got, []int64{234}) {
			t.Errorf("recovered from devices.list: minors %v, want [234]", got)
		}
	}

	if err := h.p.Destroy("with"); err != nil {
		t.Fatal(err)
	}
	h.exit()
	if alloc.Free() != 1 || len(alloc.Of("with")) != 0 {
		t.Errorf("after cleanup: %d free, with holds %v", alloc.Free(), alloc.Of("with"))
	}
	// Growing a container's GPUs by an update lets it use the new one.
	if err := h.p.Update("without", scalars("gpus", 1.0)); err != nil {
		t.Fatal(err)
	}
	if got := minorsOf(alloc.Of("without")); !slices.Equal(got, []int64{11}) {
		t.Errorf("after an update to gpus:1, without holds %v", got)
	}
	if err := os.WriteFile(trigger, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	stdout := filepath.Join(h.sandbox("without"), "stdout")
	testutil.WaitFor(t, "the second probe", patience, func() bool {
		b, _ := os.ReadFile(stdout)
		return strings.HasSuffix(string(b), "done\n") && strings.Contains(string(b), "again\n")
	})
	_, second, _ := strings.Cut(readTrim(t, stdout), "again\n")
	// CUDA_VISIBLE_DEVICES stays as it was at launch.
	wantLines(t, "without", second, "cuda=unset", "gpu0 ok", "gpu1 denied")
	for _, id := range []string{"without", "other"} {
		if err := h.p.Destroy(id); err != nil {
			t.Fatal(err)
		}
		h.exit()
	}
	if alloc.Free() != 2 {
		t.Errorf("%d GPUs free at the end, want 2", alloc.Free())
	}
}
