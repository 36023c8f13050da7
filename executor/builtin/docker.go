package builtin

import (
	"context"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"
	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/internal/docker"
)

// The docker executor's own environment, set by the agent.
const (
	// EnvDockerSocket is the Docker Engine's socket (--docker_socket).
	EnvDockerSocket = "GOMESOS_DOCKER_SOCKET"
	// EnvDockerCFS is "1" with --cgroups_enable_cfs: the container gets a
	// CFS quota from its cpus.
	EnvDockerCFS = "GOMESOS_DOCKER_CGROUPS_ENABLE_CFS"
	// EnvContainerName is the container's name, mesos-<ContainerID>, as
	// Mesos gives its docker executor (--container) and the task.
	EnvContainerName = "MESOS_CONTAINER_NAME"
)

const (
	// dockerCallTimeout bounds each Engine call that does not wait for the
	// container (start, kill, inspect).
	dockerCallTimeout = time.Minute
	// logDrainTimeout bounds the wait, once the container has stopped,
	// for the rest of its output to reach the sandbox's files.
	logDrainTimeout = 10 * time.Second
)

// startContainer runs a task as a Docker container (the docker executor):
// the image is pulled when missing or when force_pull_image says so, the
// container mesos-<ContainerID> is created with the sandbox mounted at
// /mnt/mesos/sandbox and started, and its output is copied to the
// executor's stdout and stderr (the sandbox's files) as it comes.
func (e *engine) startContainer(ctx context.Context, t *task) error {
	t.sandbox = e.cfg.Sandbox
	name := os.Getenv(EnvContainerName)
	if name == "" {
		return fmt.Errorf("%s is not set: the agent did not name the container", EnvContainerName)
	}
	extra := []string{"MESOS_TASK_ID=" + t.id()}
	if fid := e.cfg.FrameworkID; fid != "" {
		extra = append(extra, "MESOS_FRAMEWORK_ID="+fid)
	}
	if eid := e.cfg.ExecutorID; eid != "" {
		extra = append(extra, "MESOS_EXECUTOR_ID="+eid)
	}
	spec, err := docker.BuildRunSpec(docker.Input{
		Task:      t.info,
		Name:      name,
		Sandbox:   t.sandbox,
		Env:       extra,
		EnableCFS: os.Getenv(EnvDockerCFS) == "1",
	})
	if err != nil {
		return fmt.Errorf("Failed to create docker run options: %w", err)
	}
	// COMMAND checks run on the host, in the sandbox, with the executor's
	// environment and the task's variables.
	t.env = taskEnv(os.Environ(), t.info.GetCommand(), "MESOS_TASK_ID", t.id(), "MESOS_SANDBOX", t.sandbox)

	cctx, cancel := context.WithTimeout(ctx, dockerCallTimeout)
	defer cancel()
	eng, err := docker.Connect(cctx, os.Getenv(EnvDockerSocket))
	if err != nil {
		return err
	}
	image := spec.Config.Image
	force := t.info.GetContainer().GetDocker().GetForcePullImage()
	e.log.Info("preparing the image", "image", image, "force_pull", force)
	// A pull may take long: it is bounded by the executor's life only.
	if err := eng.EnsureImage(ctx, image, force); err != nil {
		_ = eng.Close()
		return fmt.Errorf("Failed to pull image: %w", err)
	}
	if _, err := eng.Create(cctx, spec); err != nil {
		_ = eng.Close()
		return err
	}
	c := &containerRunner{eng: eng, name: name, logsDone: make(chan struct{})}
	if _, err := eng.ContainerStart(cctx, name, client.ContainerStartOptions{}); err != nil {
		c.removeQuietly()
		_ = eng.Close()
		return fmt.Errorf("start container %s: %w", name, err)
	}
	// The log stream holds the container's output from its start (the
	// Engine keeps it) and follows it until the container stops.
	logs, err := eng.ContainerLogs(context.Background(), name, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Follow: true})
	if err != nil {
		e.log.Error("cannot follow the container's output; the sandbox's stdout and stderr will not have it", "container", name, "err", err)
		close(c.logsDone)
	} else {
		c.logs = logs
		go c.copyLogs(os.Stdout, os.Stderr)
	}
	if ins, err := eng.ContainerInspect(cctx, name, client.ContainerInspectOptions{}); err == nil {
		if ins.Container.State != nil {
			c.pid = ins.Container.State.Pid
		}
		// With its own network the container has its own address, which
		// the task's updates carry (with host networking the agent fills
		// in its own).
		if ns := ins.Container.NetworkSettings; ns != nil && spec.Host.NetworkMode != "host" {
			for _, netName := range slices.Sorted(maps.Keys(ns.Networks)) {
				if ep := ns.Networks[netName]; ep != nil && ep.IPAddress.IsValid() {
					ni := &mesos.NetworkInfo{IpAddresses: []*mesos.NetworkInfo_IPAddress{{IpAddress: proto.String(ep.IPAddress.String())}}}
					if netName != "bridge" {
						ni.Name = proto.String(netName) // a USER network's
					}
					t.networkInfos = append(t.networkInfos, ni)
				}
			}
		}
	}
	e.log.Info("started container", "container", name, "image", image, "pid", c.pid,
		"network", string(spec.Host.NetworkMode), "cpu_shares", spec.Host.CPUShares, "memory", spec.Host.Memory)
	e.started(t, c)
	return nil
}

