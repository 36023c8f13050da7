//go:build linux

package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/agent/containerizer"
	"github.com/gomesos/gomesos/agent/internal/agenttest"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/internal/testutil"
)

// Through the agent, with cgroups/cpu, cgroups/mem, cgroups/devices and a
// gpu/nvidia allocator over a fake device list: the agent registers the
// GPUs as "gpus"; a command task with cpus 0.1 (limit 0.5) and mem 32
// (limit 128) gets a CFS quota at its limit (plus the command executor's
// 0.1 cpus) and the hard memory limit at its limit, the soft one at the
// request; /state shows its limits; a task with gpus:1 sees
// CUDA_VISIBLE_DEVICES.
func TestTaskLimitsAndGPUsThroughTheAgent(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: cgroups isolation needs root")
	}
	host, err := containerizer.DetectCgroups()
	if err != nil || host.Version != 1 {
		t.Skipf("skipping: the checks read cgroups v1 files (cgroups here: %+v, %v)", host, err)
	}
	root := fmt.Sprintf("gomesos-agent-limits-%d", os.Getpid())
	if err := containerizer.CgroupsWritable(host, root); err != nil {
		t.Skipf("skipping: cgroups are not writable here: %v", err)
	}
	gpus := containerizer.NewGPUAllocator([]containerizer.GPU{{Index: 0, Major: 1, Minor: 11}, {Index: 1, Major: 10, Minor: 234}}, nil)
	g, err := containerizer.NewCgroups(host, containerizer.CgroupsOptions{Root: root, CPU: true, Mem: true, Devices: true, GPUs: gpus})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, m := range host.Mounts {
			dir := filepath.Join(m, root)
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if e.IsDir() {
					t.Errorf("cgroup %s left behind", filepath.Join(dir, e.Name()))
				}
			}
			_ = os.Remove(dir)
		}
	})
	fm := newFakeMaster(t)
	a := startAgent(t, fm, func(c *Config) { c.Isolators = []containerizer.Isolator{g} })
	defer a.stop(t)
	agentID := a.registered(t)

	subs := fm.subscriptions()
	if len(subs) == 0 {
		t.Fatal("no REGISTER")
	}
	if gpuCount := scalarSum(subs[0].GetRegister().GetAgentInfo().GetResources(), "gpus", false); gpuCount != 2 {
		t.Errorf("the agent registered %v gpus, want the allocator's 2", gpuCount)
	}

	limited := commandTask("limited", agentID, "exec sleep 1000")
	limited.Limits = map[string]*mesos.Value_Scalar{"cpus": {Value: proto.Float64(0.5)}, "mem": {Value: proto.Float64(128)}}
	fm.send(runTask(limited))
	waitRunning(t, fm, "limited")
	cg := containerCgroup(t, a, host, root, "limited")
	read := func(controller, file string) string {
		b, err := os.ReadFile(filepath.Join(host.Mounts[controller], cg, file))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	for _, c := range []struct{ controller, file, want string }{
		{"cpu", "cpu.cfs_quota_us", "60000"},
		{"cpu", "cpu.cfs_period_us", "100000"},
		{"memory", "memory.limit_in_bytes", strconv.Itoa(160 << 20)},
		{"memory", "memory.soft_limit_in_bytes", strconv.Itoa(64 << 20)},
	} {
		if got := read(c.controller, c.file); got != c.want {
			t.Errorf("%s = %s, want %s", c.file, got, c.want)
		}
	}
	var state struct {
		Capabilities []string `json:"capabilities"`
		Frameworks   []struct {
			Executors []struct {
				Tasks []struct {
					ID     string             `json:"id"`
					Limits map[string]float64 `json:"limits"`
				} `json:"tasks"`
			} `json:"executors"`
		} `json:"frameworks"`
	}
	getJSON(t, a, "/state", &state)
	found := false
	for _, fw := range state.Frameworks {
		for _, ex := range fw.Executors {
			for _, tk := range ex.Tasks {
				if tk.ID == "limited" {
					found = true
					if tk.Limits["cpus"] != 0.5 || tk.Limits["mem"] != 128 {
						t.Errorf("/state limits = %v, want cpus 0.5, mem 128", tk.Limits)
					}
				}
			}
		}
	}
	if !found {
		t.Error("/state does not list the limited task")
	}
	if !strings.Contains(strings.Join(state.Capabilities, ","), "TASK_RESOURCE_LIMITS") {
		t.Errorf("/state capabilities = %v, want TASK_RESOURCE_LIMITS", state.Capabilities)
	}

	withGPU := commandTask("gpu", agentID, `echo "cuda=$CUDA_VISIBLE_DEVICES"; exec sleep 1000`)
	withGPU.Resources = append(withGPU.Resources, agenttest.Scalar("gpus", 1))
	fm.send(runTask(withGPU))
	waitRunning(t, fm, "gpu")
	stdout := filepath.Join(a.cfg.WorkDir, "slaves", agentID, "frameworks", agenttest.Framework.GetId().GetValue(), "executors", "gpu", "runs", "latest", "stdout")
	testutil.WaitFor(t, "the GPU task's output", patience, func() bool {
		b, _ := os.ReadFile(stdout)
		return strings.Contains(string(b), "cuda=0\n")
	})
	if got := gpus.Free(); got != 1 {
		t.Errorf("%d GPUs free with one task holding one, want 1", got)
	}
	for _, id := range []string{"limited", "gpu"} {
		fm.send(killTask(id, 0))
		fm.waitUpdate(id, mesos.TaskState_TASK_KILLED)
	}
	testutil.WaitFor(t, "the GPU to be freed", patience, func() bool { return gpus.Free() == 2 })
}

// containerCgroup is the cgroup (relative to a hierarchy's root) of the
// container that runs the task, found below root.
func containerCgroup(t *testing.T, a *testAgent, host containerizer.CgroupHost, root, task string) string {
	t.Helper()
	var cg string
	testutil.WaitFor(t, "the task's container cgroup", patience, func() bool {
		entries, _ := os.ReadDir(filepath.Join(host.Mounts["cpu"], root))
		for _, e := range entries {
			// The sandbox of the task's executor names its container.
			matches, _ := filepath.Glob(filepath.Join(a.cfg.WorkDir, "slaves", "*", "frameworks", "*", "executors", task, "runs", e.Name()))
			if len(matches) == 1 {
				cg = filepath.Join("/", root, e.Name())
				return true
			}
		}
		return false
	})
	return cg
}
