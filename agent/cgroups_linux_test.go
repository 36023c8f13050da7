//go:build linux

package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomesos/gomesos/agent/containerizer"
	"github.com/gomesos/gomesos/agent/internal/agenttest"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// Under cgroups isolation, a task that allocates 256 MiB with mem:64 ends
// TASK_FAILED with REASON_CONTAINER_LIMITATION_MEMORY from the agent, with
// Mesos's message, while its neighbour keeps running; no cgroup is left.
func TestCgroupsOOMFailsTaskWithMemoryLimitation(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("skipping: cgroups isolation needs root")
	}
	host, err := containerizer.DetectCgroups()
	if err != nil {
		t.Skipf("skipping: no usable cgroups here: %v", err)
	}
	root := fmt.Sprintf("gomesos-agent-test-%d", os.Getpid())
	if err := containerizer.CgroupsWritable(host, root); err != nil {
		t.Skipf("skipping: cgroups are not writable here: %v", err)
	}
	isolators, resolved, err := containerizer.IsolatorsFor("cgroups/cpu,cgroups/mem,cgroups/pids", containerizer.CgroupsOptions{Root: root})
	if err != nil {
		t.Fatal(err)
	}
	if resolved != containerizer.DefaultCgroupsIsolation {
		t.Errorf("resolved isolation %q", resolved)
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
	a := startAgent(t, fm, func(c *Config) { c.Isolators, c.Isolation = isolators, resolved })
	defer a.stop(t)
	agentID := a.registered(t)

	task := func(id, cmd string) *mesos.TaskInfo {
		ti := commandTask(id, agentID, cmd)
		ti.Resources = []*mesos.Resource{agenttest.Scalar("cpus", 0.1), agenttest.Scalar("mem", 64)}
		return ti
	}
	fm.send(runTask(task("neighbour", "exec sleep 1000")))
	waitRunning(t, fm, "neighbour")
	// tail holds its one endless line in memory it fills itself: a user
	// page fault at the limit stalls until the agent ends the container.
	// (dd's buffer would be filled by the kernel, whose copy can come back
	// short at the limit, and dd then exits 0 with a partial block.)
	fm.send(runTask(task("hog", "head -c 268435456 /dev/zero | tail > /dev/null")))
	fm.ackUntilTerminal("hog")
	hog := fm.updatesFor("hog")
	failed := hog[len(hog)-1].GetStatus()
	if failed.GetState() != mesos.TaskState_TASK_FAILED || failed.GetReason() != mesos.TaskStatus_REASON_CONTAINER_LIMITATION_MEMORY || failed.GetSource() != mesos.TaskStatus_SOURCE_AGENT ||
		!strings.HasPrefix(failed.GetMessage(), "Memory limit exceeded: Requested: ") {
		t.Errorf("hog ended %v", failed)
	}
	if got := fm.updatesFor("neighbour"); got[len(got)-1].GetStatus().GetState() != mesos.TaskState_TASK_RUNNING {
		t.Errorf("the neighbour's last update is %v", got[len(got)-1].GetStatus())
	}
	var flags struct{ Flags map[string]string }
	getJSON(t, a, "/flags", &flags)
	if flags.Flags["isolation"] != resolved || flags.Flags["cgroups_enable_cfs"] != "false" {
		t.Errorf("/flags isolation=%q cgroups_enable_cfs=%q", flags.Flags["isolation"], flags.Flags["cgroups_enable_cfs"])
	}
	fm.send(killTask("neighbour", 0))
	fm.waitUpdate("neighbour", mesos.TaskState_TASK_KILLED)
}
