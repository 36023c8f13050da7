package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/moby/moby/client"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/internal/docker"
	"github.com/gomesos/gomesos/internal/docker/dockertest"
	"github.com/gomesos/gomesos/internal/testutil"
)

// dockerTask is a command task run by the Docker containerizer in image.
func dockerTask(id string, o *mesos.Offer, res, image, cmd string) *mesos.TaskInfo {
	t := commandTask(id, o, res, cmd)
	t.Container = &mesos.ContainerInfo{Type: mesos.ContainerInfo_DOCKER.Enum(), Docker: &mesos.ContainerInfo_DockerInfo{Image: ptr(image)}}
	return t
}

func gracePeriod(d time.Duration) *mesos.KillPolicy {
	return &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: ptr(int64(d))}}
}

// ourContainers maps the names of the Docker containers (running or not)
// whose sandbox mount lies under dir, the agent's work directory, to their
// Docker IDs.
func ourContainers(t *testing.T, eng *docker.Engine, dir string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	res, err := eng.ContainerList(ctx, client.ContainerListOptions{All: true, Filters: client.Filters{}.Add("name", docker.NamePrefix)})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, c := range res.Items {
		for _, m := range c.Mounts {
			if strings.HasPrefix(m.Source, dir+"/") && m.Destination == docker.SandboxPath {
				out[strings.TrimPrefix(c.Names[0], "/")] = c.ID
			}
		}
	}
	return out
}

// waitExecutorsDone waits until the agent holds no live executor: every
// container has ended and been cleaned up (its cgroup and Docker container
// removed), so that the agent killed at the test's end leaves nothing
// behind for the tests after it.
func waitExecutorsDone(r *recoveryRig) {
	r.t.Helper()
	waitFor(r.t, "every executor of the agent to end", func() bool {
		for _, fw := range r.agentState().Frameworks {
			if len(fw.Executors) > 0 {
				return false
			}
		}
		return true
	})
}

// updatesUntil reads the framework's updates, keeping each task's latest,
// until done holds for them.
func updatesUntil(t *testing.T, fw *framework, latest map[string]*mesos.TaskStatus, seen map[string][]mesos.TaskState, done func() bool) {
	t.Helper()
	for !done() {
		s := fw.nextUpdate()
		id := s.GetTaskId().GetValue()
		latest[id] = s
		seen[id] = append(seen[id], s.GetState())
	}
}

