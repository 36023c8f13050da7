package master_test

// The legacy JSON endpoints (facts §4): what they answer, and that every
// key Mesos sends for what we implement is there (compared with responses
// captured from Mesos in testdata/mesos-samples).

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/master"
	"github.com/gomesos/gomesos/master/core"
)

// Mesos: /health answers 200 with an empty body; /version names the
// version and build; /master/redirect answers 307 with a protocol-relative
// Location of the leader (this master), and a sub-path of it is 404.
func TestHealthVersionRedirect(t *testing.T) {
	m := startMaster(t)

	for _, path := range []string{"/health", "/master/health"} {
		status, _, body := m.do(http.MethodGet, path, nil, nil)
		if status != http.StatusOK || body != "" {
			t.Errorf("GET %s = %d %q, want 200 and no body", path, status, body)
		}
	}

	v := m.getJSON("/version")
	if v["version"] != core.Version {
		t.Errorf("/version version = %v, want %s", v["version"], core.Version)
	}
	if missing := missingKeys(loadSample(t, "master_version.json"), v, "", nil); len(missing) > 0 {
		t.Errorf("/version lacks Mesos's keys %v", missing)
	}

	for _, path := range []string{"/master/redirect", "/redirect"} {
		status, header := m.doNoRedirect(path)
		want := "//" + m.Info().GetHostname() + ":" + strconv.Itoa(int(m.Info().GetPort()))
		if status != http.StatusTemporaryRedirect || header.Get("Location") != want {
			t.Errorf("GET %s = %d Location %q, want 307 %q", path, status, header.Get("Location"), want)
		}
	}
	if status, _ := m.doNoRedirect("/master/redirect/elsewhere"); status != http.StatusNotFound {
		t.Errorf("GET /master/redirect/elsewhere = %d, want 404", status)
	}
}

// Mesos: every GET JSON endpoint wraps its answer in a call to the jsonp
// callback when asked.
func TestJSONP(t *testing.T) {
	m := startMaster(t)
	for _, path := range []string{"/master/state", "/master/state-summary", "/master/frameworks", "/master/slaves", "/master/tasks", "/metrics/snapshot", "/version"} {
		status, header, body := m.do(http.MethodGet, path+"?jsonp=myCallback", nil, nil)
		if status != http.StatusOK {
			t.Errorf("GET %s with jsonp: %d %q", path, status, body)
			continue
		}
		if ct := header.Get("Content-Type"); !strings.Contains(ct, "javascript") {
			t.Errorf("GET %s with jsonp: Content-Type %q", path, ct)
		}
		inner, ok := strings.CutPrefix(body, "myCallback(")
		inner = strings.TrimRight(inner, ";")
		inner, ok2 := strings.CutSuffix(inner, ")")
		if !ok || !ok2 || !json.Valid([]byte(inner)) {
			t.Errorf("GET %s with jsonp: body %.80q is not myCallback(<json>)", path, body)
		}
	}
}

