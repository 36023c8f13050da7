package containerizer

import (
	"errors"
	"fmt"
	"slices"
	"strings"

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
	// IsolatorCgroupsDevices is cgroups/devices (IsolatorGPUNvidia,
	// gpu/nvidia, needs it).
	IsolatorCgroupsDevices = "cgroups/devices"

	// DefaultCgroupsIsolation is --isolation's default where the agent
	// can write cgroups; DefaultPosixIsolation is it elsewhere.
	DefaultCgroupsIsolation = IsolatorCgroupsCPU + "," + IsolatorCgroupsMem + "," + IsolatorCgroupsPids
	DefaultPosixIsolation   = IsolatorPosixCPU + "," + IsolatorPosixMem
)

// IsolatorsFor builds the isolators --isolation names (a comma-separated
// list; empty picks the default: cgroups where the agent can write them,
// else posix). It returns them with the list in force. opts carries
// --cgroups_root, --cgroups_enable_cfs, --allowed_devices and the GPU
// flags; the selection of controllers comes from the list. gpu/nvidia
// finds the GPUs now (see NewGPUAllocatorFor), and fails without any. An unknown isolator, or a cgroups isolator where
// cgroups cannot be written, is an error naming the flag.
func IsolatorsFor(isolation string, opts CgroupsOptions) ([]Isolator, string, error) {
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
	gpu := false
	for _, n := range strings.Split(isolation, ",") {
		n = strings.TrimSpace(n)
		if n == "" || slices.Contains(names, n) {
			continue
		}
		switch n {
		case IsolatorPosixCPU, IsolatorPosixMem:
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
		default:
			return nil, "", fmt.Errorf("--isolation: unknown isolator %q (this agent has %s, %s, %s, %s, %s, %s and %s)", n,
				IsolatorPosixCPU, IsolatorPosixMem, IsolatorCgroupsCPU, IsolatorCgroupsMem, IsolatorCgroupsPids,
				IsolatorCgroupsDevices, IsolatorGPUNvidia)
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
	if !opts.CPU && !opts.Mem && !opts.Pids && !opts.Devices {
		return nil, resolved, nil
	}
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
	g, err := NewCgroups(host, opts)
	if err != nil {
		return nil, "", err
	}
	return []Isolator{g}, resolved, nil
}
