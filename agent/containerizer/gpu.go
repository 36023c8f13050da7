package containerizer

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/resources"
)

// IsolatorGPUNvidia is --isolation's name of the NVIDIA GPU isolator.
const IsolatorGPUNvidia = "gpu/nvidia"

// NvidiaMajor is the major number of every NVIDIA GPU's device
// (/dev/nvidia<minor>).
const NvidiaMajor = 195

// GPU is one NVIDIA device the agent may hand out: its NVML index (which
// --nvidia_gpu_devices names and CUDA_VISIBLE_DEVICES counts), its device
// numbers and its UUID.
type GPU struct {
	Index        int
	Major, Minor int64
	UUID         string
}

// GPUDiscoverer finds the host's NVIDIA GPUs, by NVML index.
type GPUDiscoverer interface {
	// GPUs lists every device NVML sees, by index.
	GPUs() ([]GPU, error)
	// ControlDevices are the devices any GPU user needs besides its GPUs
	// (/dev/nvidiactl, /dev/nvidia-uvm and, when present,
	// /dev/nvidia-uvm-tools).
	ControlDevices() ([]DeviceRule, error)
}

// GPUOptions are the GPU flags.
type GPUOptions struct {
	// Devices is --nvidia_gpu_devices: the NVML indices of the GPUs to
	// hand out (nil: every GPU, unless --resources says gpus:0).
	Devices []int
	// Resources is --resources, whose "gpus" must then match Devices.
	Resources string
	// Discoverer finds the GPUs; nil uses NVML.
	Discoverer GPUDiscoverer
}

// ParseGPUDevices reads --nvidia_gpu_devices: NVML indices, comma-separated.
func ParseGPUDevices(text string) ([]int, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	var out []int
	for _, f := range strings.Split(text, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("--nvidia_gpu_devices: %q is not a GPU index", strings.TrimSpace(f))
		}
		if slices.Contains(out, n) {
			return nil, errors.New("--nvidia_gpu_devices: contains duplicates")
		}
		out = append(out, n)
	}
	return out, nil
}

// NewGPUAllocatorFor finds the GPUs gpu/nvidia hands out, checking the GPU
// flags as Mesos's agent does: with --nvidia_gpu_devices, --resources must
// say as many gpus (a whole number, no more than the host has), and the
// reverse; without either, every GPU found is used, and none found is an
// error (the flag was given for GPUs). --resources "gpus:0" turns them off:
// it returns nil.
func NewGPUAllocatorFor(opts GPUOptions) (*GPUAllocator, error) {
	given, err := resources.Parse(opts.Resources)
	if err != nil {
		return nil, fmt.Errorf("--resources: %w", err)
	}
	named := given.Get("gpus")
	var requested float64
	for _, r := range named {
		requested += r.Scalar.Float64()
	}
	// Zero resources do not survive parsing: "gpus:0" is told from no
	// gpus at all by its name in the text, as Mesos tells it.
	if requested == 0 && strings.Contains(opts.Resources, "gpus") {
		if opts.Devices != nil {
			return nil, errors.New("--nvidia_gpu_devices cannot be given when --resources says 0 gpus")
		}
		return nil, nil
	}
	if opts.Devices != nil && len(named) == 0 {
		return nil, errors.New("--nvidia_gpu_devices cannot be given without 'gpus' in --resources")
	}
	if len(named) > 0 && opts.Devices == nil {
		return nil, errors.New("the 'gpus' resource in --resources needs --nvidia_gpu_devices to name the GPUs")
	}
	if requested != float64(int(requested)) || requested < 0 {
		return nil, fmt.Errorf("--resources: 'gpus' must be a whole number, not %v", requested)
	}
	d := opts.Discoverer
	if d == nil {
		d = nvmlDiscoverer{}
	}
	all, err := d.GPUs()
	if err != nil {
		return nil, fmt.Errorf("--isolation=%s: %w", IsolatorGPUNvidia, err)
	}
	if len(named) > 0 {
		if len(opts.Devices) != int(requested) {
			return nil, fmt.Errorf("--resources and --nvidia_gpu_devices name different numbers of GPUs (%v and %d)", requested, len(opts.Devices))
		}
		if int(requested) > len(all) {
			return nil, fmt.Errorf("--resources asks for %v gpus but the host has %d", requested, len(all))
		}
	}
	var use []GPU
	if opts.Devices == nil {
		use = all
	} else {
		for _, idx := range opts.Devices {
			i := slices.IndexFunc(all, func(g GPU) bool { return g.Index == idx })
			if i < 0 {
				return nil, fmt.Errorf("--nvidia_gpu_devices: the host has no GPU of index %d", idx)
			}
			use = append(use, all[i])
		}
	}
	if len(use) == 0 {
		return nil, fmt.Errorf("--isolation=%s: no NVIDIA GPU was found on this host", IsolatorGPUNvidia)
	}
	control, err := d.ControlDevices()
	if err != nil {
		return nil, fmt.Errorf("--isolation=%s: %w", IsolatorGPUNvidia, err)
	}
	return NewGPUAllocator(use, control), nil
}

