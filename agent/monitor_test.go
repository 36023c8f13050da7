package agent

import (
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gomesos/gomesos/agent/containerizer"
	"github.com/gomesos/gomesos/agent/internal/agenttest"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// statsEntry is an entry of /monitor/statistics.
type statsEntry struct {
	ExecutorID   string             `json:"executor_id"`
	ExecutorName string             `json:"executor_name"`
	FrameworkID  string             `json:"framework_id"`
	Source       string             `json:"source"`
	Statistics   map[string]float64 `json:"statistics"`
}

func statisticsOf(t *testing.T, a *testAgent) map[string]map[string]float64 {
	t.Helper()
	var entries []statsEntry
	if code := getJSON(t, a, "/monitor/statistics", &entries); code != 200 {
		t.Fatalf("/monitor/statistics: %d", code)
	}
	out := map[string]map[string]float64{}
	for _, e := range entries {
		if e.FrameworkID != agenttest.Framework.GetId().GetValue() {
			t.Errorf("entry %+v has another framework", e)
		}
		out[e.ExecutorID] = e.Statistics
	}
	return out
}

// /monitor/statistics, over HTTP, reports each executor's container as
// Mesos does, here with posix/cpu, posix/mem and disk/du isolation: a
// spinning task's CPU time grows, a task holding 48 MiB has that resident,
// cpus_limit and mem_limit_bytes are the containers' resources, the
// sandbox's disk is measured; and with enforcement a task that writes more
// than its disk ends TASK_FAILED with REASON_CONTAINER_LIMITATION_DISK.
func TestMonitorStatisticsWithPosixAndDiskIsolation(t *testing.T) {
	checkLeaks(t)
	isolators, resolved, err := containerizer.IsolatorsFor("posix/cpu,posix/mem,disk/du", containerizer.CgroupsOptions{
		Disk: containerizer.DiskOptions{WatchInterval: 50 * time.Millisecond, EnforceQuota: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	fm := newFakeMaster(t)
	a := startAgent(t, fm, func(c *Config) {
		c.Isolators, c.Isolation = isolators, resolved
		c.ContainerDiskWatchInterval, c.EnforceContainerDiskQuota = 50*time.Millisecond, true
	})
	agentID := a.registered(t)
	task := func(id, cmd string, res ...*mesos.Resource) *mesos.TaskInfo {
		ti := commandTask(id, agentID, cmd)
		ti.Resources = res
		return ti
	}
	fm.send(runTask(task("spin", "while :; do :; done", scalar("cpus", 0.5), scalar("mem", 64), scalar("disk", 16))))
	// tail holds its one endless line in memory.
	fm.send(runTask(task("hold", "(head -c 50331648 /dev/zero; exec sleep 1000) | tail", scalar("cpus", 0.25), scalar("mem", 256))))
	waitRunning(t, fm, "spin")
	waitRunning(t, fm, "hold")

	var first map[string]map[string]float64
	eventually(t, "hold's resident memory and spin's disk", func() bool {
		first = statisticsOf(t, a)
		return first["hold"]["mem_rss_bytes"] >= 48<<20 && first["spin"]["disk_used_bytes"] > 0
	})
	spin, hold := first["spin"], first["hold"]
	if spin["cpus_limit"] < 0.5 || spin["mem_limit_bytes"] < 64<<20 || hold["cpus_limit"] < 0.25 || hold["mem_limit_bytes"] < 256<<20 {
		t.Errorf("limits: spin %v, hold %v", spin, hold)
	}
	if spin["disk_limit_bytes"] != 16<<20 || hold["disk_limit_bytes"] != 0 {
		t.Errorf("disk: spin %v, hold %v", spin, hold)
	}
	// The task's shells and programs (with the executor host, the
	// executor is no process of the container's; with a supervisor, it and
	// the executor count too).
	if hold["processes"] < 3 || hold["threads"] < hold["processes"] {
		t.Errorf("hold: processes %v, threads %v", hold["processes"], hold["threads"])
	}
	if now := float64(time.Now().Unix()); spin["timestamp"] < now-60 || spin["timestamp"] > now+60 {
		t.Errorf("timestamp %v", spin["timestamp"])
	}
	eventually(t, "spin's CPU time to grow", func() bool {
		return statisticsOf(t, a)["spin"]["cpus_user_time_secs"] >= spin["cpus_user_time_secs"]+0.2
	})

	// The document's form: keys as Mesos sorts them, only fields that
	// are set, Mesos's number forms; ?jsonp= wraps it.
	_, body := getBody(t, a, "/monitor/statistics.json")
	t.Logf("/monitor/statistics.json: %s", body)
	if !regexp.MustCompile(`^\[\{"executor_id":"[^"]+","executor_name":"[^"]*","framework_id":"[^"]+","source":"[^"]*","statistics":\{"cpus_limit":[0-9.]+,"cpus_system_time_secs":`).MatchString(body) {
		t.Errorf("/monitor/statistics.json = %s", body)
	}
	var entries []map[string]json.RawMessage
	if err := json.Unmarshal([]byte(body), &entries); err != nil || len(entries) != 2 {
		t.Fatalf("%v: %s", err, body)
	}
	for _, e := range entries {
		var keys []string
		for _, k := range regexp.MustCompile(`"([a-z_]+)":`).FindAllStringSubmatch(string(e["statistics"]), -1) {
			keys = append(keys, k[1])
		}
		if !sortedStrings(keys) || strings.Contains(string(e["statistics"]), "net_") {
			t.Errorf("statistics keys %v", keys)
		}
		if !regexp.MustCompile(`"cpus_limit":\d+\.\d+`).Match(e["statistics"]) {
			t.Errorf("cpus_limit is not written as a double: %s", e["statistics"])
		}
	}
	if _, body := getBody(t, a, "/monitor/statistics?jsonp=cb"); !strings.HasPrefix(body, "cb([{") || !strings.HasSuffix(body, "}]);") {
		t.Errorf("jsonp: %s", body)
	}

	// Over its disk, with enforcement.
	fm.send(runTask(task("writer", "head -c 3145728 /dev/zero > blob; exec sleep 1000", scalar("cpus", 0.1), scalar("mem", 32), scalar("disk", 1))))
	fm.ackUntilTerminal("writer")
	ups := fm.updatesFor("writer")
	st := ups[len(ups)-1].GetStatus()
	if st.GetState() != mesos.TaskState_TASK_FAILED || st.GetReason() != mesos.TaskStatus_REASON_CONTAINER_LIMITATION_DISK ||
		st.GetSource() != mesos.TaskStatus_SOURCE_AGENT || !regexp.MustCompile(`^Disk usage \(\d+(KB|MB)\) exceeds quota \(1MB\)$`).MatchString(st.GetMessage()) {
		t.Errorf("writer ended %v", st)
	}
	var flags struct{ Flags map[string]string }
	getJSON(t, a, "/flags", &flags)
	if flags.Flags["isolation"] != "posix/cpu,posix/mem,disk/du" || flags.Flags["container_disk_watch_interval"] != "50ms" ||
		flags.Flags["enforce_container_disk_quota"] != "true" {
		t.Errorf("/flags: %v", flags.Flags)
	}

	// The Go API for the operator API.
	usage, err := a.Usage(t.Context())
	if err != nil || len(usage) != 2 {
		t.Fatalf("Usage: %v, %v", usage, err)
	}
	for _, u := range usage {
		st, err := a.ContainerStatistics(u.ContainerID)
		if err != nil || st.GetTimestamp() < u.Statistics.GetTimestamp() {
			t.Errorf("ContainerStatistics(%s) = %v, %v", u.ContainerID, st, err)
		}
	}
	fm.send(killTask("spin", 0))
	fm.send(killTask("hold", 0))
	fm.waitUpdate("spin", mesos.TaskState_TASK_KILLED)
	fm.waitUpdate("hold", mesos.TaskState_TASK_KILLED)
	eventually(t, "no statistics once the tasks are gone", func() bool { return len(statisticsOf(t, a)) == 0 })
}

func sortedStrings(s []string) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] >= s[i] {
			return false
		}
	}
	return true
}

// A restarted agent measures the containers it recovered again: the disk
// isolator adopts their sandboxes, and their resources (disk, cpus, mem)
// reach the containerizer again right after recovery.
func TestMonitorStatisticsAfterRecovery(t *testing.T) {
	checkLeaks(t)
	isolation := func(c *Config) {
		isolators, resolved, err := containerizer.IsolatorsFor("posix/cpu,posix/mem,disk/du", containerizer.CgroupsOptions{
			Disk: containerizer.DiskOptions{WatchInterval: 50 * time.Millisecond},
		})
		if err != nil {
			t.Fatal(err)
		}
		c.Isolators, c.Isolation = isolators, resolved
	}
	fm := newFakeMaster(t)
	dir := t.TempDir()
	a := startAgent(t, fm, func(c *Config) { c.WorkDir = dir; isolation(c) })
	agentID := a.registered(t)
	task := commandTask("kept", agentID, `head -c 2097152 /dev/zero > blob; exec sleep 1000`)
	task.Resources = append(task.Resources, scalar("disk", 16))
	fm.send(runTaskOf("fw-1", true, task))
	waitRunning(t, fm, "kept")
	eventually(t, "the sandbox to be measured", func() bool { return statisticsOf(t, a)["kept"]["disk_used_bytes"] >= 2<<20 })
	a.exit(t)

	subs := len(fm.subscriptions())
	b := startAgent(t, fm, func(c *Config) { c.WorkDir = dir; c.Port = a.port; isolation(c) })
	fm.waitFor("re-registration", func() bool { return len(fm.subs) > subs })
	var st map[string]float64
	eventually(t, "the recovered sandbox to be measured", func() bool {
		st = statisticsOf(t, b)["kept"]
		return st["disk_used_bytes"] >= 2<<20
	})
	if st["disk_limit_bytes"] != 16<<20 || st["cpus_limit"] < 0.1 || st["mem_limit_bytes"] < 32<<20 || st["processes"] < 1 {
		t.Errorf("recovered container's statistics: %v", st)
	}
	fm.send(killTask("kept", 0))
	fm.ack(fm.waitUpdate("kept", mesos.TaskState_TASK_KILLED))
}