// The legacy endpoints show the cluster as it is: the agent with its
// resources, the framework with its tasks and offers, and /master/tasks
// pages through tasks with limit, offset and order.
func TestStateEndpointsDescribeTheCluster(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1.example.com", agentResources)
	s := subscribe(t, m, frameworkInfo("observed"), codec.JSON)

	// Three tasks, started one after another; then the second and the
	// first finish, in that order.
	for i, res := range []string{"cpus:0.1;mem:32", "cpus:0.2;mem:32", "cpus:0.3;mem:32"} {
		runTask(t, s, a, fmt.Sprintf("task-%d", i), res)
	}
	for _, id := range []string{"task-1", "task-0"} {
		s.acknowledge(s.nextUpdateAfter(a, id, mesos.TaskState_TASK_FINISHED))
		a.next(agentproto.MasterMessage_ACKNOWLEDGE)
	}
	// The finished tasks' resources come back in one allocation pass or in
	// two (an update can land between passes), so wait until everything
	// not in use is offered, in however many offers.
	var state map[string]any
	waitFor(t, "every free cpu offered", func() bool {
		state = m.getJSON("/master/state")
		fw := findByID(objects(state["frameworks"]), s.FrameworkID)
		offered, _ := fw["offered_resources"].(map[string]any)
		return offered["cpus"] == 1.7
	})

	if state["id"] != m.masterID() || state["hostname"] != m.Info().GetHostname() || state["pid"] != m.Info().GetPid() {
		t.Errorf("/master/state id/hostname/pid = %v/%v/%v", state["id"], state["hostname"], state["pid"])
	}
	if state["leader"] != m.Info().GetPid() || state["activated_slaves"] != 1.0 {
		t.Errorf("/master/state leader = %v, activated_slaves = %v", state["leader"], state["activated_slaves"])
	}
	slave := findByID(objects(state["slaves"]), a.ID)
	if slave == nil {
		t.Fatalf("/master/state slaves = %v, want %s", ids(objects(state["slaves"])), a.ID)
	}
	res, _ := slave["resources"].(map[string]any)
	if res["cpus"] != 2.0 || res["mem"] != 1024.0 || res["disk"] != 0.0 || res["gpus"] != 0.0 || res["ports"] != "[31000-32000]" {
		t.Errorf("slave resources = %v, want cpus 2, mem 1024, disk 0, gpus 0, ports [31000-32000]", res)
	}
	if used, _ := slave["used_resources"].(map[string]any); used["cpus"] != 0.3 {
		t.Errorf("slave used_resources = %v, want cpus 0.3", used)
	}
	if slave["pid"] != "slave(1)@agent1.example.com:5051" || slave["active"] != true {
		t.Errorf("slave pid = %v, active = %v", slave["pid"], slave["active"])
	}
	fw := findByID(objects(state["frameworks"]), s.FrameworkID)
	if fw == nil {
		t.Fatalf("/master/state frameworks = %v", ids(objects(state["frameworks"])))
	}
	if len(objects(fw["tasks"])) != 1 || len(objects(fw["completed_tasks"])) != 2 {
		t.Errorf("framework has %d tasks, %d completed; want 1, 2", len(objects(fw["tasks"])), len(objects(fw["completed_tasks"])))
	}
	offeredCPUs := 0.0
	for _, o := range objects(fw["offers"]) {
		res, _ := o["resources"].(map[string]any)
		cpus, _ := res["cpus"].(float64)
		offeredCPUs += cpus
	}
	if n := len(objects(fw["offers"])); n == 0 || math.Abs(offeredCPUs-1.7) > 1e-9 {
		t.Errorf("framework has %d offers of %v cpus in all, want the 1.7 cpus not in use", n, offeredCPUs)
	}
	if fw["role"] != "*" || fw["active"] != true || fw["connected"] != true || fw["user"] != "test" {
		t.Errorf("framework role/active/connected/user = %v/%v/%v/%v", fw["role"], fw["active"], fw["connected"], fw["user"])
	}
	offer := objects(fw["offers"])[0]
	if offer["slave_id"] != a.ID || offer["framework_id"] != s.FrameworkID {
		t.Errorf("offer = %v", offer)
	}
	task := objects(fw["tasks"])[0]
	if task["id"] != "task-2" || task["state"] != "TASK_RUNNING" || task["slave_id"] != a.ID || task["executor_id"] != "" || task["role"] != "*" {
		t.Errorf("running task = %v", task)
	}

	if slaves := objects(m.getJSON("/master/slaves?slave_id=" + a.ID)["slaves"]); len(slaves) != 1 {
		t.Errorf("/master/slaves?slave_id= lists %v", ids(slaves))
	}
	if slaves := objects(m.getJSON("/master/slaves?slave_id=nope")["slaves"]); len(slaves) != 0 {
		t.Errorf("/master/slaves?slave_id=nope lists %v", ids(slaves))
	}
	if fws := objects(m.getJSON("/master/frameworks?framework_id=" + s.FrameworkID)["frameworks"]); len(fws) != 1 {
		t.Errorf("/master/frameworks?framework_id= lists %v", ids(fws))
	}
	if fws := objects(m.getJSON("/master/frameworks?framework_id=nope")["frameworks"]); len(fws) != 0 {
		t.Errorf("/master/frameworks?framework_id=nope lists %v", ids(fws))
	}

	summary := m.getJSON("/master/state-summary")
	sslave := findByID(objects(summary["slaves"]), a.ID)
	if sslave["TASK_RUNNING"] != 1.0 || sslave["TASK_FINISHED"] != 2.0 {
		t.Errorf("state-summary slave counts RUNNING=%v FINISHED=%v, want 1 and 2", sslave["TASK_RUNNING"], sslave["TASK_FINISHED"])
	}
	sfw := findByID(objects(summary["frameworks"]), s.FrameworkID)
	if sfw["TASK_RUNNING"] != 1.0 || fmt.Sprint(sfw["slave_ids"]) != "["+a.ID+"]" {
		t.Errorf("state-summary framework = %v", sfw)
	}
	for _, key := range []string{"id", "name", "used_resources", "offered_resources", "capabilities", "hostname",
		"webui_url", "active", "connected", "recovered", "slave_ids", "TASK_STAGING", "TASK_UNREACHABLE"} {
		if _, ok := sfw[key]; !ok {
			t.Errorf("state-summary framework lacks %q", key)
		}
	}

	// /master/tasks: ordered by when each task started (its first
	// status), newest first by default.
	taskIDs := func(query string) string {
		return strings.Join(ids(objects(m.getJSON("/master/tasks" + query)["tasks"])), ",")
	}
	if got := taskIDs(""); got != "task-2,task-1,task-0" {
		t.Errorf("/master/tasks = %s, want task-2,task-1,task-0", got)
	}
	if got := taskIDs("?order=asc"); got != "task-0,task-1,task-2" {
		t.Errorf("/master/tasks?order=asc = %s", got)
	}
	if got := taskIDs("?limit=2"); got != "task-2,task-1" {
		t.Errorf("/master/tasks?limit=2 = %s", got)
	}
	if got := taskIDs("?limit=1&offset=1&order=asc"); got != "task-1" {
		t.Errorf("/master/tasks?limit=1&offset=1&order=asc = %s", got)
	}
	if got := taskIDs("?offset=5"); got != "" {
		t.Errorf("/master/tasks?offset=5 = %s, want none", got)
	}
	if got := taskIDs("?task_id=task-1"); got != "task-1" {
		t.Errorf("/master/tasks?task_id=task-1 = %s", got)
	}
	if got := taskIDs("?framework_id=nope"); got != "" {
		t.Errorf("/master/tasks?framework_id=nope = %s", got)
	}
	if got := taskIDs("?framework_id=" + s.FrameworkID + "&limit=1"); got != "task-2" {
		t.Errorf("/master/tasks?framework_id=..&limit=1 = %s", got)
	}
	for _, bad := range []string{"limit=abc", "limit=-1", "offset=x", "order=sideways"} {
		status, _, body := m.do(http.MethodGet, "/master/tasks?"+bad, nil, nil)
		if status != http.StatusBadRequest || body == "" {
			t.Errorf("/master/tasks?%s = %d %q, want 400 with a message", bad, status, body)
		}
	}
	if status, _, _ := m.do(http.MethodPost, "/master/state", nil, nil); status != http.StatusMethodNotAllowed {
		t.Errorf("POST /master/state = %d, want 405", status)
	}
}

