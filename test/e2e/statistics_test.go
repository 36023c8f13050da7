package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gomesos/gomesos/agent/containerizer"
)

// Through the gomesos binary, with disk/du isolation and quota
// enforcement (and cgroups isolation with CFS where this host lets the
// agent write cgroups, else posix isolation): a task that writes 3 MiB
// into its sandbox with disk:1 ends TASK_FAILED with
// REASON_CONTAINER_LIMITATION_DISK; the agent's /monitor/statistics shows
// a spinning task's CPU time growing, its limits (under cgroups, the
// cgroup's own memory limit), its processes and threads and its sandbox's
// disk.
func TestStatisticsAndDiskQuotaThroughTheBinary(t *testing.T) {
	isolation, cgroups := "posix/cpu,posix/mem,disk/du", false
	host, err := containerizer.DetectCgroups()
	if err == nil && os.Geteuid() == 0 && containerizer.CgroupsWritable(host, os.Getenv("MESOS_CGROUPS_ROOT")) == nil {
		isolation, cgroups = "cgroups/cpu,cgroups/mem,cgroups/pids,disk/du", true
	}
	t.Logf("isolation: %s", isolation)
	local := startProc(t, "local", "--port=0", "--work_dir="+t.TempDir(), "--num_agents=1", "--isolation="+isolation,
		"--container_disk_watch_interval=100ms", "--enforce_container_disk_quota", "--cgroups_enable_cfs")
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		// As Ctrl-C: the cluster stops and kills its tasks.
		if err := local.cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
		if code := local.wait(t); code != 0 {
			t.Errorf("gomesos local exited %d after SIGINT; stderr:\n%s", code, local.stderr.String())
		}
	}
	t.Cleanup(stop)
	masterURL := local.expect(t, `master (http://\S+) with 1 agent`)[1]
	masterAddr := strings.TrimPrefix(masterURL, "http://")
	var slaves struct {
		Slaves []struct {
			PID string `json:"pid"`
		} `json:"slaves"`
	}
	waitFor(t, "the agent", func() bool {
		getJSON(t, masterURL+"/master/slaves", &slaves)
		return len(slaves.Slaves) == 1
	})
	agentURL := "http://" + strings.TrimPrefix(slaves.Slaves[0].PID, "slave(1)@")

	hog := exec.Command(gomesosBin, "execute", "--master="+masterAddr, "--name=hog", "--resources=cpus:0.1;mem:32;disk:1",
		"--command=head -c 3145728 /dev/zero > blob; exec sleep 1000")
	out, err := hog.CombinedOutput()
	if code := hog.ProcessState.ExitCode(); err == nil || code == 0 {
		t.Errorf("gomesos execute of the hog: %v (exit %d)", err, code)
	}
	for _, want := range []string{"Received status update TASK_FAILED for task 'hog'", "  message: 'Disk usage (",
		") exceeds quota (1MB)'", "  source: SOURCE_AGENT", "  reason: REASON_CONTAINER_LIMITATION_DISK"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the hog's output lacks %q:\n%s", want, out)
		}
	}

	spin := exec.Command(gomesosBin, "execute", "--master="+masterAddr, "--name=spin", "--resources=cpus:0.5;mem:64;disk:16",
		"--command=while :; do :; done")
	if err := spin.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = spin.Process.Kill(); _ = spin.Wait() }()
	type entry struct {
		ExecutorID string             `json:"executor_id"`
		Statistics map[string]float64 `json:"statistics"`
	}
	statsOf := func() map[string]float64 {
		var entries []entry
		getJSON(t, agentURL+"/monitor/statistics", &entries)
		for _, e := range entries {
			if e.ExecutorID == "spin" {
				return e.Statistics
			}
		}
		return nil
	}
	var first map[string]float64
	waitFor(t, "the spinner's statistics", func() bool {
		first = statsOf()
		return first != nil && first["disk_used_bytes"] > 0
	})
	var later map[string]float64
	waitFor(t, "the spinner's CPU time to grow", func() bool {
		later = statsOf()
		return later["cpus_user_time_secs"] >= first["cpus_user_time_secs"]+0.3
	})
	t.Logf("spin: %v", later)
	// The task's shell (its executor runs in the agent's executor host,
	// no process of the container's).
	if later["cpus_limit"] < 0.5 || later["mem_limit_bytes"] < 64<<20 || later["disk_limit_bytes"] != 16<<20 ||
		later["processes"] < 1 || later["threads"] < later["processes"] || later["timestamp"] <= first["timestamp"] {
		t.Errorf("spin's statistics: %v", later)
	}
	if cgroups {
		if later["cpus_nr_periods"] == 0 {
			t.Errorf("no CFS periods counted under cgroups with CFS: %v", later)
		}
		dir := sandboxOf(t, strings.TrimPrefix(agentURL, "http://"), "spin")
		container := filepath.Base(dir) // runs/<container id>
		// gomesos local gives each agent a cgroups root below the one
		// it was given.
		pattern := filepath.Join(host.Mounts["memory"], os.Getenv("MESOS_CGROUPS_ROOT"), "*", container, "memory.limit_in_bytes")
		if host.Version == 2 {
			pattern = filepath.Join(host.Mounts[""], os.Getenv("MESOS_CGROUPS_ROOT"), "*", container, "memory.max")
		}
		files, _ := filepath.Glob(pattern)
		if len(files) != 1 {
			t.Fatalf("the spinner's memory cgroup: %v match %s", files, pattern)
		}
		b, err := os.ReadFile(files[0])
		if err != nil {
			t.Fatal(err)
		}
		if limit, _ := strconv.ParseFloat(strings.TrimSpace(string(b)), 64); limit != later["mem_limit_bytes"] {
			t.Errorf("mem_limit_bytes %v, the cgroup's limit %v", later["mem_limit_bytes"], limit)
		}
	}
	stop()
}
