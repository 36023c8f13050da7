package containerizer

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// fakeGPUs is a GPUDiscoverer with a fixed device list.
type fakeGPUs struct {
	gpus    []GPU
	control []DeviceRule
	err     error
}

func (f fakeGPUs) GPUs() ([]GPU, error)                  { return f.gpus, f.err }
func (f fakeGPUs) ControlDevices() ([]DeviceRule, error) { return f.control, nil }

// fourGPUs are NVML indices 0-3 whose minors are not in index order.
var fourGPUs = []GPU{
	{Index: 0, Major: NvidiaMajor, Minor: 2, UUID: "GPU-a"},
	{Index: 1, Major: NvidiaMajor, Minor: 0, UUID: "GPU-b"},
	{Index: 2, Major: NvidiaMajor, Minor: 3, UUID: "GPU-c"},
	{Index: 3, Major: NvidiaMajor, Minor: 1, UUID: "GPU-d"},
}

func minorsOf(gpus []GPU) []int64 {
	var out []int64
	for _, g := range gpus {
		out = append(out, g.Minor)
	}
	return out
}

// Each container holds as many whole GPUs as it asks for, the lowest free
// ones first; asking for more than are free fails and changes nothing;
// shrinking gives back the highest; cleanup frees them; a restarted agent
// gives recovered containers back exactly the GPUs they held.
func TestGPUAllocator(t *testing.T) {
	a := NewGPUAllocator(fourGPUs, nil)
	mustAllocate := func(id string, n int, want ...int64) {
		t.Helper()
		got, err := a.Allocate(id, n)
		if err != nil {
			t.Fatalf("Allocate(%s, %d): %v", id, n, err)
		}
		if !slices.Equal(minorsOf(got), want) {
			t.Fatalf("Allocate(%s, %d) = minors %v, want %v", id, n, minorsOf(got), want)
		}
	}
	mustAllocate("c1", 2, 0, 1)
	mustAllocate("c2", 1, 2)
	if a.Free() != 1 {
		t.Errorf("Free = %d, want 1", a.Free())
	}

	// Exhaustion: nothing changes.
	if _, err := a.Allocate("c3", 2); err == nil || !strings.Contains(err.Error(), "only 1 of 4 are free") {
		t.Errorf("Allocate beyond the free GPUs: err = %v", err)
	}
	if len(a.Of("c3")) != 0 || a.Free() != 1 {
		t.Errorf("a failed allocation left c3 with %v, %d free", a.Of("c3"), a.Free())
	}

	// Shrinking and growing.
	mustAllocate("c1", 1, 0)
	mustAllocate("c3", 2, 1, 3)
	mustAllocate("c3", 2, 1, 3) // no change
	if a.Free() != 0 {
		t.Errorf("Free = %d, want 0", a.Free())
	}
	if _, err := a.Allocate("c4", 1); err == nil {
		t.Error("allocated a GPU with none free")
	}

	// Release.
	a.Release("c3")
	a.Release("unknown")
	if a.Free() != 2 || len(a.Of("c3")) != 0 {
		t.Errorf("after release: %d free, c3 holds %v", a.Free(), a.Of("c3"))
	}
	mustAllocate("c4", 2, 1, 3)
	mustAllocate("c4", 0)
	if a.Free() != 2 {
		t.Errorf("Free = %d after c4 gave everything back, want 2", a.Free())
	}

	// Recovery: a new allocator is told what recovered containers hold.
	r := NewGPUAllocator(fourGPUs, nil)
	if err := r.Claim("old1", []int64{3, 1}); err != nil {
		t.Fatal(err)
	}
	if err := r.Claim("old2", []int64{1}); err == nil || !strings.Contains(err.Error(), "held by container old1") {
		t.Errorf("claiming a GPU another container holds: err = %v", err)
	}
	if err := r.Claim("old2", []int64{7}); err == nil || !strings.Contains(err.Error(), "not one this agent hands out") {
		t.Errorf("claiming an unknown GPU: err = %v", err)
	}
	if len(r.Of("old2")) != 0 {
		t.Errorf("a failed claim gave old2 %v", r.Of("old2"))
	}
	if got := minorsOf(r.Of("old1")); !slices.Equal(got, []int64{1, 3}) {
		t.Errorf("old1 holds minors %v, want [1 3]", got)
	}
	got, err := r.Allocate("new", 2)
	if err != nil || !slices.Equal(minorsOf(got), []int64{0, 2}) {
		t.Errorf("a new container after recovery got %v (%v), want the two free ones [0 2]", minorsOf(got), err)
	}
	if v := visibleDevices(got); v != "1,0" {
		t.Errorf("CUDA_VISIBLE_DEVICES = %q, want the NVML indices 1,0", v)
	}
}