// GPUAllocator hands whole GPUs to containers: each container holds as
// many as its "gpus" resource says, the lowest free ones first; they are
// free again when it is cleaned up. It is safe for concurrent use.
type GPUAllocator struct {
	all     []GPU
	control []DeviceRule

	mu    sync.Mutex
	owner map[int64]string // minor -> container
	held  map[string][]GPU // container -> its GPUs, by minor
}

// NewGPUAllocator returns an allocator of gpus (control are the devices
// every container with GPUs needs besides them).
func NewGPUAllocator(gpus []GPU, control []DeviceRule) *GPUAllocator {
	all := slices.Clone(gpus)
	slices.SortFunc(all, byMinor)
	return &GPUAllocator{all: all, control: slices.Clone(control), owner: map[int64]string{}, held: map[string][]GPU{}}
}

// Total lists every GPU the allocator hands out.
func (a *GPUAllocator) Total() []GPU { return slices.Clone(a.all) }

// ControlDevices are the devices every container with GPUs may use.
func (a *GPUAllocator) ControlDevices() []DeviceRule { return slices.Clone(a.control) }

// Resources are the agent's "gpus" resource.
func (a *GPUAllocator) Resources() []*mesos.Resource {
	return resources.ToProto(resources.New(resources.ScalarResource("gpus", resources.ScalarFromFloat(float64(len(a.all))))))
}

// Of lists the container's GPUs.
func (a *GPUAllocator) Of(id string) []GPU {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.held[id])
}

// Allocate makes the container hold n GPUs: it takes free ones when it
// holds fewer, and gives back its highest when it holds more. It returns
// what the container holds then. Asking for more than are free is an error
// that changes nothing.
func (a *GPUAllocator) Allocate(id string, n int) ([]GPU, error) {
	if n < 0 {
		return nil, fmt.Errorf("cannot allocate %d GPUs", n)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	have := a.held[id]
	switch {
	case n > len(have):
		var free []GPU
		for _, g := range a.all {
			if _, taken := a.owner[g.Minor]; !taken {
				free = append(free, g)
			}
		}
		want := n - len(have)
		if want > len(free) {
			return nil, fmt.Errorf("requested %d more GPUs but only %d of %d are free", want, len(free), len(a.all))
		}
		for _, g := range free[:want] {
			a.owner[g.Minor] = id
			have = append(have, g)
		}
	case n < len(have):
		for _, g := range have[n:] {
			delete(a.owner, g.Minor)
		}
		have = have[:n:n]
	}
	slices.SortFunc(have, byMinor)
	if len(have) == 0 {
		delete(a.held, id)
	} else {
		a.held[id] = have
	}
	return slices.Clone(have), nil
}

// Claim gives the container exactly the GPUs of the minors (a recovered
// container's, read back from its cgroup). A minor the allocator does not
// hand out, or that another container holds, is an error that changes
// nothing.
func (a *GPUAllocator) Claim(id string, minors []int64) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	var claim []GPU
	for _, m := range minors {
		i := slices.IndexFunc(a.all, func(g GPU) bool { return g.Minor == m })
		if i < 0 {
			return fmt.Errorf("GPU %d:%d is not one this agent hands out", NvidiaMajor, m)
		}
		if o, taken := a.owner[m]; taken && o != id {
			return fmt.Errorf("GPU %d:%d is held by container %s", NvidiaMajor, m, o)
		}
		if !slices.ContainsFunc(claim, func(g GPU) bool { return g.Minor == m }) {
			claim = append(claim, a.all[i])
		}
	}
	for _, g := range a.held[id] {
		delete(a.owner, g.Minor)
	}
	for _, g := range claim {
		a.owner[g.Minor] = id
	}
	slices.SortFunc(claim, byMinor)
	if len(claim) == 0 {
		delete(a.held, id)
	} else {
		a.held[id] = claim
	}
	return nil
}

// Release frees the container's GPUs.
func (a *GPUAllocator) Release(id string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, g := range a.held[id] {
		delete(a.owner, g.Minor)
	}
	delete(a.held, id)
}

// Free counts the GPUs no container holds.
func (a *GPUAllocator) Free() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.all) - len(a.owner)
}

// gpusOf is the whole number of GPUs the resources ask for.
func gpusOf(rs []*mesos.Resource) (int, error) {
	var sum float64
	for _, r := range rs {
		if r.GetName() == "gpus" && r.GetType() == mesos.Value_SCALAR {
			sum += r.GetScalar().GetValue()
		}
	}
	if sum != float64(int(sum)) || sum < 0 {
		return 0, fmt.Errorf("the 'gpus' resource must be a whole number, not %v", sum)
	}
	return int(sum), nil
}

// visibleDevices is CUDA_VISIBLE_DEVICES for gpus: their NVML indices.
func visibleDevices(gpus []GPU) string {
	idx := make([]string, len(gpus))
	for i, g := range gpus {
		idx[i] = strconv.Itoa(g.Index)
	}
	return strings.Join(idx, ",")
}

// rule is the device rule that lets a container use the GPU.
func (g GPU) rule() DeviceRule {
	return DeviceRule{Type: 'c', Major: g.Major, Minor: g.Minor, Access: "rwm"}
}

func byMinor(a, b GPU) int { return cmp.Compare(a.Minor, b.Minor) }
