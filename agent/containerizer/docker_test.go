package containerizer

import (
	"context"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	dockerapi "github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/internal/docker"
	"github.com/gomesos/gomesos/internal/docker/dockertest"
)

// runContainer creates (and, with start, starts) mesos-<id> running a
// sleep in image, with 0.5 cpus and 64 MB as the docker executor would
// ask and sandbox mounted at the sandbox path, and removes it when the
// test ends.
func runContainer(t *testing.T, eng *docker.Engine, image, id, sandbox string, start bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	name := docker.Name(id)
	t.Cleanup(func() { _ = eng.Remove(context.Background(), name) })
	_, err := eng.Create(ctx, docker.RunSpec{Name: name,
		Config: &dockerapi.Config{Image: image, Cmd: []string{"sleep", "1000"}},
		Host: &dockerapi.HostConfig{NetworkMode: "none", Binds: []string{sandbox + ":" + docker.SandboxPath},
			Resources: dockerapi.Resources{CPUShares: 512, Memory: 64 << 20}}})
	if err != nil {
		t.Fatal(err)
	}
	if start {
		if _, err := eng.ContainerStart(ctx, name, client.ContainerStartOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

func exists(t *testing.T, eng *docker.Engine, id string) bool {
	t.Helper()
	_, err := eng.ContainerInspect(context.Background(), docker.Name(id), client.ContainerInspectOptions{})
	if err != nil && !docker.IsNotFound(err) {
		t.Fatal(err)
	}
	return err == nil
}

// The agent's docker isolator: a restarted agent keeps the container of
// an adopted executor and, with --docker_kill_orphans, removes every other
// mesos-* container of its work directory, running or not (another
// agent's it leaves alone); the Engine's stats of a docker
// executor's container come out as Mesos's statistics; the container is
// removed once its executor is cleaned up.
func TestDockerIsolatorRecoversMeasuresAndRemoves(t *testing.T) {
	eng := dockertest.Engine(t)
	image := dockertest.BusyboxImage(t, eng)
	workDir, elsewhere := t.TempDir(), t.TempDir()
	d, err := NewDocker(context.Background(), DockerOptions{KillOrphans: true, WorkDir: workDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })

	adopted, orphan, ended, foreign := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	runContainer(t, eng, image, adopted, workDir+"/a", true)
	runContainer(t, eng, image, orphan, workDir+"/b", true)
	runContainer(t, eng, image, ended, workDir+"/c", false)
	runContainer(t, eng, image, foreign, elsewhere, true)
	if err := d.RecoverIsolation([]string{adopted}); err != nil {
		t.Fatal(err)
	}
	if !exists(t, eng, adopted) {
		t.Error("the adopted executor's container was removed")
	}
	if exists(t, eng, orphan) || exists(t, eng, ended) {
		t.Error("an orphan mesos-* container survived recovery with --docker_kill_orphans")
	}
	if !exists(t, eng, foreign) {
		t.Error("recovery removed a mesos-* container whose sandbox is outside the agent's work directory")
	}

	st := &mesos.ResourceStatistics{}
	if err := d.Usage(adopted, st); err != nil {
		t.Fatal(err)
	}
	if st.GetCpusLimit() != 0.5 || st.GetMemLimitBytes() != 64<<20 {
		t.Errorf("cpus_limit %v mem_limit_bytes %v, want 0.5 and %d", st.GetCpusLimit(), st.GetMemLimitBytes(), 64<<20)
	}
	if st.CpusUserTimeSecs == nil || st.CpusSystemTimeSecs == nil || st.GetProcesses() < 1 || st.GetTimestamp() == 0 {
		t.Errorf("statistics lack cpu times, processes or a timestamp: %v", st)
	}
	t.Logf("statistics of a sleeping container: %v", st)
	other := &mesos.ResourceStatistics{}
	if err := d.Usage(uuid.NewString(), other); err != nil || other.CpusLimit != nil {
		t.Errorf("the statistics of a container that is not a docker executor's: %v, %v", other, err)
	}

	if err := d.Cleanup(adopted); err != nil {
		t.Fatal(err)
	}
	if exists(t, eng, adopted) {
		t.Error("the container is still there after its executor's cleanup (remove delay 0)")
	}
}

// Prepare tells a docker executor the Engine's socket and its container's
// name, and leaves other executors alone.
func TestDockerIsolatorPrepare(t *testing.T) {
	eng := dockertest.Engine(t)
	d := &Docker{opts: DockerOptions{Socket: eng.Socket, EnableCFS: true}, eng: eng, ours: map[string]bool{}, timers: map[string]*time.Timer{}}
	cmd := &exec.Cmd{Env: []string{"PATH=/bin", "GOMESOS_EXECUTOR=docker"}}
	if err := d.Prepare(&Spec{ID: "c1"}, cmd); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"GOMESOS_DOCKER_SOCKET=" + eng.Socket, "MESOS_CONTAINER_NAME=mesos-c1", "GOMESOS_DOCKER_CGROUPS_ENABLE_CFS=1"} {
		if !slices.Contains(cmd.Env, want) {
			t.Errorf("the docker executor's environment lacks %s: %q", want, cmd.Env)
		}
	}
	plain := &exec.Cmd{Env: []string{"GOMESOS_EXECUTOR=command"}}
	if err := d.Prepare(&Spec{ID: "c2"}, plain); err != nil || len(plain.Env) != 1 {
		t.Errorf("a command executor's environment was changed: %q %v", plain.Env, err)
	}
}

// Without an Engine at --docker_socket the docker containerizer cannot be
// built, and the error names the flag.
func TestNewDockerWithoutEngine(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "no.sock")
	_, err := NewDocker(context.Background(), DockerOptions{Socket: sock})
	if err == nil || !strings.Contains(err.Error(), "--docker_socket="+sock) {
		t.Errorf("NewDocker at a socket nobody serves: %v", err)
	}
	if _, err := ParseContainerizers("mesos,lxc"); err == nil || !strings.Contains(err.Error(), "--containerizers") {
		t.Errorf("an unknown containerizer: %v", err)
	}
	if got, err := ParseContainerizers(""); err != nil || !slices.Equal(got, []string{"mesos"}) {
		t.Errorf("the default containerizers: %v %v", got, err)
	}
}
