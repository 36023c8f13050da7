package containerizer

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// cgroupProcsEnv carries, to the supervisor, the cgroup.procs files it
// writes its own pid into before it starts the executor (separated by
// ':'); the supervisor drops it from the executor's environment.
const cgroupProcsEnv = "GOMESOS_SUPERVISOR_CGROUP_PROCS"

// Limitation is why an isolator ended a container: a resource limit it
// enforced (Mesos's ContainerLimitation).
type Limitation struct {
	Reason  mesos.TaskStatus_Reason
	Message string
}

// Killer is an Isolator that can kill every process of a container by
// itself (a cgroup, frozen and killed whole), including those that left
// its session.
type Killer interface {
	KillAll(id string) error
}

// Limiter is an Isolator that may end a container for a limitation: it
// calls the function given to WatchLimits with the container's ID, and
// tells the limitation through Limitation until Cleanup.
type Limiter interface {
	WatchLimits(limited func(id string))
	Limitation(id string) *Limitation
}

// Measurer is an Isolator that can measure what a container uses (its
// cgroup's counters, its sandbox's size, a Docker container's stats): it
// fills the fields of st it knows and leaves the others alone. It must be
// quick: /monitor/statistics asks every container in turn.
type Measurer interface {
	Usage(id string, st *mesos.ResourceStatistics) error
}

// ProcessMeasurer is an Isolator that measures a container from its
// processes (posix/cpu, posix/mem, which have no cgroup to read): the
// containerizer finds the container's processes and hands over what /proc
// says of each.
type ProcessMeasurer interface {
	UsageOfProcesses(procs []ProcessUsage, st *mesos.ResourceStatistics)
}

// ProcessUsage is what one process of a container has used.
type ProcessUsage struct {
	Pid int
	// UserTime and SystemTime are the CPU time it has spent in user and
	// kernel mode.
	UserTime, SystemTime time.Duration
	// RSSBytes is its resident set.
	RSSBytes uint64
	Threads  int
}

// Adopter is an Isolator that keeps something per container and must hear
// of each container a restarted agent adopts (Recover), as Prepare told it
// of those launched. spec has the container's ID and sandbox, not its
// resources, which an Update brings; pid is the container's first process.
type Adopter interface {
	Adopt(spec Spec, pid int) error
}

// LimitsIsolator is an Isolator that applies resource limits beyond the
// requests (TaskInfo.limits, Mesos's TASK_RESOURCE_LIMITS): at Prepare from
// Spec.Limits, on updates through UpdateLimits, which the containerizer
// calls instead of Update. limits maps "cpus" and "mem" to their limits
// (+Inf for none); nil means the requests are the limits.
type LimitsIsolator interface {
	UpdateLimits(id string, resources []*mesos.Resource, limits map[string]float64) error
}

// LimitsUpdater is a Containerizer that applies resource limits beyond the
// requests; the agent calls UpdateLimits instead of Update on it.
type LimitsUpdater interface {
	UpdateLimits(id string, resources []*mesos.Resource, limits map[string]float64) error
}

// Recoverer is an Isolator with state of its own to recover after an
// agent restart: given the containers adopted, it removes what belongs to
// any other.
type Recoverer interface {
	RecoverIsolation(adopted []string) error
}

