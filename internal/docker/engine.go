package docker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"google.golang.org/protobuf/proto"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// Engine is a connection to a Docker Engine.
type Engine struct {
	*client.Client
	// Socket is the Engine's Unix socket.
	Socket string
}

// Connect opens a client for the Engine at the Unix socket path (empty:
// DefaultSocket), negotiates the API version and checks that the Engine
// answers within ctx.
func Connect(ctx context.Context, socket string) (*Engine, error) {
	if socket == "" {
		socket = DefaultSocket
	}
	c, err := client.New(client.WithHost("unix://"+socket), client.WithAPIVersionNegotiation())
	if err != nil {
		return nil, fmt.Errorf("docker client for %s: %w", socket, err)
	}
	if _, err := c.Ping(ctx, client.PingOptions{NegotiateAPIVersion: true}); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("docker engine at %s does not answer: %w", socket, err)
	}
	return &Engine{Client: c, Socket: socket}, nil
}

// IsNotFound reports whether err says a container or image does not exist.
func IsNotFound(err error) bool { return cerrdefs.IsNotFound(err) }

// EnsureImage makes image present: it pulls it when force is set (Mesos's
// force_pull_image) or when the Engine does not have it. A failed pull is
// an error with the Engine's message.
func (e *Engine) EnsureImage(ctx context.Context, image string, force bool) error {
	if !force {
		_, err := e.ImageInspect(ctx, image)
		if err == nil {
			return nil
		}
		if !IsNotFound(err) {
			return fmt.Errorf("inspect image %s: %w", image, err)
		}
	}
	resp, err := e.ImagePull(ctx, image, client.ImagePullOptions{})
	if err != nil {
		return fmt.Errorf("pull image %s: %w", image, err)
	}
	defer resp.Close()
	if err := resp.Wait(ctx); err != nil {
		return fmt.Errorf("pull image %s: %w", image, err)
	}
	return nil
}

// Create creates the container of spec.
func (e *Engine) Create(ctx context.Context, spec RunSpec) (string, error) {
	res, err := e.ContainerCreate(ctx, client.ContainerCreateOptions{Name: spec.Name, Config: spec.Config, HostConfig: spec.Host})
	if err != nil {
		return "", fmt.Errorf("create container %s: %w", spec.Name, err)
	}
	return res.ID, nil
}

// Remove removes a container, killing it first if it runs; a container
// that does not exist is no error.
func (e *Engine) Remove(ctx context.Context, name string) error {
	_, err := e.ContainerRemove(ctx, name, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
	if err != nil && !IsNotFound(err) {
		return fmt.Errorf("remove container %s: %w", name, err)
	}
	return nil
}

// Container is one of ours, as Ours lists it.
type Container struct {
	// Running is true while the container runs.
	Running bool
	// Sandbox is the host directory mounted at SandboxPath, if any.
	Sandbox string
}

// Ours lists every container, running or not, whose name starts with
// NamePrefix, by the Mesos container ID its name holds.
func (e *Engine) Ours(ctx context.Context) (map[string]Container, error) {
	res, err := e.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("name", NamePrefix)})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	out := map[string]Container{}
	for _, c := range res.Items {
		for _, n := range c.Names {
			// The name filter matches anywhere in the name; keep those
			// that start with the prefix.
			id, ok := ContainerID(n)
			if !ok || strings.Contains(id, "/") {
				continue
			}
			oc := Container{Running: c.State == container.StateRunning}
			for _, m := range c.Mounts {
				if m.Destination == SandboxPath {
					oc.Sandbox = m.Source
				}
			}
			out[id] = oc
		}
	}
	return out, nil
}

// Usage fills st from a one-shot sample of the container's stats: cpu
// times, the cpu limit (shares / 1024, or quota / period), memory use and
// limit, and the number of processes. It returns an error wrapping a
// not-found error when the container does not exist.
func (e *Engine) Usage(ctx context.Context, name string, st *mesos.ResourceStatistics) error {
	res, err := e.ContainerStats(ctx, name, client.ContainerStatsOptions{})
	if err != nil {
		return fmt.Errorf("stats of container %s: %w", name, err)
	}
	defer res.Body.Close()
	var s container.StatsResponse
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&s); err != nil {
		return fmt.Errorf("stats of container %s: %w", name, err)
	}
	ins, err := e.ContainerInspect(ctx, name, client.ContainerInspectOptions{})
	if err != nil {
		return fmt.Errorf("inspect container %s: %w", name, err)
	}
	FillStatistics(st, s, ins.Container.HostConfig)
	return nil
}

