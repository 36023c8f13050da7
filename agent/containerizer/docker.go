package containerizer

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/moby/moby/client"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/internal/docker"
)

// The containerizers --containerizers names.
const (
	ContainerizerMesos  = "mesos"
	ContainerizerDocker = "docker"
)

// Environment the agent gives a docker executor (the gomesos binary run
// with GOMESOS_EXECUTOR=docker); executor/builtin reads the same names.
const (
	dockerKindEnv   = "GOMESOS_EXECUTOR=docker"
	dockerSocketEnv = "GOMESOS_DOCKER_SOCKET"
	dockerCFSEnv    = "GOMESOS_DOCKER_CGROUPS_ENABLE_CFS"
	containerName   = "MESOS_CONTAINER_NAME"
)

// DefaultDockerRemoveDelay is --docker_remove_delay's default, as Mesos's.
const DefaultDockerRemoveDelay = 6 * time.Hour

// DefaultDockerSocket is --docker_socket's default, as Mesos's.
const DefaultDockerSocket = docker.DefaultSocket

// ParseContainerizers checks --containerizers (a comma-separated list of
// "mesos" and "docker"; empty means "mesos") and returns it as a list.
func ParseContainerizers(s string) ([]string, error) {
	var out []string
	for _, n := range strings.Split(s, ",") {
		n = strings.TrimSpace(n)
		if n == "" || slices.Contains(out, n) {
			continue
		}
		if n != ContainerizerMesos && n != ContainerizerDocker {
			return nil, fmt.Errorf("--containerizers: unknown containerizer %q (this agent has %q and %q)", n, ContainerizerMesos, ContainerizerDocker)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		out = []string{ContainerizerMesos}
	}
	return out, nil
}

// IsDockerLaunch reports whether a container's environment makes it a
// docker executor, whose task runs as a Docker container.
func IsDockerLaunch(env []string) bool { return slices.Contains(env, dockerKindEnv) }

// DockerOptions configure the Docker containerizer (its agent flags).
type DockerOptions struct {
	// Socket is the Docker Engine's Unix socket (--docker_socket).
	Socket string
	// KillOrphans (--docker_kill_orphans) removes, when the agent
	// recovers, every mesos-* container it does not know.
	KillOrphans bool
	// RemoveDelay (--docker_remove_delay) is how long an ended
	// container is kept before it is removed.
	RemoveDelay time.Duration
	// WorkDir (--work_dir), when set, limits the orphans recovery
	// removes to the containers whose sandbox lies in it: another agent's
	// on the same host are left alone.
	WorkDir string
	// EnableCFS (--cgroups_enable_cfs) gives containers a CFS quota.
	EnableCFS bool
	Logger    *slog.Logger
}

// Docker is the agent's side of the Docker containerizer, an Isolator
// around docker executors: Prepare tells the executor the Engine's socket
// and its container's name (mesos-<ContainerID>); Cleanup removes the
// container once the executor is gone (so a killed executor leaves no
// container running), after --docker_remove_delay; RecoverIsolation keeps
// the containers of adopted executors and removes the others
// (--docker_kill_orphans); Usage reads the container's stats from the
// Engine. Containers of other executors it leaves alone.
type Docker struct {
	opts DockerOptions
	eng  *docker.Engine
	log  *slog.Logger

	mu     sync.Mutex
	ours   map[string]bool // IDs of the containers of docker executors
	timers map[string]*time.Timer
	closed bool
}

var (
	_ Isolator  = (*Docker)(nil)
	_ Recoverer = (*Docker)(nil)
	_ Measurer  = (*Docker)(nil)
)

// NewDocker connects to the Docker Engine; an Engine that does not answer
// is an error naming --docker_socket, as Mesos's agent refuses to start
// without one when --containerizers names docker.
func NewDocker(ctx context.Context, opts DockerOptions) (*Docker, error) {
	if opts.Socket == "" {
		opts.Socket = docker.DefaultSocket
	}
	if opts.WorkDir != "" {
		abs, err := filepath.Abs(opts.WorkDir)
		if err != nil {
			return nil, fmt.Errorf("--work_dir: %w", err)
		}
		opts.WorkDir = abs
	}
	if opts.RemoveDelay < 0 {
		return nil, fmt.Errorf("--docker_remove_delay must not be negative")
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	eng, err := docker.Connect(cctx, opts.Socket)
	if err != nil {
		return nil, fmt.Errorf("--containerizers=docker: --docker_socket=%s: %w", opts.Socket, err)
	}
	return &Docker{opts: opts, eng: eng, log: log.With("isolator", "docker"), ours: map[string]bool{}, timers: map[string]*time.Timer{}}, nil
}

// Name implements Isolator.
func (d *Docker) Name() string { return ContainerizerDocker }

// Prepare implements Isolator: a docker executor learns the Engine's
// socket and its container's name.
func (d *Docker) Prepare(spec *Spec, cmd *exec.Cmd) error {
	if !IsDockerLaunch(cmd.Env) {
		return nil
	}
	cmd.Env = append(cmd.Env[:len(cmd.Env):len(cmd.Env)],
		dockerSocketEnv+"="+d.opts.Socket,
		containerName+"="+docker.Name(spec.ID))
	if d.opts.EnableCFS {
		cmd.Env = append(cmd.Env, dockerCFSEnv+"=1")
	}
	d.mu.Lock()
	d.ours[spec.ID] = true
	d.mu.Unlock()
	return nil
}

// Isolate implements Isolator; the container is isolated by Docker.
func (d *Docker) Isolate(string, int) error { return nil }

// Update implements Isolator. The container keeps the resources of its
// task: a command task's resources do not change.
func (d *Docker) Update(string, []*mesos.Resource) error { return nil }

// Cleanup implements Isolator: the executor is gone, so its container is
// killed and, after the remove delay, removed.
func (d *Docker) Cleanup(id string) error {
	d.mu.Lock()
	ours := d.ours[id]
	delete(d.ours, id)
	closed := d.closed
	d.mu.Unlock()
	if closed {
		return nil
	}
	name := docker.Name(id)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if !ours {
		// A recovered executor may end before RecoverIsolation has told
		// its container from the others: ask the Engine.
		if _, err := d.eng.ContainerInspect(ctx, name, client.ContainerInspectOptions{}); err != nil {
			return nil
		}
	}
	if d.opts.RemoveDelay == 0 {
		return d.eng.Remove(ctx, name)
	}
	// The container stays, stopped, for the operator to look at.
	if err := d.eng.Kill(ctx, name); err != nil {
		d.log.Debug("killing the container of an ended executor", "container", name, "err", err)
	}
	d.scheduleRemoval(id)
	return nil
}

func (d *Docker) scheduleRemoval(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed || d.timers[id] != nil {
		return
	}
	d.timers[id] = time.AfterFunc(d.opts.RemoveDelay, func() {
		d.mu.Lock()
		delete(d.timers, id)
		d.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := d.eng.Remove(ctx, docker.Name(id)); err != nil {
			d.log.Warn("removing an ended container", "container", docker.Name(id), "err", err)
		}
	})
}

// RecoverIsolation implements Recoverer: the containers of adopted
// executors are ours again; with --docker_kill_orphans every other
// mesos-* container whose sandbox lies in the work directory is removed
// (Mesos kills its orphans too), else an ended one is removed after the
// remove delay and a running one left alone.
func (d *Docker) RecoverIsolation(adopted []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	found, err := d.eng.Ours(ctx)
	if err != nil {
		return fmt.Errorf("docker: %w", err)
	}
	for id, c := range found {
		running := c.Running
		if slices.Contains(adopted, id) {
			d.mu.Lock()
			d.ours[id] = true
			d.mu.Unlock()
			d.log.Info("recovered a Docker container", "container", docker.Name(id), "running", running)
			continue
		}
		if w := d.opts.WorkDir; w != "" && !strings.HasPrefix(c.Sandbox, strings.TrimSuffix(w, "/")+"/") {
			continue // another agent's
		}
		if !d.opts.KillOrphans {
			if !running {
				d.scheduleRemoval(id)
			}
			continue
		}
		d.log.Info("removing an orphan Docker container", "container", docker.Name(id), "running", running)
		if err := d.eng.Remove(ctx, docker.Name(id)); err != nil {
			d.log.Warn("removing an orphan Docker container", "container", docker.Name(id), "err", err)
		}
	}
	return nil
}

// Usage implements Measurer with the Engine's stats of the container of a
// docker executor; other containers it leaves alone.
func (d *Docker) Usage(id string, st *mesos.ResourceStatistics) error {
	d.mu.Lock()
	ours := d.ours[id]
	d.mu.Unlock()
	if !ours {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := d.eng.Usage(ctx, docker.Name(id), st)
	if docker.IsNotFound(err) {
		// The executor has not created it yet, or it is gone.
		return nil
	}
	return err
}

// Close stops the pending removals and closes the connection.
func (d *Docker) Close() error {
	d.mu.Lock()
	d.closed = true
	for id, t := range d.timers {
		t.Stop()
		delete(d.timers, id)
	}
	d.mu.Unlock()
	return d.eng.Close()
}