// Isolation names, as --isolation takes them.
const (
	IsolatorPosixCPU    = "posix/cpu"
	IsolatorPosixMem    = "posix/mem"
	IsolatorCgroupsCPU  = "cgroups/cpu"
	IsolatorCgroupsMem  = "cgroups/mem"
	IsolatorCgroupsPids = "cgroups/pids"
	IsolatorDiskDu      = "disk/du"
	// IsolatorPosixDisk is disk/du's name before Mesos 1.0, still taken.
	IsolatorPosixDisk = "posix/disk"
	// IsolatorCgroupsDevices is cgroups/devices (IsolatorGPUNvidia,
	// gpu/nvidia, needs it).
	IsolatorCgroupsDevices = "cgroups/devices"

	IsolatorNamespacesPid   = "namespaces/pid"
	IsolatorFilesystemLinux = "filesystem/linux"
	IsolatorNetworkPorts    = "network/ports"

	// DefaultCgroupsIsolation is --isolation's default where the agent
	// can write cgroups; DefaultPosixIsolation is it elsewhere.
	DefaultCgroupsIsolation = IsolatorCgroupsCPU + "," + IsolatorCgroupsMem + "," + IsolatorCgroupsPids
	DefaultPosixIsolation   = IsolatorPosixCPU + "," + IsolatorPosixMem
)

// NamespaceOptions configure the namespaces/pid, filesystem/linux and
// network/ports isolators.
type NamespaceOptions struct {
	// DisallowSharingPid refuses containers that ask to share the agent's
	// pid namespace (--disallow_sharing_agent_pid_namespace).
	DisallowSharingPid bool
	// Ports configures network/ports.
	Ports PortsOptions
}

// IsolatorsFor builds the isolators --isolation names (a comma-separated
// list; empty picks the default: cgroups where the agent can write them,
// else posix). It returns them with the list in force. opts carries
// --cgroups_root, --cgroups_enable_cfs, --allowed_devices, the GPU flags and,
// in Disk, disk/du's options; the selection of controllers comes from the
// list; ns, when given, configures the namespace and ports isolators.
// gpu/nvidia finds the GPUs now (see NewGPUAllocatorFor), and fails
// without any. An unknown isolator, or a cgroups isolator where cgroups
// cannot be written, is an error naming the flag.
func IsolatorsFor(isolation string, opts CgroupsOptions, ns ...NamespaceOptions) ([]Isolator, string, error) {
	if strings.TrimSpace(isolation) == "" {
		host, err := DetectCgroups()
		if err == nil {
			err = CgroupsWritable(host, opts.Root)
		}
		if err != nil {
			if opts.Logger != nil {
				opts.Logger.Info("cgroups isolation is off: the agent cannot write cgroups; using posix isolation", "why", err.Error())
			}
			isolation = DefaultPosixIsolation
		} else {
			isolation = DefaultCgroupsIsolation
		}
	}
	var names []string
	var posix []Isolator
	disk, gpu := false, false
	for _, n := range strings.Split(isolation, ",") {
		n = strings.TrimSpace(n)
		if n == IsolatorPosixDisk {
			if strings.Contains(isolation, IsolatorDiskDu) {
				return nil, "", fmt.Errorf("--isolation: using %q and %q together is not allowed (%s is %s's old name)",
					IsolatorPosixDisk, IsolatorDiskDu, IsolatorPosixDisk, IsolatorDiskDu)
			}
			if opts.Logger != nil {
				opts.Logger.Warn("'posix/disk' has been renamed as 'disk/du', please update your --isolation flag to use 'disk/du'")
			}
			n = IsolatorDiskDu
		}
		if n == "" || slices.Contains(names, n) {
			continue
		}
		switch n {
		case IsolatorPosixCPU:
			posix = append(posix, PosixCPU{})
		case IsolatorPosixMem:
			posix = append(posix, PosixMem{})
		case IsolatorCgroupsCPU:
			opts.CPU = true
		case IsolatorCgroupsMem:
			opts.Mem = true
		case IsolatorCgroupsPids:
			opts.Pids = true
		case IsolatorCgroupsDevices:
			opts.Devices = true
		case IsolatorGPUNvidia:
			gpu = true
		case IsolatorDiskDu:
			disk = true
		case IsolatorNamespacesPid, IsolatorFilesystemLinux, IsolatorNetworkPorts:
		default:
			return nil, "", fmt.Errorf("--isolation: unknown isolator %q (this agent has %s)", n, strings.Join(knownIsolators, ", "))
		}
		names = append(names, n)
	}
	resolved := strings.Join(names, ",")
	if !opts.Devices && len(opts.AllowedDevices) > 0 {
		return nil, "", fmt.Errorf("--allowed_devices needs --isolation to include %s", IsolatorCgroupsDevices)
	}
	if !gpu && opts.GPU.Devices != nil {
		return nil, "", fmt.Errorf("--nvidia_gpu_devices needs --isolation to include %s", IsolatorGPUNvidia)
	}
	if gpu {
		if !opts.Devices {
			return nil, "", fmt.Errorf("--isolation=%s: the %s isolator needs %s, to give each container its GPUs", resolved, IsolatorGPUNvidia, IsolatorCgroupsDevices)
		}
		a, err := NewGPUAllocatorFor(opts.GPU)
		if err != nil {
			return nil, "", err
		}
		opts.GPUs = a
	}
	isolators := posix
	var g *Cgroups
	if opts.CPU || opts.Mem || opts.Pids || opts.Devices {
		host, err := DetectCgroups()
		if err == nil {
			err = CgroupsWritable(host, opts.Root)
		}
		if err == nil && opts.Devices && host.Version == 1 && host.Mounts[v1Devices] == "" {
			err = errors.New("the cgroups v1 devices hierarchy is not mounted")
		}
		if err != nil {
			return nil, "", fmt.Errorf("--isolation=%s: cgroups cannot be used: %w", resolved, err)
		}
		g, err = NewCgroups(host, opts)
		if err != nil {
			return nil, "", err
		}
		isolators = append(isolators, g)
	}
	if disk {
		dopts := opts.Disk
		if dopts.Logger == nil {
			dopts.Logger = opts.Logger
		}
		d, err := NewDiskDu(dopts)
		if err != nil {
			return nil, "", err
		}
		isolators = append(isolators, d)
	}
	nsOut, err := namespaceIsolators(names, g, ns...)
	if err != nil {
		return nil, "", err
	}
	return append(isolators, nsOut...), resolved, nil
}