// The outside check of the Docker containerizer, on an agent run as a
// gomesos process with --containerizers=mesos,docker and an image built
// here (no registry): a task prints to the sandbox's stdout and stderr
// and finishes; a failing one is TASK_FAILED with Mesos's "Container
// exited with status 3"; a missing image and a forced pull fail the
// launch; BRIDGE networking maps a task's port to the host and the
// sandbox is mounted at MESOS_SANDBOX; kills honour the grace period
// (docker stop); a task survives the agent's SIGTERM and restart in the
// same container and is then killed cleanly; no mesos-* container is left.
func TestDockerContainerizer(t *testing.T) {
	eng := dockertest.Engine(t)
	image := dockertest.BusyboxImage(t, eng)
	// The web task's host port is one free now, so that no other test's
	// listener is in its way.
	webPort := testutil.FreePort(t)
	r := startRig(t, rigOptions{
		resources:  fmt.Sprintf("cpus:16;mem:16384;disk:4096;ports:[%d-%d]", webPort, webPort),
		agentFlags: []string{"--containerizers=mesos,docker", "--docker_remove_delay=0secs"},
	})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		for name := range ourContainers(t, eng, r.workDir) {
			_ = eng.Remove(ctx, name)
		}
	})
	fw := startFrameworkAt(t, r.masterAddr, frameworkOptions{checkpoint: true,
		capabilities: []mesos.FrameworkInfo_Capability_Type{mesos.FrameworkInfo_Capability_TASK_KILLING_STATE}})
	o := fw.nextOffer()

	hello := dockerTask("hello", o, "cpus:0.1;mem:32", image, `echo "hello from $MESOS_CONTAINER_NAME in $MESOS_SANDBOX task $MESOS_TASK_ID"; echo "to stderr" >&2`)
	fails := dockerTask("fails", o, "cpus:0.1;mem:32", image, `exit 3`)
	polite := dockerTask("polite", o, "cpus:0.1;mem:32", image, `trap 'echo got TERM; exit 0' TERM; echo ready; while true; do sleep 0.05; done`)
	polite.KillPolicy = gracePeriod(time.Minute)
	stubborn := dockerTask("stubborn", o, "cpus:0.1;mem:32", image, `trap '' TERM; echo ready; while true; do sleep 0.05; done`)
	stubborn.KillPolicy = gracePeriod(2 * time.Second)
	survivor := dockerTask("survivor", o, "cpus:0.1;mem:32", image, `echo up; exec sleep 1000`)
	survivor.KillPolicy = gracePeriod(time.Second)
	web := dockerTask("web", o, fmt.Sprintf("cpus:0.1;mem:32;ports:[%d-%d]", webPort, webPort), image,
		`echo "served from the sandbox" > $MESOS_SANDBOX/index.html; exec httpd -f -p 8080 -h $MESOS_SANDBOX`)
	web.Container.Docker.Network = mesos.ContainerInfo_DockerInfo_BRIDGE.Enum()
	web.Container.Docker.PortMappings = []*mesos.ContainerInfo_DockerInfo_PortMapping{{HostPort: ptr(uint32(webPort)), ContainerPort: ptr(uint32(8080))}}
	web.KillPolicy = gracePeriod(time.Second)
	missing := dockerTask("missing", o, "cpus:0.1;mem:32", dockertest.ImagePrefix+"absent:none", `true`)
	forced := dockerTask("forced", o, "cpus:0.1;mem:32", image, `true`)
	forced.Container.Docker.ForcePullImage = ptr(true)

	tasks := []*mesos.TaskInfo{hello, fails, polite, stubborn, survivor, web, missing, forced}
	if err := fw.client.Launch(ctxT(t), ids(o), tasks, nil); err != nil {
		t.Fatal(err)
	}
	latest := map[string]*mesos.TaskStatus{}
	seen := map[string][]mesos.TaskState{}
	state := func(id string) mesos.TaskState { return latest[id].GetState() }
	updatesUntil(t, fw, latest, seen, func() bool {
		for _, id := range []string{"hello", "fails", "missing", "forced"} {
			if !state(id).IsTerminal() {
				return false
			}
		}
		for _, id := range []string{"polite", "stubborn", "survivor", "web"} {
			if state(id) != mesos.TaskState_TASK_RUNNING {
				if state(id).IsTerminal() {
					t.Fatalf("%s ended %s: %s", id, state(id), latest[id].GetMessage())
				}
				return false
			}
		}
		return true
	})

	if s := latest["hello"]; s.GetState() != mesos.TaskState_TASK_FINISHED || s.GetMessage() != "Container exited with status 0" {
		t.Errorf("hello: %s %q, want TASK_FINISHED \"Container exited with status 0\"", s.GetState(), s.GetMessage())
	}
	helloDir := sandboxOf(t, r.agentAddr, "hello")
	out, _ := os.ReadFile(helloDir + "/stdout")
	if !strings.Contains(string(out), "hello from mesos-") || !strings.Contains(string(out), "in "+docker.SandboxPath+" task hello") {
		t.Errorf("hello's stdout in its sandbox: %q", out)
	}
	if errOut, _ := os.ReadFile(helloDir + "/stderr"); !strings.Contains(string(errOut), "to stderr") {
		t.Errorf("hello's stderr in its sandbox: %q", errOut)
	}
	if s := latest["fails"]; s.GetState() != mesos.TaskState_TASK_FAILED || s.GetMessage() != "Container exited with status 3" {
		t.Errorf("fails: %s %q, want TASK_FAILED \"Container exited with status 3\"", s.GetState(), s.GetMessage())
	}
	for _, id := range []string{"missing", "forced"} {
		s := latest[id]
		if s.GetState() != mesos.TaskState_TASK_FAILED || s.GetReason() != mesos.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED || !strings.Contains(s.GetMessage(), "pull") {
			t.Errorf("%s: %s %s %q, want TASK_FAILED REASON_CONTAINER_LAUNCH_FAILED naming the pull", id, s.GetState(), s.GetReason(), s.GetMessage())
		}
	}
	t.Logf("the failed pull: %s", latest["missing"].GetMessage())

	// BRIDGE: the host port reaches the container's, which serves a file
	// the task wrote in its sandbox through MESOS_SANDBOX.
	var body string
	waitFor(t, "the web task to answer on its host port", func() bool {
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(webPort) + "/index.html")
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body = string(b)
		return resp.StatusCode == http.StatusOK
	})
	if !strings.Contains(body, "served from the sandbox") {
		t.Errorf("the web task served %q", body)
	}
	if b, _ := os.ReadFile(sandboxOf(t, r.agentAddr, "web") + "/index.html"); !strings.Contains(string(b), "served from the sandbox") {
		t.Errorf("the file the task wrote at MESOS_SANDBOX is not in its sandbox: %q", b)
	}
	// Its TASK_RUNNING carries the container's own address on the bridge,
	// where the container's port answers too.
	nis := latest["web"].GetContainerStatus().GetNetworkInfos()
	if len(nis) != 1 || len(nis[0].GetIpAddresses()) != 1 {
		t.Fatalf("the web task's TASK_RUNNING has network_infos %v, want the container's address", nis)
	}
	ip := nis[0].GetIpAddresses()[0].GetIpAddress()
	resp, err := http.Get("http://" + net.JoinHostPort(ip, "8080") + "/index.html")
	if err != nil {
		t.Errorf("the web task's container address %s: %v", ip, err)
	} else {
		resp.Body.Close()
	}

	// Kills: the polite task's TERM handler runs well within its minute of
	// grace; the stubborn one is killed once its 2 s are over.
	for _, id := range []string{"polite", "stubborn"} {
		dir := sandboxOf(t, r.agentAddr, id)
		waitFor(t, id+" to be ready", func() bool {
			b, _ := os.ReadFile(dir + "/stdout")
			return strings.Contains(string(b), "ready")
		})
	}
	killed := time.Now()
	for _, id := range []string{"polite", "stubborn"} {
		if err := fw.client.Kill(ctxT(t), &mesos.TaskID{Value: ptr(id)}, o.GetAgentId()); err != nil {
			t.Fatal(err)
		}
	}
	took := map[string]time.Duration{}
	updatesUntil(t, fw, latest, seen, func() bool {
		for _, id := range []string{"polite", "stubborn"} {
			if state(id).IsTerminal() && took[id] == 0 {
				took[id] = time.Since(killed)
			}
		}
		return took["polite"] > 0 && took["stubborn"] > 0
	})
	for _, id := range []string{"polite", "stubborn"} {
		if state(id) != mesos.TaskState_TASK_KILLED {
			t.Errorf("%s ended %s (%q), want TASK_KILLED", id, state(id), latest[id].GetMessage())
		}
		if !slices.Contains(seen[id], mesos.TaskState_TASK_KILLING) {
			t.Errorf("%s: no TASK_KILLING before its end: %v", id, seen[id])
		}
	}
	if b, _ := os.ReadFile(sandboxOf(t, r.agentAddr, "polite") + "/stdout"); !strings.Contains(string(b), "got TERM") {
		t.Errorf("the polite task's TERM handler did not run: stdout %q", b)
	}
	if took["polite"] > 30*time.Second {
		t.Errorf("the polite task took %v to end after SIGTERM", took["polite"])
	}
	if took["stubborn"] < 2*time.Second {
		t.Errorf("the stubborn task was killed %v after the kill, before its 2s grace period", took["stubborn"])
	}
	t.Logf("killed: polite in %v (it handles SIGTERM), stubborn in %v (2s grace)", took["polite"].Round(time.Millisecond), took["stubborn"].Round(time.Millisecond))

	// The agent restarts (SIGTERM, as an operator would) under the
	// survivor, which keeps running in the same container.
	before := ourContainers(t, eng, r.workDir)
	survivorName := ""
	survivorDir := sandboxOf(t, r.agentAddr, "survivor")
	for name, id := range before {
		ins, err := eng.ContainerInspect(ctxT(t), id, client.ContainerInspectOptions{})
		if err == nil && ins.Container.State.Running && strings.Contains(jsonString(ins.Container.Mounts), survivorDir) {
			survivorName = name
		}
	}
	if survivorName == "" {
		t.Fatalf("no running container of the survivor among %v", before)
	}
	agentID := r.waitRegistered()
	if err := r.agent.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r.agent.wait(t)
	if again := r.startAgent(); again != agentID {
		t.Fatalf("the restarted agent registered as %s, want %s", again, agentID)
	}
	r.waitAgentRunning([]string{"survivor", "web"})
	after := ourContainers(t, eng, r.workDir)
	if after[survivorName] != before[survivorName] {
		t.Errorf("the survivor's container %s was %s before the restart and is %q after", survivorName, before[survivorName], after[survivorName])
	}
	if ins, err := eng.ContainerInspect(ctxT(t), survivorName, client.ContainerInspectOptions{}); err != nil || !ins.Container.State.Running {
		t.Errorf("the survivor's container does not run after the agent's restart: %v", err)
	}
	for _, id := range []string{"survivor", "web"} {
		if state(id).IsTerminal() {
			t.Errorf("%s ended %s across the agent's restart", id, state(id))
		}
		if err := fw.client.Kill(ctxT(t), &mesos.TaskID{Value: ptr(id)}, o.GetAgentId()); err != nil {
			t.Fatal(err)
		}
	}
	updatesUntil(t, fw, latest, seen, func() bool {
		return state("survivor").IsTerminal() && state("web").IsTerminal()
	})
	for _, id := range []string{"survivor", "web"} {
		if state(id) != mesos.TaskState_TASK_KILLED {
			t.Errorf("%s ended %s (%q), want TASK_KILLED", id, state(id), latest[id].GetMessage())
		}
	}
	waitExecutorsDone(r)
	waitFor(t, "every mesos-* container of the agent to be removed", func() bool {
		return len(ourContainers(t, eng, r.workDir)) == 0
	})
}