// Key sets: every key of Mesos's answers is in ours, for what we implement.
// Deliberate omissions are listed (and skipped) below with the reason.
func TestLegacyEndpointsHaveMesosKeys(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1", agentResources)

	// A framework that ran a task to completion and then tore down, as in
	// the samples (mesos-execute), and one still running a task.
	done := subscribe(t, m, frameworkInfo("done"), codec.JSON)
	runTask(t, done, a, "finished", "cpus:0.1;mem:32")
	done.acknowledge(done.nextUpdateAfter(a, "finished", mesos.TaskState_TASK_FINISHED))
	a.next(agentproto.MasterMessage_ACKNOWLEDGE)
	done.call(&schedpb.Call{Type: schedpb.Call_TEARDOWN.Enum()})
	done.waitClosed()

	fi := frameworkInfo("running", mesos.FrameworkInfo_Capability_MULTI_ROLE)
	fi.Roles = []string{"*"}
	live := subscribe(t, m, fi, codec.JSON)
	runTask(t, live, a, "running", "cpus:0.1;mem:32")

	// What Gomesos does not have, on purpose:
	ignore := map[string]bool{
		"log_dir":           true, // no --log_dir: Gomesos logs to stderr
		"external_log_file": true, // likewise
		"flags":             true, // configuration values, not structure; /master/flags is tested separately
		// Only --cluster and --domain set these.
		"cluster": true, "domain": true,
		// Our ContainerStatus proto has no network_infos yet (the agent
		// reports no container networking).
		"completed_frameworks[].completed_tasks[].statuses[].container_status.network_infos": true,
		"tasks[].statuses[].container_status.network_infos":                                  true,
		// A framework has `roles` if it is MULTI_ROLE and `role` if not
		// (checked below); the samples have one kind each.
		"frameworks[].role": true, "frameworks[].roles": true,
		"completed_frameworks[].role": true, "completed_frameworks[].roles": true,
	}

	state := m.getJSON("/master/state")
	for _, sample := range []string{"master_state.json", "master_state_after_subscribe.json", "after-task/master_state_after_task.json"} {
		want := loadSample(t, sample)
		// Mesos lists active and completed frameworks with the same keys;
		// the samples only have completed ones, so check both of ours
		// against them.
		if c := objects(want["completed_frameworks"]); len(c) > 0 {
			want["frameworks"] = []any{c[0]}
		}
		if missing := missingKeys(want, state, "", ignore); len(missing) > 0 {
			t.Errorf("/master/state lacks keys of Mesos's %s: %v", sample, missing)
		}
	}
	if fw := findByID(objects(state["frameworks"]), live.FrameworkID); fmt.Sprint(fw["roles"]) != "[*]" || fw["role"] != nil {
		t.Errorf("MULTI_ROLE framework: roles = %v, role = %v; want roles [*] and no role", fw["roles"], fw["role"])
	}
	if fw := findByID(objects(state["completed_frameworks"]), done.FrameworkID); fw["role"] != "*" || fw["roles"] != nil {
		t.Errorf("framework without MULTI_ROLE: role = %v, roles = %v; want role * and no roles", fw["role"], fw["roles"])
	}
	// A completed task's statuses, as Mesos lists them.
	if missing := missingKeys(loadSample(t, "after-task/master_tasks.json"), m.getJSON("/master/tasks?order=asc"), "", ignore); len(missing) > 0 {
		t.Errorf("/master/tasks lacks keys of Mesos's: %v", missing)
	}
	if missing := missingKeys(loadSample(t, "master_state_summary.json"), m.getJSON("/master/state-summary"), "", ignore); len(missing) > 0 {
		t.Errorf("/master/state-summary lacks keys of Mesos's: %v", missing)
	}
	if missing := missingKeys(loadSample(t, "master_slaves.json"), m.getJSON("/master/slaves"), "", ignore); len(missing) > 0 {
		t.Errorf("/master/slaves lacks keys of Mesos's: %v", missing)
	}
	frameworks := m.getJSON("/master/frameworks")
	want := loadSample(t, "master_frameworks.json")
	stateSample := loadSample(t, "after-task/master_state_after_task.json")
	want["frameworks"] = stateSample["completed_frameworks"]
	want["completed_frameworks"] = stateSample["completed_frameworks"]
	if missing := missingKeys(want, frameworks, "", ignore); len(missing) > 0 {
		t.Errorf("/master/frameworks lacks keys of Mesos's: %v", missing)
	}

	// Metrics: Gomesos has no libprocess event queues of the allocator;
	// everything else Mesos reports is there.
	omitted := []string{
		"master/frameworks/",                        // the sample's framework; TestPerFrameworkMetrics compares the names
		"allocator/event_queue_dispatches",          // libprocess actor queues: the allocator is called
		"allocator/mesos/event_queue_dispatches",    //   synchronously from the master's loop
		"allocator/mesos/allocation_run_latency_ms", // the run is synchronous: latency == run time
	}
	metrics := map[string]any{}
	for k, v := range m.metrics() {
		metrics[k] = v
	}
	for _, sample := range []string{"master_metrics_snapshot.json", "master_metrics_snapshot_after_subscribe.json"} {
		var missing []string
		for _, k := range missingKeys(loadSample(t, sample), metrics, "", nil) {
			skip := false
			for _, p := range omitted {
				if strings.HasPrefix(k, p) {
					skip = true
				}
			}
			if !skip {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			t.Errorf("/metrics/snapshot lacks keys of Mesos's %s: %v", sample, missing)
		}
	}
}

// /master/flags shows the flags the master was configured with.
func TestFlags(t *testing.T) {
	m := startMaster(t, func(c *master.Config) {
		c.Flags = map[string]string{"allocation_interval": "50ms", "port": "0"}
	})
	flags, _ := m.getJSON("/master/flags")["flags"].(map[string]any)
	if flags["allocation_interval"] != "50ms" || flags["port"] != "0" {
		t.Errorf("/master/flags = %v", flags)
	}
	stateFlags, _ := m.getJSON("/master/state")["flags"].(map[string]any)
	if stateFlags["allocation_interval"] != "50ms" {
		t.Errorf("/master/state flags = %v", stateFlags)
	}
}

// doNoRedirect GETs path without following redirects.
func (m *testMaster) doNoRedirect(path string) (int, http.Header) {
	m.t.Helper()
	client := &http.Client{Transport: m.tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Get(m.URL() + path)
	if err != nil {
		m.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header
}

// nextUpdateAfter has the agent report a task's state and returns the
// framework's UPDATE for it.
func (s *scheduler) nextUpdateAfter(a *fakeAgent, taskID string, state mesos.TaskState) *mesos.TaskStatus {
	s.t.Helper()
	a.update(s.FrameworkID, taskID, state)
	st := s.nextUpdate()
	if st.GetTaskId().GetValue() != taskID || st.GetState() != state {
		s.t.Fatalf("UPDATE = %v, want %s of %s", st, state, taskID)
	}
	return st
}

// /metrics/snapshot counts revocable resources apart, as Mesos does:
// master/cpus_total is the non-revocable cpus, master/cpus_revocable_total
// the revocable ones; and a master that leads says master/elected 1.
func TestMetricsCountRevocableResourcesApart(t *testing.T) {
	m := startMaster(t)
	res := resourcesProto("cpus:2;mem:1024")
	res = append(res, &mesos.Resource{
		Name: proto.String("cpus"), Type: mesos.Value_SCALAR.Enum(),
		Scalar: &mesos.Value_Scalar{Value: proto.Float64(3)}, Revocable: &mesos.Resource_RevocableInfo{},
	})
	connectAgent(t, m, &agentproto.AgentMessage{
		Type: agentproto.AgentMessage_REGISTER.Enum(),
		Register: &agentproto.AgentMessage_Register{
			AgentInfo: &mesos.AgentInfo{Hostname: proto.String("rev.example.com"), Port: proto.Int32(5051), Resources: res},
			Version:   proto.String(core.Version),
		},
	})
	got := m.metrics()
	for name, want := range map[string]float64{
		"master/cpus_total": 2, "master/cpus_revocable_total": 3, "master/cpus_revocable_used": 0,
		"master/mem_total": 1024, "master/mem_revocable_total": 0, "master/elected": 1,
	} {
		if got[name] != want {
			t.Errorf("%s = %v, want %v", name, got[name], want)
		}
	}
}