// knownIsolators lists what --isolation takes, for its error message.
var knownIsolators = []string{IsolatorPosixCPU, IsolatorPosixMem, IsolatorCgroupsCPU, IsolatorCgroupsMem, IsolatorCgroupsPids,
	IsolatorCgroupsDevices, IsolatorGPUNvidia, IsolatorDiskDu, IsolatorFilesystemLinux, IsolatorNamespacesPid, IsolatorNetworkPorts}

// namespaceIsolators builds filesystem/linux, namespaces/pid and
// network/ports when names has them. As in Mesos, namespaces/pid needs
// filesystem/linux (its /proc is mounted in the container's own mount
// namespace).
func namespaceIsolators(names []string, g *Cgroups, ns ...NamespaceOptions) ([]Isolator, error) {
	var o NamespaceOptions
	if len(ns) > 0 {
		o = ns[0]
	}
	var out []Isolator
	if slices.Contains(names, IsolatorFilesystemLinux) || slices.Contains(names, IsolatorNamespacesPid) {
		if err := NamespacesAvailable(); err != nil {
			return nil, fmt.Errorf("--isolation: %s and %s need namespaces: %w", IsolatorFilesystemLinux, IsolatorNamespacesPid, err)
		}
	}
	if slices.Contains(names, IsolatorFilesystemLinux) {
		out = append(out, FilesystemLinux{})
	}
	if slices.Contains(names, IsolatorNamespacesPid) {
		if !slices.Contains(names, IsolatorFilesystemLinux) {
			return nil, fmt.Errorf("--isolation: the '%s' isolator requires the '%s' isolator", IsolatorNamespacesPid, IsolatorFilesystemLinux)
		}
		out = append(out, PidNamespace{DisallowSharing: o.DisallowSharingPid})
	}
	if slices.Contains(names, IsolatorNetworkPorts) {
		p, err := NewPorts(o.Ports, g)
		if err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, nil
}