// A DOCKER task on an agent without the docker containerizer fails to
// launch, as Mesos's agent reports it.
func TestDockerTaskWithoutDockerContainerizer(t *testing.T) {
	c := startCluster(t, clusterOptions{agents: 1})
	fw := startFramework(t, c, frameworkOptions{})
	o := fw.nextOffer()
	task := dockerTask("nodocker", o, "cpus:0.1;mem:32", "busybox", "true")
	if err := fw.client.Launch(ctxT(t), ids(o), []*mesos.TaskInfo{task}, nil); err != nil {
		t.Fatal(err)
	}
	_, s := fw.waitTerminal("nodocker")
	want := "None of the enabled containerizers (mesos) could create a container for the provided TaskInfo/ExecutorInfo message"
	if s.GetState() != mesos.TaskState_TASK_FAILED || s.GetReason() != mesos.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED || !strings.Contains(s.GetMessage(), want) {
		t.Errorf("%s %s %q, want TASK_FAILED REASON_CONTAINER_LAUNCH_FAILED with %q", s.GetState(), s.GetReason(), s.GetMessage(), want)
	}
}

// `gomesos execute --containerizer=docker --docker_image=...` (as
// mesos-execute) runs its command in a Docker container and exits with the
// container's exit status.
func TestDockerExecute(t *testing.T) {
	eng := dockertest.Engine(t)
	image := dockertest.BusyboxImage(t, eng)
	r := startRig(t, rigOptions{agentFlags: []string{"--containerizers=mesos,docker", "--docker_remove_delay=0secs"}})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), patience)
		defer cancel()
		for name := range ourContainers(t, eng, r.workDir) {
			_ = eng.Remove(ctx, name)
		}
	})
	p := startProc(t, "execute", "--master="+r.masterAddr, "--name=in-docker", "--resources=cpus:0.1;mem:32",
		"--containerizer=docker", "--docker_image="+image, `--command=test -d "$MESOS_SANDBOX" && exit 4`)
	p.expect(t, `Container exited with status 4`)
	if code := p.wait(t); code != 4 {
		t.Errorf("gomesos execute exited %d, want the container's 4", code)
	}
	waitExecutorsDone(r)
	if left := ourContainers(t, eng, r.workDir); len(left) > 0 {
		t.Errorf("containers left after the task ended: %v", left)
	}
}
