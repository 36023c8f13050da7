//go:build linux

package containerizer

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/link"
	"github.com/containerd/cgroups/v3/cgroup2"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// gpusXattr records, on the container's cgroup directory (the devices
// hierarchy's with v1), the minors of the GPUs it holds, so that a
// restarted agent gives them back to it.
const gpusXattr = "trusted.gomesos.gpus"

// deviceRules is the container's device list with cgroups/devices (nil
// without): the default whitelist, --allowed_devices and, when it holds
// GPUs, their control devices and the GPUs.
func (g *Cgroups) deviceRules(gpus []GPU) []DeviceRule {
	if !g.opts.Devices {
		return nil
	}
	rules := append([]DeviceRule(nil), DefaultDeviceWhitelist...)
	rules = append(rules, g.opts.AllowedDevices...)
	if g.opts.GPUs != nil && len(gpus) > 0 {
		rules = append(rules, g.opts.GPUs.ControlDevices()...)
	}
	for _, gpu := range gpus {
		rules = append(rules, gpu.rule())
	}
	return rules
}

// specDevices is a device list for the cgroups library: everything denied
// first, then each rule allowed. Nil stays nil (no device control).
func specDevices(rules []DeviceRule) []specs.LinuxDeviceCgroup {
	if rules == nil {
		return nil
	}
	// -1 is "*" for both versions' writers.
	out := []specs.LinuxDeviceCgroup{{Allow: false, Type: "a", Major: ptr[int64](-1), Minor: ptr[int64](-1), Access: "rwm"}}
	for _, r := range rules {
		out = append(out, specs.LinuxDeviceCgroup{Allow: true, Type: string(r.Type), Major: ptr(r.Major), Minor: ptr(r.Minor), Access: r.Access})
	}
	return out
}

// devicesPath is the cgroup directory that holds the container's device
// list: the devices hierarchy's (v1) or the unified one's.
func (g *Cgroups) devicesPath(id string) string {
	if g.host.Version == 2 {
		return filepath.Join(g.host.Mounts[""], g.rel(id))
	}
	return filepath.Join(g.host.Mounts[v1Devices], g.rel(id))
}

// recordGPUs writes the minors of the container's GPUs on its cgroup.
func (g *Cgroups) recordGPUs(id string, gpus []GPU) error {
	minors := make([]string, len(gpus))
	for i, gpu := range gpus {
		minors[i] = strconv.FormatInt(gpu.Minor, 10)
	}
	dir := g.devicesPath(id)
	if err := unix.Setxattr(dir, gpusXattr, []byte(strings.Join(minors, ",")), 0); err != nil {
		return fmt.Errorf("%s: record the GPUs of cgroup %s: %w", IsolatorGPUNvidia, dir, err)
	}
	return nil
}

// recordedGPUs reads back the minors of the container's GPUs: from the
// record on its cgroup, or (v1) from its device list, as Mesos does.
func (g *Cgroups) recordedGPUs(id string) ([]int64, error) {
	dir := g.devicesPath(id)
	buf := make([]byte, 4096)
	n, err := unix.Getxattr(dir, gpusXattr, buf)
	if err == nil {
		var out []int64
		for _, f := range strings.Split(string(buf[:n]), ",") {
			if f == "" {
				continue
			}
			m, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("the GPUs recorded on cgroup %s: %q is not a minor number", dir, f)
			}
			out = append(out, m)
		}
		return out, nil
	}
	if g.host.Version == 2 || !errors.Is(err, unix.ENODATA) {
		return nil, fmt.Errorf("read the GPUs recorded on cgroup %s: %w", dir, err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "devices.list"))
	if err != nil {
		return nil, fmt.Errorf("read the device list of cgroup %s: %w", dir, err)
	}
	var out []int64
	prefix := fmt.Sprintf("c %d:", NvidiaMajor)
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, prefix)
		if !ok {
			continue
		}
		minor, _, _ := strings.Cut(rest, " ")
		if m, err := strconv.ParseInt(minor, 10, 64); err == nil {
			out = append(out, m)
		}
	}
	return out, nil
}

// updateDevicesV1 changes a v1 device list from the GPUs before to those
// after: it allows the new ones (with the control devices when the
// container had none) and denies those given back, leaving the rest as
// it is.
func (g *Cgroups) updateDevicesV1(id string, before, after []GPU) error {
	dir := g.devicesPath(id)
	write := func(file string, r DeviceRule) error {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(r.String()), 0); err != nil {
			return fmt.Errorf("%s: write %q to %s of cgroup %s: %w", IsolatorGPUNvidia, r.String(), file, dir, err)
		}
		return nil
	}
	held := func(gpus []GPU, gpu GPU) bool {
		for _, h := range gpus {
			if h.Minor == gpu.Minor {
				return true
			}
		}
		return false
	}
	if len(before) == 0 && len(after) > 0 {
		for _, r := range g.opts.GPUs.ControlDevices() {
			if err := write("devices.allow", r); err != nil {
				return err
			}
		}
	}
	for _, gpu := range after {
		if !held(before, gpu) {
			if err := write("devices.allow", gpu.rule()); err != nil {
				return err
			}
		}
	}
	for _, gpu := range before {
		if !held(after, gpu) {
			if err := write("devices.deny", gpu.rule()); err != nil {
				return err
			}
		}
	}
	return nil
}

// replaceDeviceProgram gives a v2 cgroup a new device program: the new
// one is attached before the old ones are detached, so that the cgroup is
// never without one (while both are attached, a device must pass both).
func replaceDeviceProgram(dir string, devices []specs.LinuxDeviceCgroup) error {
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open cgroup %s: %w", dir, err)
	}
	defer unix.Close(fd)
	old, err := link.QueryPrograms(link.QueryOptions{Target: fd, Attach: ebpf.AttachCGroupDevice})
	if err != nil {
		return fmt.Errorf("list the device programs of cgroup %s: %w", dir, err)
	}
	insts, license, err := cgroup2.DeviceFilter(devices)
	if err != nil {
		return fmt.Errorf("device program for cgroup %s: %w", dir, err)
	}
	if _, err := cgroup2.LoadAttachCgroupDeviceFilter(insts, license, fd); err != nil {
		return fmt.Errorf("attach a device program to cgroup %s: %w", dir, err)
	}
	for _, p := range old.Programs {
		prog, err := ebpf.NewProgramFromID(p.ID)
		if err != nil {
			return fmt.Errorf("device program %d of cgroup %s: %w", p.ID, dir, err)
		}
		err = link.RawDetachProgram(link.RawDetachProgramOptions{Target: fd, Program: prog, Attach: ebpf.AttachCGroupDevice})
		prog.Close()
		if err != nil {
			return fmt.Errorf("detach device program %d of cgroup %s: %w", p.ID, dir, err)
		}
	}
	return nil
}