// FillStatistics turns Docker's stats of a container (and its host
// configuration, for the cpu limit) into Mesos's statistics.
func FillStatistics(st *mesos.ResourceStatistics, s container.StatsResponse, host *container.HostConfig) {
	if !s.Read.IsZero() {
		st.Timestamp = proto.Float64(float64(s.Read.UnixNano()) / 1e9)
	}
	cpu := s.CPUStats.CPUUsage
	st.CpusUserTimeSecs = proto.Float64(float64(cpu.UsageInUsermode) / float64(time.Second))
	st.CpusSystemTimeSecs = proto.Float64(float64(cpu.UsageInKernelmode) / float64(time.Second))
	if th := s.CPUStats.ThrottlingData; th.Periods > 0 {
		st.CpusNrPeriods = proto.Uint32(uint32(th.Periods))
		st.CpusNrThrottled = proto.Uint32(uint32(th.ThrottledPeriods))
		st.CpusThrottledTimeSecs = proto.Float64(float64(th.ThrottledTime) / float64(time.Second))
	}
	if host != nil {
		switch {
		case host.CPUQuota > 0 && host.CPUPeriod > 0:
			st.CpusLimit = proto.Float64(float64(host.CPUQuota) / float64(host.CPUPeriod))
		case host.CPUShares > 0:
			st.CpusLimit = proto.Float64(float64(host.CPUShares) / cpuSharesPerCPU)
		}
		if host.Memory > 0 {
			st.MemLimitBytes = proto.Uint64(uint64(host.Memory))
		}
	}
	m := s.MemoryStats
	if m.Limit > 0 && st.MemLimitBytes == nil {
		st.MemLimitBytes = proto.Uint64(m.Limit)
	}
	if m.Usage > 0 {
		st.MemTotalBytes = proto.Uint64(m.Usage)
	}
	// cgroups v1 names it "rss" (with "total_rss" for the hierarchy),
	// cgroups v2 "anon".
	for _, k := range []string{"total_rss", "rss", "anon"} {
		if v, ok := m.Stats[k]; ok {
			st.MemRssBytes = proto.Uint64(v)
			st.MemAnonBytes = proto.Uint64(v)
			break
		}
	}
	for _, k := range []string{"total_cache", "cache", "file"} {
		if v, ok := m.Stats[k]; ok {
			st.MemCacheBytes = proto.Uint64(v)
			st.MemFileBytes = proto.Uint64(v)
			break
		}
	}
	if s.PidsStats.Current > 0 {
		st.Processes = proto.Uint32(uint32(s.PidsStats.Current))
	}
	for _, n := range s.Networks {
		st.NetRxBytes = proto.Uint64(st.GetNetRxBytes() + n.RxBytes)
		st.NetRxPackets = proto.Uint64(st.GetNetRxPackets() + n.RxPackets)
		st.NetRxErrors = proto.Uint64(st.GetNetRxErrors() + n.RxErrors)
		st.NetRxDropped = proto.Uint64(st.GetNetRxDropped() + n.RxDropped)
		st.NetTxBytes = proto.Uint64(st.GetNetTxBytes() + n.TxBytes)
		st.NetTxPackets = proto.Uint64(st.GetNetTxPackets() + n.TxPackets)
		st.NetTxErrors = proto.Uint64(st.GetNetTxErrors() + n.TxErrors)
		st.NetTxDropped = proto.Uint64(st.GetNetTxDropped() + n.TxDropped)
	}
}

// ExitStatus waits for the container to stop running and returns its exit
// code (Docker's: 128+n for a container ended by signal n).
func (e *Engine) ExitStatus(ctx context.Context, name string) (int, error) {
	w := e.ContainerWait(ctx, name, client.ContainerWaitOptions{Condition: container.WaitConditionNotRunning})
	select {
	case r := <-w.Result:
		if r.Error != nil && r.Error.Message != "" {
			return int(r.StatusCode), errors.New(r.Error.Message)
		}
		return int(r.StatusCode), nil
	case err := <-w.Error:
		return -1, fmt.Errorf("wait for container %s: %w", name, err)
	}
}

// Kill sends SIGKILL to a container; one that does not exist or does not
// run is no error.
func (e *Engine) Kill(ctx context.Context, name string) error {
	_, err := e.ContainerKill(ctx, name, client.ContainerKillOptions{Signal: "KILL"})
	if err == nil || IsNotFound(err) || cerrdefs.IsConflict(err) {
		return nil
	}
	return fmt.Errorf("kill container %s: %w", name, err)
}
