// Package docker is what Gomesos's Docker containerizer shares between the
// agent and the docker executor: the names Mesos gives Docker containers
// (mesos-<ContainerID>), the translation of a task's ContainerInfo DOCKER,
// CommandInfo and resources into a Docker Engine create request (Mesos's
// Docker::RunOptions), the connection to the Engine through its official Go
// client, and the reading of a container's stats as Mesos's
// ResourceStatistics.
//
// It holds no state and starts nothing by itself: the docker executor
// (executor/builtin, kind "docker") runs containers with it, the agent's
// docker isolator (agent/containerizer) removes, recovers and measures them.
package docker

import (
	"errors"
	"fmt"
	"math"
	"net/netip"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

const (
	// NamePrefix starts the name of every Docker container Gomesos runs,
	// as Mesos's DOCKER_NAME_PREFIX does.
	NamePrefix = "mesos-"
	// SandboxPath is where the sandbox is mounted inside the container,
	// and what MESOS_SANDBOX says there (Mesos's --sandbox_directory).
	SandboxPath = "/mnt/mesos/sandbox"
	// DefaultSocket is --docker_socket's default.
	DefaultSocket = "/var/run/docker.sock"

	// As Mesos: 1024 shares per cpu, at least 2; at least 32 MB of
	// memory; a CFS period of 100 ms and a quota of at least 1 ms.
	cpuSharesPerCPU = 1024
	minCPUShares    = 2
	minMemory       = 32 << 20
	cfsPeriodUS     = 100_000
	minCFSQuotaUS   = 1_000
)

// Name is the Docker container name of the Mesos container id.
func Name(containerID string) string { return NamePrefix + containerID }

// ContainerID is the Mesos container ID a Docker container name (with or
// without Docker's leading "/") stands for, if it is one of ours.
func ContainerID(name string) (string, bool) {
	id, ok := strings.CutPrefix(strings.TrimPrefix(name, "/"), NamePrefix)
	return id, ok && id != ""
}

// RunSpec is a container to create: its configuration, host configuration
// and name, as the Engine API's create call takes them.
type RunSpec struct {
	Name   string
	Config *container.Config
	Host   *container.HostConfig
}

// Input is what a task's container is built from.
type Input struct {
	// Task carries the ContainerInfo (of type DOCKER), CommandInfo and
	// resources.
	Task *mesos.TaskInfo
	// Name is the container's name (Name(container ID)).
	Name string
	// Sandbox is the sandbox's path on the host, mounted at SandboxPath.
	Sandbox string
	// Env is the environment the agent gives the task (MESOS_TASK_ID and
	// the like), set before the command's own variables, which win.
	Env []string
	// EnableCFS (--cgroups_enable_cfs) sets a CFS quota from the cpus.
	EnableCFS bool
}

// BuildRunSpec translates a task into a Docker container, as Mesos's
// Docker::RunOptions::create does: cpu shares (and a CFS quota when asked)
// from cpus, a memory limit from mem (limits from TaskInfo.limits where
// given), the environment, volumes and the sandbox at SandboxPath, the
// network with its port mappings (which must lie in the task's ports),
// parameters, and the command: shell=true runs `/bin/sh -c value` as the
// entrypoint, shell=false keeps the image's entrypoint and passes value
// then arguments as its command.
func BuildRunSpec(in Input) (RunSpec, error) {
	ci := in.Task.GetContainer()
	if ci == nil || ci.Type == nil || ci.GetType() != mesos.ContainerInfo_DOCKER || ci.GetDocker() == nil {
		return RunSpec{}, errors.New("no docker info found in container info")
	}
	di := ci.GetDocker()
	if di.GetImage() == "" {
		return RunSpec{}, errors.New("docker image is not specified")
	}
	cfg := &container.Config{Image: di.GetImage(), Labels: map[string]string{}}
	host := &container.HostConfig{Privileged: di.GetPrivileged()}

	res := taskResources(in.Task)
	if err := setResources(host, res, in.Task.GetLimits(), in.EnableCFS); err != nil {
		return RunSpec{}, err
	}

	env := envList{}
	for _, kv := range in.Env {
		if k, v, ok := strings.Cut(kv, "="); ok {
			env.set(k, v)
		}
	}
	for _, v := range in.Task.GetCommand().GetEnvironment().GetVariables() {
		if v.GetType() != mesos.Environment_Variable_SECRET {
			env.set(v.GetName(), v.GetValue())
		}
	}
	env.set("MESOS_SANDBOX", SandboxPath)
	env.set("MESOS_CONTAINER_NAME", in.Name)
	if res.role != "" {
		env.set("MESOS_ALLOCATION_ROLE", res.role)
	}
	cfg.Env = env.list()

	if err := setVolumes(host, ci, di, in.Sandbox); err != nil {
		return RunSpec{}, err
	}
	if err := setNetwork(cfg, host, ci, di, res); err != nil {
		return RunSpec{}, err
	}

	cmd := in.Task.GetCommand()
	if cmd.Shell == nil || cmd.GetShell() {
		if cmd.Value == nil {
			return RunSpec{}, errors.New("shell specified but no command value provided")
		}
		cfg.Entrypoint = []string{"/bin/sh"}
		cfg.Cmd = []string{"-c", cmd.GetValue()}
	} else {
		if cmd.Value != nil {
			cfg.Cmd = append(cfg.Cmd, cmd.GetValue())
		}
		cfg.Cmd = append(cfg.Cmd, cmd.GetArguments()...)
	}

	for _, p := range di.GetParameters() {
		if err := applyParameter(cfg, host, p.GetKey(), p.GetValue()); err != nil {
			return RunSpec{}, err
		}
	}
	if len(cfg.Labels) == 0 {
		cfg.Labels = nil
	}
	return RunSpec{Name: in.Name, Config: cfg, Host: host}, nil
}

// resourcesOf is what BuildRunSpec needs of a task's resources.
type resourcesOf struct {
	cpus, mem float64 // mem in MB
	hasCPUs   bool
	hasMem    bool
	ports     [][2]uint64
	role      string
}

func taskResources(t *mesos.TaskInfo) resourcesOf {
	var r resourcesOf
	for _, res := range t.GetResources() {
		if r.role == "" {
			r.role = res.GetAllocationInfo().GetRole()
		}
		switch res.GetName() {
		case "cpus":
			r.cpus += res.GetScalar().GetValue()
			r.hasCPUs = true
		case "mem":
			r.mem += res.GetScalar().GetValue()
			r.hasMem = true
		case "ports":
			for _, rg := range res.GetRanges().GetRange() {
				r.ports = append(r.ports, [2]uint64{rg.GetBegin(), rg.GetEnd()})
			}
		}
	}
	return r
}

func setResources(host *container.HostConfig, r resourcesOf, limits map[string]*mesos.Value_Scalar, cfs bool) error {
	if r.hasCPUs {
		host.CPUShares = max(int64(cpuSharesPerCPU*r.cpus), minCPUShares)
	}
	cfsQuota := func(cpus float64) int64 { return max(int64(cfsPeriodUS*cpus), minCFSQuotaUS) }
	if l, ok := limits["cpus"]; ok {
		if v := l.GetValue(); !math.IsInf(v, 1) {
			host.CPUPeriod, host.CPUQuota = cfsPeriodUS, cfsQuota(v)
		}
	} else if cfs && r.hasCPUs {
		host.CPUPeriod, host.CPUQuota = cfsPeriodUS, cfsQuota(r.cpus)
	}
	memBytes := func(mb float64) int64 { return max(int64(mb)<<20, minMemory) }
	if l, ok := limits["mem"]; ok {
		if v := l.GetValue(); !math.IsInf(v, 1) {
			host.Memory = memBytes(v)
		}
		if r.hasMem {
			host.MemoryReservation = memBytes(r.mem)
		}
	} else if r.hasMem {
		host.Memory = memBytes(r.mem)
	}
	return nil
}

func setVolumes(host *container.HostConfig, ci *mesos.ContainerInfo, di *mesos.ContainerInfo_DockerInfo, sandbox string) error {
	driver := ""
	for _, v := range ci.GetVolumes() {
		target := v.GetContainerPath()
		if !path.IsAbs(target) {
			target = path.Join(SandboxPath, target)
		}
		var mode string
		switch v.GetMode() {
		case mesos.Volume_RW:
			mode = "rw"
		case mesos.Volume_RO:
			mode = "ro"
		default:
			return errors.New("unsupported volume mode")
		}
		switch {
		case v.HostPath != nil:
			src := v.GetHostPath()
			if !path.IsAbs(src) && !path.IsAbs(v.GetContainerPath()) {
				return fmt.Errorf("both host_path '%s' and container_path '%s' of a volume are relative", src, v.GetContainerPath())
			}
			if !path.IsAbs(src) && di.GetVolumeDriver() == "" {
				src = path.Join(sandbox, src)
			}
			host.Binds = append(host.Binds, src+":"+target+":"+mode)
		case v.GetSource() != nil:
			if v.GetSource().GetType() != mesos.Volume_Source_DOCKER_VOLUME {
				// As Mesos: only Docker volumes mean something to Docker.
				continue
			}
			dv := v.GetSource().GetDockerVolume()
			if d := dv.GetDriver(); d != "" {
				if driver != "" && driver != d {
					return errors.New("only one volume driver is supported")
				}
				driver = d
			}
			host.Binds = append(host.Binds, dv.GetName()+":"+target+":"+mode)
		default:
			return errors.New("host path or volume source is required")
		}
	}
	host.Binds = append(host.Binds, sandbox+":"+SandboxPath)
	if d := di.GetVolumeDriver(); d != "" {
		if driver != "" && driver != d {
			return errors.New("only one volume driver per task is supported")
		}
		driver = d
	}
	host.VolumeDriver = driver
	return nil
}

func setNetwork(cfg *container.Config, host *container.HostConfig, ci *mesos.ContainerInfo, di *mesos.ContainerInfo_DockerInfo, r resourcesOf) error {
	switch di.GetNetwork() {
	case mesos.ContainerInfo_DockerInfo_HOST:
		host.NetworkMode = "host"
	case mesos.ContainerInfo_DockerInfo_BRIDGE:
		host.NetworkMode = "bridge"
	case mesos.ContainerInfo_DockerInfo_NONE:
		host.NetworkMode = "none"
	case mesos.ContainerInfo_DockerInfo_USER:
		nis := ci.GetNetworkInfos()
		switch {
		case len(nis) == 0:
			return errors.New("no network info found in container info")
		case len(nis) > 1:
			return errors.New("only a single network can be defined in Docker run")
		case nis[0].GetName() == "":
			return errors.New("no network name found in network info")
		}
		host.NetworkMode = container.NetworkMode(nis[0].GetName())
	default:
		return fmt.Errorf("unsupported network mode: %s", di.GetNetwork())
	}
	if ci.Hostname != nil {
		if host.NetworkMode == "host" {
			return errors.New("unable to set hostname with host network mode")
		}
		cfg.Hostname = ci.GetHostname()
	}
	if len(di.GetPortMappings()) == 0 {
		return nil
	}
	if host.NetworkMode == "host" || host.NetworkMode == "none" {
		return errors.New("port mappings are only supported for bridge and user-defined networks")
	}
	if len(r.ports) == 0 {
		return errors.New("port mappings require port resources")
	}
	cfg.ExposedPorts = network.PortSet{}
	host.PortBindings = network.PortMap{}
	for _, pm := range di.GetPortMappings() {
		hp := uint64(pm.GetHostPort())
		if !slices.ContainsFunc(r.ports, func(rg [2]uint64) bool { return hp >= rg[0] && hp <= rg[1] }) {
			return fmt.Errorf("port [%d] not included in resources", hp)
		}
		proto := strings.ToLower(pm.GetProtocol())
		if proto == "" {
			proto = "tcp"
		}
		port, err := network.ParsePort(strconv.FormatUint(uint64(pm.GetContainerPort()), 10) + "/" + proto)
		if err != nil {
			return fmt.Errorf("port mapping %d:%d/%s: %w", hp, pm.GetContainerPort(), proto, err)
		}
		cfg.ExposedPorts[port] = struct{}{}
		host.PortBindings[port] = append(host.PortBindings[port], network.PortBinding{HostPort: strconv.FormatUint(hp, 10)})
	}
	return nil
}

// applyParameter applies one DockerInfo parameter, which Mesos passes to
// `docker run` as --key=value. The Engine API has no command line, so each
// supported key is mapped to its field; any other is an error naming it.
func applyParameter(cfg *container.Config, host *container.HostConfig, key, value string) error {
	bad := func(err error) error { return fmt.Errorf("docker parameter --%s=%s: %w", key, value, err) }
	boolValue := func() (bool, error) {
		if value == "" {
			return true, nil
		}
		return strconv.ParseBool(value)
	}
	switch key {
	case "label", "l":
		k, v, _ := strings.Cut(value, "=")
		cfg.Labels[k] = v
	case "env", "e":
		k, v, ok := strings.Cut(value, "=")
		if !ok {
			return bad(errors.New("want NAME=value"))
		}
		e := envList{}
		for _, kv := range cfg.Env {
			a, b, _ := strings.Cut(kv, "=")
			e.set(a, b)
		}
		e.set(k, v)
		cfg.Env = e.list()
	case "user", "u":
		cfg.User = value
	case "workdir", "w":
		cfg.WorkingDir = value
	case "hostname", "h":
		cfg.Hostname = value
	case "entrypoint":
		cfg.Entrypoint = []string{value}
	case "stop-signal":
		cfg.StopSignal = value
	case "cap-add":
		host.CapAdd = append(host.CapAdd, value)
	case "cap-drop":
		host.CapDrop = append(host.CapDrop, value)
	case "security-opt":
		host.SecurityOpt = append(host.SecurityOpt, value)
	case "add-host":
		host.ExtraHosts = append(host.ExtraHosts, value)
	case "dns":
		ip, err := netip.ParseAddr(value)
		if err != nil {
			return bad(err)
		}
		host.DNS = append(host.DNS, ip)
	case "dns-search":
		host.DNSSearch = append(host.DNSSearch, value)
	case "dns-opt", "dns-option":
		host.DNSOptions = append(host.DNSOptions, value)
	case "privileged", "read-only", "init", "oom-kill-disable":
		b, err := boolValue()
		if err != nil {
			return bad(err)
		}
		switch key {
		case "privileged":
			host.Privileged = b
		case "read-only":
			host.ReadonlyRootfs = b
		case "init":
			host.Init = &b
		default:
			host.OomKillDisable = &b
		}
	case "pids-limit", "cpu-quota", "cpu-period", "memory-swap", "shm-size", "memory-reservation", "memory", "m", "cpu-shares", "c":
		n, err := parseSize(value)
		if err != nil {
			return bad(err)
		}
		switch key {
		case "pids-limit":
			host.PidsLimit = &n
		case "cpu-quota":
			host.CPUQuota = n
		case "cpu-period":
			host.CPUPeriod = n
		case "memory-swap":
			host.MemorySwap = n
		case "shm-size":
			host.ShmSize = n
		case "memory-reservation":
			host.MemoryReservation = n
		case "memory", "m":
			host.Memory = n
		default:
			host.CPUShares = n
		}
	case "cpuset-cpus":
		host.CpusetCpus = value
	case "cpuset-mems":
		host.CpusetMems = value
	case "volume", "v":
		host.Binds = append(host.Binds, value)
	case "tmpfs":
		dst, opts, _ := strings.Cut(value, ":")
		if host.Tmpfs == nil {
			host.Tmpfs = map[string]string{}
		}
		host.Tmpfs[dst] = opts
	case "log-driver":
		host.LogConfig.Type = value
	case "log-opt":
		k, v, ok := strings.Cut(value, "=")
		if !ok {
			return bad(errors.New("want key=value"))
		}
		if host.LogConfig.Config == nil {
			host.LogConfig.Config = map[string]string{}
		}
		host.LogConfig.Config[k] = v
	case "ipc":
		host.IpcMode = container.IpcMode(value)
	case "pid":
		host.PidMode = container.PidMode(value)
	case "network", "net":
		host.NetworkMode = container.NetworkMode(value)
	default:
		return fmt.Errorf("docker parameter --%s is not supported by Gomesos's Docker containerizer", key)
	}
	return nil
}

// parseSize reads a number with an optional b, k, m or g suffix (powers of
// 1024), as docker run's memory options take them.
func parseSize(s string) (int64, error) {
	mult := int64(1)
	t := strings.ToLower(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "b")
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k':
			mult, t = 1<<10, t[:n-1]
		case 'm':
			mult, t = 1<<20, t[:n-1]
		case 'g':
			mult, t = 1<<30, t[:n-1]
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("not a number or size: %q", s)
	}
	return n * mult, nil
}

// envList is an environment in which a later value replaces an earlier one
// in place.
type envList struct {
	order []string
	vals  map[string]string
}

func (e *envList) set(k, v string) {
	if e.vals == nil {
		e.vals = map[string]string{}
	}
	if _, ok := e.vals[k]; !ok {
		e.order = append(e.order, k)
	}
	e.vals[k] = v
}

func (e *envList) list() []string {
	out := make([]string, 0, len(e.order))
	for _, k := range e.order {
		out = append(out, k+"="+e.vals[k])
	}
	return out
}
