package containerizer

import "log/slog"

// DefaultPidsMax is the pids limit of every container when cgroups/pids
// isolates it. Mesos's cgroups/pids isolator only counts processes; a limit
// is Gomesos's own.
const DefaultPidsMax = 4096

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
