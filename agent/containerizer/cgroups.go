package containerizer

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
)

// DefaultPidsMax is the pids limit of every container when cgroups/pids
// isolates it. Mesos's cgroups/pids isolator only counts processes; a limit
// is Gomesos's own.
const DefaultPidsMax = 4096

// v1Devices is the devices controller's name.
const v1Devices = "devices"

// CgroupsOptions configure the cgroups isolator.
type CgroupsOptions struct {
	// Root is the cgroup below which every container's cgroup lies
	// (--cgroups_root), relative to each hierarchy's root.
	Root string
	// CPU, Mem and Pids select cgroups/cpu, cgroups/mem and cgroups/pids.
	CPU, Mem, Pids bool
	// EnableCFS sets a hard CFS quota from cpus (--cgroups_enable_cfs).
	EnableCFS bool
	// Devices selects cgroups/devices: every container may use only
	// DefaultDeviceWhitelist, AllowedDevices (--allowed_devices) and, with
	// GPUs, its GPUs and their control devices.
	Devices        bool
	AllowedDevices []DeviceRule
	// GPUs, when set, is gpu/nvidia: each container holds as many GPUs as
	// its "gpus" resource says (it needs Devices). IsolatorsFor makes it
	// from GPU, the GPU flags.
	GPUs *GPUAllocator
	GPU  GPUOptions
	// PidsMax is the most processes a container may have; 0 means
	// DefaultPidsMax.
	PidsMax int64
	Logger  *slog.Logger
	// Disk configures disk/du, which IsolatorsFor builds beside.
	Disk DiskOptions
}

// CgroupHost says what cgroups the host offers.
type CgroupHost struct {
	// Version is 1 (v1 hierarchies, as on a legacy or hybrid host) or 2
	// (the unified hierarchy, with the controllers enabled there).
	Version int
	// Mounts maps each v1 controller this isolator uses (cpu, cpuacct,
	// memory, pids, freezer, and devices where it is mounted) to its
	// hierarchy's mount point; for v2, "" maps to the unified mount point.
	Mounts map[string]string
}

// RemoveCgroupsRoot removes root (a cgroups root relative to each
// hierarchy, as --cgroups_root) and every cgroup below it, in every
// hierarchy the isolator uses, where they hold no process. It returns the
// cgroups it could not remove (still busy, say). A local cluster calls it
// once its agents have stopped; tests call it to sweep what killed agents
// left. A host without cgroups has nothing to remove.
func RemoveCgroupsRoot(root string) (left []string) {
	host, err := DetectCgroups()
	if err != nil || root == "" || !filepath.IsLocal(root) {
		return nil
	}
	seen := map[string]bool{}
	for _, m := range host.Mounts {
		top := filepath.Join(m, root)
		if seen[top] {
			continue // cpu and cpuacct often share a hierarchy
		}
		seen[top] = true
		var dirs []string
		_ = filepath.WalkDir(top, func(path string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, path)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			if err := syscall.Rmdir(dirs[i]); err != nil && !errors.Is(err, syscall.ENOENT) {
				left = append(left, dirs[i])
			}
		}
	}
	return left
}

// RemoveCgroupIfEmpty removes the cgroup rel (relative to each hierarchy)
// where it has neither processes nor cgroups below it, and leaves it
// alone otherwise.
func RemoveCgroupIfEmpty(rel string) {
	host, err := DetectCgroups()
	if err != nil || rel == "" || !filepath.IsLocal(rel) {
		return
	}
	for _, m := range host.Mounts {
		_ = syscall.Rmdir(filepath.Join(m, rel))
	}
}