// containerRunner is a task running as a Docker container.
type containerRunner struct {
	eng      *docker.Engine
	name     string
	pid      int
	logs     io.ReadCloser
	logsDone chan struct{}
	stopOnce sync.Once
}

var _ runner = (*containerRunner)(nil)

func (c *containerRunner) id() string {
	return "container " + c.name + " (pid " + strconv.Itoa(c.pid) + ")"
}

// copyLogs copies the container's multiplexed output to stdout and stderr
// until the stream ends, which it does when the container stops.
func (c *containerRunner) copyLogs(stdout, stderr io.Writer) {
	defer close(c.logsDone)
	_, _ = stdcopy.StdCopy(stdout, stderr, c.logs)
}

// terminate is `docker stop` with the grace period (in whole seconds,
// rounded up) as its timeout: the container's stop signal (SIGTERM unless
// the image says otherwise), then SIGKILL once the timeout is over. The
// engine's own escalation at the grace period kills it too.
func (c *containerRunner) terminate(grace time.Duration) error {
	secs := int(math.Ceil(grace.Seconds()))
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), grace+dockerCallTimeout)
		defer cancel()
		_, _ = c.eng.ContainerStop(ctx, c.name, client.ContainerStopOptions{Timeout: &secs})
	}()
	return nil
}

func (c *containerRunner) kill() error {
	ctx, cancel := context.WithTimeout(context.Background(), dockerCallTimeout)
	defer cancel()
	_, err := c.eng.ContainerKill(ctx, c.name, client.ContainerKillOptions{Signal: "KILL"})
	if err != nil && c.running(ctx) {
		return err
	}
	return nil
}

// running reports whether the container still runs (true when unknown).
func (c *containerRunner) running(ctx context.Context) bool {
	ins, err := c.eng.ContainerInspect(ctx, c.name, client.ContainerInspectOptions{})
	if err != nil {
		return !docker.IsNotFound(err)
	}
	return ins.Container.State == nil || ins.Container.State.Running
}

// wait waits for the container to stop and for its output to be copied,
// and reports its exit code as a process's exit status (Docker reports a
// container ended by signal n as exit code 128+n, as `docker run` does).
func (c *containerRunner) wait() exitResult {
	code, err := c.eng.ExitStatus(context.Background(), c.name)
	select {
	case <-c.logsDone:
	case <-time.After(logDrainTimeout):
		c.closeLogs()
	}
	if err != nil && code < 0 {
		return exitResult{err: err}
	}
	if code < 0 || code > 255 {
		return exitResult{err: fmt.Errorf("container %s exited with code %d", c.name, code)}
	}
	return exitResult{ws: syscall.WaitStatus(code << 8), ok: true, err: err}
}

// destroy kills the container if it still runs, when the executor exits.
// The container itself is removed by the agent (--docker_remove_delay).
func (c *containerRunner) destroy() {
	c.stopOnce.Do(func() {
		_ = c.kill()
		c.closeLogs()
		_ = c.eng.Close()
	})
}

func (c *containerRunner) closeLogs() {
	if c.logs != nil {
		_ = c.logs.Close()
	}
}

func (c *containerRunner) removeQuietly() {
	ctx, cancel := context.WithTimeout(context.Background(), dockerCallTimeout)
	defer cancel()
	_ = c.eng.Remove(ctx, c.name)
}
