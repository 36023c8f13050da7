package docker

import (
	"slices"
	"strings"
	"testing"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"google.golang.org/protobuf/proto"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

func scalar(name string, v float64) *mesos.Resource {
	return &mesos.Resource{Name: proto.String(name), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(v)},
		AllocationInfo: &mesos.Resource_AllocationInfo{Role: proto.String("web")}}
}

func ports(begin, end uint64) *mesos.Resource {
	return &mesos.Resource{Name: proto.String("ports"), Type: mesos.Value_RANGES.Enum(),
		Ranges: &mesos.Value_Ranges{Range: []*mesos.Value_Range{{Begin: proto.Uint64(begin), End: proto.Uint64(end)}}}}
}

func dockerTask(di *mesos.ContainerInfo_DockerInfo, cmd *mesos.CommandInfo, res ...*mesos.Resource) *mesos.TaskInfo {
	return &mesos.TaskInfo{
		TaskId:    &mesos.TaskID{Value: proto.String("t1")},
		Resources: res,
		Command:   cmd,
		Container: &mesos.ContainerInfo{Type: mesos.ContainerInfo_DOCKER.Enum(), Docker: di},
	}
}

func build(t *testing.T, task *mesos.TaskInfo) RunSpec {
	t.Helper()
	spec, err := BuildRunSpec(Input{Task: task, Name: Name("c1"), Sandbox: "/work/sandbox", Env: []string{"MESOS_TASK_ID=t1", "FROM_AGENT=1"}})
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// As Mesos's Docker::RunOptions::create: cpus*1024 shares, mem MB as a
// byte limit, the sandbox at /mnt/mesos/sandbox, MESOS_SANDBOX and
// MESOS_CONTAINER_NAME, the command's variables over the agent's, host
// networking by default, and a shell command as /bin/sh -c.
func TestRunSpecResourcesEnvSandboxAndShell(t *testing.T) {
	task := dockerTask(&mesos.ContainerInfo_DockerInfo{Image: proto.String("busybox:1")},
		&mesos.CommandInfo{Value: proto.String("echo hi"), Environment: &mesos.Environment{Variables: []*mesos.Environment_Variable{
			{Name: proto.String("FROM_AGENT"), Value: proto.String("2")},
			{Name: proto.String("SECRET"), Type: mesos.Environment_Variable_SECRET.Enum()},
		}}},
		scalar("cpus", 0.5), scalar("mem", 64))
	spec := build(t, task)
	if spec.Name != "mesos-c1" || spec.Config.Image != "busybox:1" {
		t.Errorf("name %q image %q", spec.Name, spec.Config.Image)
	}
	if spec.Host.CPUShares != 512 || spec.Host.Memory != 64<<20 || spec.Host.CPUQuota != 0 {
		t.Errorf("cpu shares %d, memory %d, quota %d; want 512, %d, 0", spec.Host.CPUShares, spec.Host.Memory, spec.Host.CPUQuota, 64<<20)
	}
	if spec.Host.NetworkMode != "host" {
		t.Errorf("network %q, want host (Mesos's default)", spec.Host.NetworkMode)
	}
	if !slices.Equal(spec.Config.Entrypoint, []string{"/bin/sh"}) || !slices.Equal(spec.Config.Cmd, []string{"-c", "echo hi"}) {
		t.Errorf("entrypoint %q cmd %q", spec.Config.Entrypoint, spec.Config.Cmd)
	}
	want := []string{"MESOS_TASK_ID=t1", "FROM_AGENT=2", "MESOS_SANDBOX=/mnt/mesos/sandbox", "MESOS_CONTAINER_NAME=mesos-c1", "MESOS_ALLOCATION_ROLE=web"}
	if !slices.Equal(spec.Config.Env, want) {
		t.Errorf("env %q, want %q", spec.Config.Env, want)
	}
	if !slices.Equal(spec.Host.Binds, []string{"/work/sandbox:/mnt/mesos/sandbox"}) {
		t.Errorf("binds %q", spec.Host.Binds)
	}
}

// Small requests get Mesos's minimums; CFS and TaskInfo.limits set a quota
// and a hard memory limit above the request.
func TestRunSpecMinimumsCFSAndLimits(t *testing.T) {
	task := dockerTask(&mesos.ContainerInfo_DockerInfo{Image: proto.String("i")}, &mesos.CommandInfo{Value: proto.String("true")},
		scalar("cpus", 0.001), scalar("mem", 1))
	spec, err := BuildRunSpec(Input{Task: task, Name: "mesos-x", Sandbox: "/s", EnableCFS: true})
	if err != nil {
		t.Fatal(err)
	}
	if spec.Host.CPUShares != minCPUShares || spec.Host.Memory != minMemory || spec.Host.CPUQuota != minCFSQuotaUS || spec.Host.CPUPeriod != cfsPeriodUS {
		t.Errorf("shares %d memory %d quota %d period %d", spec.Host.CPUShares, spec.Host.Memory, spec.Host.CPUQuota, spec.Host.CPUPeriod)
	}
	task = dockerTask(&mesos.ContainerInfo_DockerInfo{Image: proto.String("i")}, &mesos.CommandInfo{Value: proto.String("true")},
		scalar("cpus", 1), scalar("mem", 128))
	task.Limits = map[string]*mesos.Value_Scalar{"cpus": {Value: proto.Float64(2)}, "mem": {Value: proto.Float64(256)}}
	spec = build(t, task)
	if spec.Host.CPUQuota != 200_000 || spec.Host.Memory != 256<<20 || spec.Host.MemoryReservation != 128<<20 || spec.Host.CPUShares != 1024 {
		t.Errorf("quota %d memory %d reservation %d shares %d", spec.Host.CPUQuota, spec.Host.Memory, spec.Host.MemoryReservation, spec.Host.CPUShares)
	}
}

// shell=false keeps the image's entrypoint and passes value then the
// arguments as its command, as Mesos does.
func TestRunSpecNonShellCommand(t *testing.T) {
	spec := build(t, dockerTask(&mesos.ContainerInfo_DockerInfo{Image: proto.String("i")},
		&mesos.CommandInfo{Shell: proto.Bool(false), Value: proto.String("/bin/echo"), Arguments: []string{"a", "b"}}))
	if spec.Config.Entrypoint != nil || !slices.Equal(spec.Config.Cmd, []string{"/bin/echo", "a", "b"}) {
		t.Errorf("entrypoint %q cmd %q", spec.Config.Entrypoint, spec.Config.Cmd)
	}
	_, err := BuildRunSpec(Input{Task: dockerTask(&mesos.ContainerInfo_DockerInfo{Image: proto.String("i")}, &mesos.CommandInfo{}), Name: "n", Sandbox: "/s"})
	if err == nil || !strings.Contains(err.Error(), "no command value") {
		t.Errorf("a shell command without a value: %v", err)
	}
}

// BRIDGE with port mappings exposes each container port and binds it to
// its host port, which must be among the task's ports.
func TestRunSpecBridgePortMappings(t *testing.T) {
	di := &mesos.ContainerInfo_DockerInfo{Image: proto.String("i"), Network: mesos.ContainerInfo_DockerInfo_BRIDGE.Enum(),
		PortMappings: []*mesos.ContainerInfo_DockerInfo_PortMapping{
			{HostPort: proto.Uint32(31001), ContainerPort: proto.Uint32(80)},
			{HostPort: proto.Uint32(31002), ContainerPort: proto.Uint32(53), Protocol: proto.String("UDP")},
		}}
	spec := build(t, dockerTask(di, &mesos.CommandInfo{Value: proto.String("x")}, ports(31000, 31010)))
	if spec.Host.NetworkMode != "bridge" {
		t.Errorf("network %q", spec.Host.NetworkMode)
	}
	tcp80, udp53 := network.MustParsePort("80/tcp"), network.MustParsePort("53/udp")
	if _, ok := spec.Config.ExposedPorts[tcp80]; !ok {
		t.Errorf("80/tcp not exposed: %v", spec.Config.ExposedPorts)
	}
	if b := spec.Host.PortBindings[tcp80]; len(b) != 1 || b[0].HostPort != "31001" {
		t.Errorf("80/tcp bound to %v", b)
	}
	if b := spec.Host.PortBindings[udp53]; len(b) != 1 || b[0].HostPort != "31002" {
		t.Errorf("53/udp bound to %v", b)
	}

	_, err := BuildRunSpec(Input{Task: dockerTask(di, &mesos.CommandInfo{Value: proto.String("x")}, ports(32000, 32010)), Name: "n", Sandbox: "/s"})
	if err == nil || err.Error() != "port [31001] not included in resources" {
		t.Errorf("a host port outside the task's ports: %v", err)
	}
	di.Network = mesos.ContainerInfo_DockerInfo_HOST.Enum()
	_, err = BuildRunSpec(Input{Task: dockerTask(di, &mesos.CommandInfo{Value: proto.String("x")}, ports(31000, 31010)), Name: "n", Sandbox: "/s"})
	if err == nil || !strings.Contains(err.Error(), "only supported for bridge") {
		t.Errorf("port mappings with host networking: %v", err)
	}
}

// Volumes: absolute and sandbox-relative host paths, relative container
// paths under the sandbox mount, modes, Docker named volumes; the sandbox
// mount comes last.
func TestRunSpecVolumes(t *testing.T) {
	task := dockerTask(&mesos.ContainerInfo_DockerInfo{Image: proto.String("i")}, &mesos.CommandInfo{Value: proto.String("x")})
	task.Container.Volumes = []*mesos.Volume{
		{HostPath: proto.String("/etc/hosts"), ContainerPath: proto.String("/h"), Mode: mesos.Volume_RO.Enum()},
		{HostPath: proto.String("data"), ContainerPath: proto.String("/data")},
		{HostPath: proto.String("/srv"), ContainerPath: proto.String("srv")},
		{ContainerPath: proto.String("/v"), Source: &mesos.Volume_Source{Type: mesos.Volume_Source_DOCKER_VOLUME.Enum(),
			DockerVolume: &mesos.Volume_Source_DockerVolume{Name: proto.String("vol1"), Driver: proto.String("local")}}},
	}
	spec := build(t, task)
	want := []string{"/etc/hosts:/h:ro", "/work/sandbox/data:/data:rw", "/srv:/mnt/mesos/sandbox/srv:rw", "vol1:/v:rw", "/work/sandbox:/mnt/mesos/sandbox"}
	if !slices.Equal(spec.Host.Binds, want) || spec.Host.VolumeDriver != "local" {
		t.Errorf("binds %q driver %q, want %q local", spec.Host.Binds, spec.Host.VolumeDriver, want)
	}
	task.Container.Volumes = []*mesos.Volume{{HostPath: proto.String("a"), ContainerPath: proto.String("b")}}
	if _, err := BuildRunSpec(Input{Task: task, Name: "n", Sandbox: "/s"}); err == nil || !strings.Contains(err.Error(), "are relative") {
		t.Errorf("both paths relative: %v", err)
	}
}

// Parameters (docker run's --key=value) map to their API fields; one the
// Engine API translation does not know is an error naming it.
func TestRunSpecParameters(t *testing.T) {
	param := func(k, v string) *mesos.Parameter {
		return &mesos.Parameter{Key: proto.String(k), Value: proto.String(v)}
	}
	di := &mesos.ContainerInfo_DockerInfo{Image: proto.String("i"), Network: mesos.ContainerInfo_DockerInfo_BRIDGE.Enum(), Parameters: []*mesos.Parameter{
		param("label", "team=infra"), param("env", "EXTRA=1"), param("user", "nobody"), param("workdir", "/tmp"),
		param("cap-add", "NET_ADMIN"), param("dns", "10.0.0.2"), param("memory-swap", "128m"), param("pids-limit", "100"),
		param("read-only", "true"), param("init", ""), param("add-host", "db:10.0.0.3"), param("shm-size", "1g"),
	}}
	spec := build(t, dockerTask(di, &mesos.CommandInfo{Value: proto.String("x")}))
	c, h := spec.Config, spec.Host
	switch {
	case c.Labels["team"] != "infra", !slices.Contains(c.Env, "EXTRA=1"), c.User != "nobody", c.WorkingDir != "/tmp":
		t.Errorf("config %+v", c)
	case !slices.Equal(h.CapAdd, []string{"NET_ADMIN"}), len(h.DNS) != 1 || h.DNS[0].String() != "10.0.0.2":
		t.Errorf("cap-add %v dns %v", h.CapAdd, h.DNS)
	case h.MemorySwap != 128<<20, h.PidsLimit == nil || *h.PidsLimit != 100, !h.ReadonlyRootfs, h.Init == nil || !*h.Init:
		t.Errorf("memory-swap %d pids %v read-only %v init %v", h.MemorySwap, h.PidsLimit, h.ReadonlyRootfs, h.Init)
	case !slices.Equal(h.ExtraHosts, []string{"db:10.0.0.3"}), h.ShmSize != 1<<30:
		t.Errorf("extra hosts %v shm %d", h.ExtraHosts, h.ShmSize)
	}
	di.Parameters = []*mesos.Parameter{param("no-such-flag", "1")}
	_, err := BuildRunSpec(Input{Task: dockerTask(di, &mesos.CommandInfo{Value: proto.String("x")}), Name: "n", Sandbox: "/s"})
	if err == nil || !strings.Contains(err.Error(), "--no-such-flag") {
		t.Errorf("an unknown parameter: %v", err)
	}
	di.Parameters = []*mesos.Parameter{param("pids-limit", "lots")}
	_, err = BuildRunSpec(Input{Task: dockerTask(di, &mesos.CommandInfo{Value: proto.String("x")}), Name: "n", Sandbox: "/s"})
	if err == nil || !strings.Contains(err.Error(), "--pids-limit=lots") {
		t.Errorf("a bad value: %v", err)
	}
}

// Other network modes and their errors, as Mesos words them.
func TestRunSpecNetworks(t *testing.T) {
	mk := func(n mesos.ContainerInfo_DockerInfo_Network, nis ...*mesos.NetworkInfo) (*container.HostConfig, error) {
		task := dockerTask(&mesos.ContainerInfo_DockerInfo{Image: proto.String("i"), Network: n.Enum()}, &mesos.CommandInfo{Value: proto.String("x")})
		task.Container.NetworkInfos = nis
		spec, err := BuildRunSpec(Input{Task: task, Name: "n", Sandbox: "/s"})
		return spec.Host, err
	}
	if h, err := mk(mesos.ContainerInfo_DockerInfo_NONE); err != nil || h.NetworkMode != "none" {
		t.Errorf("NONE: %v %v", h, err)
	}
	if h, err := mk(mesos.ContainerInfo_DockerInfo_USER, &mesos.NetworkInfo{Name: proto.String("overlay1")}); err != nil || h.NetworkMode != "overlay1" {
		t.Errorf("USER: %v %v", h, err)
	}
	if _, err := mk(mesos.ContainerInfo_DockerInfo_USER); err == nil || err.Error() != "no network info found in container info" {
		t.Errorf("USER without a network: %v", err)
	}
	task := dockerTask(&mesos.ContainerInfo_DockerInfo{Image: proto.String("i")}, &mesos.CommandInfo{Value: proto.String("x")})
	task.Container.Hostname = proto.String("h")
	if _, err := BuildRunSpec(Input{Task: task, Name: "n", Sandbox: "/s"}); err == nil || !strings.Contains(err.Error(), "hostname with host network") {
		t.Errorf("hostname with host networking: %v", err)
	}
}

func TestContainerNames(t *testing.T) {
	if id, ok := ContainerID("/mesos-abc"); !ok || id != "abc" {
		t.Errorf("ContainerID(/mesos-abc) = %q %v", id, ok)
	}
	if _, ok := ContainerID("other"); ok {
		t.Error("a container not named mesos-* is taken for ours")
	}
}