// The GPU flags are checked as Mesos checks them, each error naming the
// flag; without any flag every GPU found is used, and a host without any
// makes gpu/nvidia fail.
func TestNewGPUAllocatorFor(t *testing.T) {
	host := fakeGPUs{gpus: fourGPUs, control: []DeviceRule{{'c', NvidiaMajor, 255, "rwm"}}}
	all, err := NewGPUAllocatorFor(GPUOptions{Discoverer: host})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Total()) != 4 || all.Resources()[0].GetScalar().GetValue() != 4 || len(all.ControlDevices()) != 1 {
		t.Errorf("no flags: %d GPUs, resources %v", len(all.Total()), all.Resources())
	}
	some, err := NewGPUAllocatorFor(GPUOptions{Discoverer: host, Resources: "cpus:2;gpus:2", Devices: []int{3, 0}})
	if err != nil {
		t.Fatal(err)
	}
	if got := minorsOf(some.Total()); !slices.Equal(got, []int64{1, 2}) {
		t.Errorf("--nvidia_gpu_devices=3,0 hands out minors %v, want [1 2]", got)
	}
	off, err := NewGPUAllocatorFor(GPUOptions{Discoverer: host, Resources: "gpus:0"})
	if off != nil || err != nil {
		t.Errorf("gpus:0 = %v, %v; want no GPUs and no error", off, err)
	}
	for _, c := range []struct {
		name string
		opts GPUOptions
		want string
	}{
		{"devices without gpus", GPUOptions{Devices: []int{0}}, "--nvidia_gpu_devices cannot be given without 'gpus' in --resources"},
		{"gpus without devices", GPUOptions{Resources: "gpus:2"}, "needs --nvidia_gpu_devices"},
		{"gpus:0 with devices", GPUOptions{Resources: "gpus:0", Devices: []int{0}}, "--nvidia_gpu_devices cannot be given when --resources says 0 gpus"},
		{"fractional", GPUOptions{Resources: "gpus:1.5", Devices: []int{0}}, "whole number"},
		{"counts differ", GPUOptions{Resources: "gpus:2", Devices: []int{0}}, "different numbers of GPUs"},
		{"more than the host has", GPUOptions{Resources: "gpus:5", Devices: []int{0, 1, 2, 3, 4}}, "the host has 4"},
		{"unknown index", GPUOptions{Resources: "gpus:1", Devices: []int{9}}, "no GPU of index 9"},
		{"bad resources", GPUOptions{Resources: "gpus:x"}, "--resources"},
	} {
		t.Run(c.name, func(t *testing.T) {
			c.opts.Discoverer = host
			if _, err := NewGPUAllocatorFor(c.opts); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v, want one saying %q", err, c.want)
			}
		})
	}
	if _, err := NewGPUAllocatorFor(GPUOptions{Discoverer: fakeGPUs{}}); err == nil || !strings.Contains(err.Error(), "--isolation=gpu/nvidia: no NVIDIA GPU") {
		t.Errorf("a host without GPUs: err = %v", err)
	}
	if _, err := NewGPUAllocatorFor(GPUOptions{Discoverer: fakeGPUs{err: errors.New("NVML cannot be initialized")}}); err == nil ||
		!strings.Contains(err.Error(), "--isolation=gpu/nvidia: NVML cannot be initialized") {
		t.Errorf("NVML missing: err = %v", err)
	}
}

func TestParseGPUDevices(t *testing.T) {
	if got, err := ParseGPUDevices(" 0, 2,1"); err != nil || !slices.Equal(got, []int{0, 2, 1}) {
		t.Errorf("ParseGPUDevices = %v, %v", got, err)
	}
	if got, err := ParseGPUDevices(""); got != nil || err != nil {
		t.Errorf("empty = %v, %v", got, err)
	}
	for _, bad := range []string{"0,0", "a", "-1", "0,,1"} {
		if _, err := ParseGPUDevices(bad); err == nil || !strings.Contains(err.Error(), "--nvidia_gpu_devices") {
			t.Errorf("ParseGPUDevices(%q): err = %v", bad, err)
		}
	}
}

// gpu/nvidia needs cgroups/devices, and fails on a host where NVML cannot
// find any GPU (this one, unless it has NVIDIA's driver and devices) with
// an error naming the flag; --nvidia_gpu_devices and --allowed_devices
// need their isolators.
func TestIsolatorsForGPUFlags(t *testing.T) {
	if _, _, err := IsolatorsFor("cgroups/cpu,gpu/nvidia", CgroupsOptions{Root: "x"}); err == nil || !strings.Contains(err.Error(), "needs cgroups/devices") {
		t.Errorf("gpu/nvidia without cgroups/devices: err = %v", err)
	}
	if _, _, err := IsolatorsFor("cgroups/devices", CgroupsOptions{Root: "x", GPU: GPUOptions{Devices: []int{0}}}); err == nil || !strings.Contains(err.Error(), "--nvidia_gpu_devices needs --isolation to include gpu/nvidia") {
		t.Errorf("--nvidia_gpu_devices without gpu/nvidia: err = %v", err)
	}
	if _, _, err := IsolatorsFor("cgroups/cpu", CgroupsOptions{Root: "x", AllowedDevices: []DeviceRule{{'c', 1, 3, "r"}}}); err == nil || !strings.Contains(err.Error(), "--allowed_devices needs") {
		t.Errorf("--allowed_devices without cgroups/devices: err = %v", err)
	}
	if gpus, err := (nvmlDiscoverer{}).GPUs(); err == nil && len(gpus) > 0 {
		t.Skipf("skipping the no-GPU check: this host has %d NVIDIA GPUs", len(gpus))
	}
	_, _, err := IsolatorsFor("cgroups/devices,gpu/nvidia", CgroupsOptions{Root: "x"})
	if err == nil || !strings.Contains(err.Error(), "--isolation=gpu/nvidia") {
		t.Errorf("gpu/nvidia on a host without NVIDIA GPUs: err = %v, want one naming --isolation=gpu/nvidia", err)
	}
	t.Logf("gpu/nvidia here: %v", err)
}
