package webui_test

// The UI in a real headless browser against a stand-in master and agent
// that answer with the documented operator-API and /files shapes (facts
// §3.2, §4.5): the RecordIO stream split across reads, live events, the
// task filters, the sandbox tail, and a follower handing the UI to the
// leader. test/e2e runs the same UI against a real cluster.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gomesos/gomesos/internal/browsertest"
	"github.com/gomesos/gomesos/webui"
)

// fakeAgent serves sandboxes under /sb/<executor>: the files the test
// writes, their directories implied by their paths.
type fakeAgent struct {
	srv       *httptest.Server
	fw        string
	mu        sync.Mutex
	files     map[string]string // path -> content
	executors []any             // the framework's executors in /state
}

func (a *fakeAgent) write(path, s string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.files[path] += s
}

// addExecutor adds an executor running tasks, with a stdout and a stderr
// in its sandbox and, for a task group, in each task's, tasks/<task>.
func (a *fakeAgent) addExecutor(id string, group bool, tasks ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	dir := "/sb/" + id
	var ts []any
	for _, t := range tasks {
		ts = append(ts, map[string]any{"id": t})
		if group {
			a.files[dir+"/tasks/"+t+"/stdout"] += ""
			a.files[dir+"/tasks/"+t+"/stderr"] += ""
		}
	}
	a.files[dir+"/stdout"] += ""
	a.files[dir+"/stderr"] += ""
	a.executors = append(a.executors, map[string]any{"id": id, "directory": dir, "tasks": ts})
}

func startAgent(t *testing.T, fw, task string) *fakeAgent {
	a := &fakeAgent{fw: fw, files: map[string]string{}}
	a.addExecutor(task, false, task)
	mux := http.NewServeMux()
	reply := func(w http.ResponseWriter, v any) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(v)
	}
	mux.HandleFunc("/state", func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		defer a.mu.Unlock()
		reply(w, map[string]any{"frameworks": []any{map[string]any{"id": a.fw, "executors": a.executors}}})
	})
	mux.HandleFunc("/files/browse", func(w http.ResponseWriter, r *http.Request) {
		dir := r.URL.Query().Get("path")
		a.mu.Lock()
		defer a.mu.Unlock()
		entries := map[string]map[string]any{}
		for p, data := range a.files {
			rest, ok := strings.CutPrefix(p, dir+"/")
			if !ok {
				continue
			}
			if sub, _, nested := strings.Cut(rest, "/"); nested {
				entries[sub] = map[string]any{"path": dir + "/" + sub, "nlink": 2, "size": 4096, "mtime": 1.7e9, "mode": "drwxr-xr-x", "uid": "root", "gid": "root"}
			} else {
				entries[rest] = map[string]any{"path": p, "nlink": 1, "size": len(data), "mtime": 1.7e9, "mode": "-rw-r--r--", "uid": "root", "gid": "root"}
			}
		}
		if len(entries) == 0 {
			http.NotFound(w, r)
			return
		}
		var list []any
		for _, e := range entries {
			list = append(list, e)
		}
		reply(w, list)
	})
	mux.HandleFunc("/files/read", func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		a.mu.Lock()
		data, ok := a.files[q.Get("path")]
		a.mu.Unlock()
		if !ok {
			http.NotFound(w, r)
			return
		}
		off, err := strconv.Atoi(q.Get("offset"))
		if err != nil {
			http.Error(w, "bad offset", http.StatusBadRequest)
			return
		}
		if off == -1 {
			reply(w, map[string]any{"offset": len(data), "data": ""})
			return
		}
		off = min(off, len(data))
		reply(w, map[string]any{"offset": off, "data": data[off:]})
	})
	a.srv = httptest.NewServer(mux)
	t.Cleanup(a.srv.Close)
	return a
}

// fakeMaster answers the operator calls the UI makes and streams the
// events the test pushes.
type fakeMaster struct {
	srv    *httptest.Server
	state  map[string]any
	events chan map[string]any
}

func scalar(name string, v float64, role string) map[string]any {
	r := map[string]any{"name": name, "type": "SCALAR", "scalar": map[string]any{"value": v}}
	if role != "" {
		r["allocation_info"] = map[string]any{"role": role}
	}
	return r
}

func value(s string) map[string]any { return map[string]any{"value": s} }

func task(fw, agent, id, state string) map[string]any {
	return map[string]any{
		"name": id, "task_id": value(id), "framework_id": value(fw), "agent_id": value(agent), "state": state,
		"resources": []any{scalar("cpus", 0.5, "web"), scalar("mem", 128, "web")},
		"statuses":  []any{map[string]any{"task_id": value(id), "state": state, "timestamp": float64(time.Now().Unix())}},
	}
}

func startMaster(t *testing.T, agent *fakeAgent, fw string) *fakeMaster {
	m := &fakeMaster{events: make(chan map[string]any, 16)}
	agentAddr := strings.TrimPrefix(agent.srv.URL, "http://")
	m.state = map[string]any{
		"get_agents": map[string]any{"agents": []any{map[string]any{
			"agent_info": map[string]any{"hostname": "node-1", "port": 5051, "id": value("A1"),
				"attributes": []any{map[string]any{"name": "rack", "type": "TEXT", "text": value("r1")}}},
			"active": true, "pid": "slave(1)@" + agentAddr, "registered_time": map[string]any{"nanoseconds": time.Now().UnixNano()},
			"total_resources":     []any{scalar("cpus", 4, ""), scalar("mem", 8192, ""), scalar("disk", 100000, "")},
			"allocated_resources": []any{scalar("cpus", 0.5, "web"), scalar("mem", 128, "web")},
			"offered_resources":   []any{scalar("cpus", 1, "web")},
		}, map[string]any{
			"agent_info": map[string]any{"hostname": "node-9", "port": 5051, "id": value("A2")},
			"active":     true, "deactivated": true, "pid": "slave(1)@10.0.0.9:5051",
			"drain_info":      map[string]any{"state": "DRAINING", "config": map[string]any{"mark_gone": true}},
			"total_resources": []any{scalar("cpus", 2, "")},
		}}},
		"get_frameworks": map[string]any{"frameworks": []any{map[string]any{
			"framework_info": map[string]any{"user": "root", "name": "web-scheduler ✓", "id": value(fw), "roles": []any{"web"}},
			"active":         true, "connected": true, "registered_time": map[string]any{"nanoseconds": time.Now().UnixNano()},
		}}},
		"get_tasks":     map[string]any{"tasks": []any{task(fw, "A1", "t-running", "TASK_RUNNING")}},
		"get_executors": map[string]any{},
	}
	mux := http.NewServeMux()
	mux.Handle("/", webui.Handler())
	mux.HandleFunc("/api/v1", func(w http.ResponseWriter, r *http.Request) {
		var call struct{ Type string }
		if err := json.NewDecoder(r.Body).Decode(&call); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		switch call.Type {
		case "SUBSCRIBE":
			m.subscribe(w, r)
		case "GET_AGENTS":
			_ = json.NewEncoder(w).Encode(map[string]any{"type": "GET_AGENTS", "get_agents": m.state["get_agents"]})
		case "GET_FLAGS":
			_ = json.NewEncoder(w).Encode(map[string]any{"type": "GET_FLAGS", "get_flags": map[string]any{"flags": []any{map[string]any{"name": "port", "value": "5050"}}}})
		case "GET_FRAMEWORKS":
			_ = json.NewEncoder(w).Encode(map[string]any{"type": "GET_FRAMEWORKS", "get_frameworks": m.state["get_frameworks"]})
		case "GET_MASTER":
			_ = json.NewEncoder(w).Encode(map[string]any{"type": "GET_MASTER", "get_master": map[string]any{
				"master_info": map[string]any{"id": "M1", "ip": 16777343, "port": 5050, "hostname": "master-1", "pid": "master@127.0.0.1:5050"}}})
		case "GET_ROLES":
			_ = json.NewEncoder(w).Encode(map[string]any{"type": "GET_ROLES", "get_roles": map[string]any{"roles": []any{
				map[string]any{"name": "web", "weight": 2.0, "frameworks": []any{value(fw)}, "resources": []any{scalar("cpus", 0.5, "web")}},
				map[string]any{"name": "batch", "weight": 1.0},
			}}})
		case "GET_WEIGHTS":
			_ = json.NewEncoder(w).Encode(map[string]any{"type": "GET_WEIGHTS", "get_weights": map[string]any{"weight_infos": []any{map[string]any{"role": "web", "weight": 2.0}}}})
		case "GET_QUOTA":
			_ = json.NewEncoder(w).Encode(map[string]any{"type": "GET_QUOTA", "get_quota": map[string]any{"status": map[string]any{"configs": []any{
				map[string]any{"role": "web", "guarantees": map[string]any{"cpus": value2(1)}, "limits": map[string]any{"cpus": value2(3)}}}}}})
		case "GET_MAINTENANCE_STATUS":
			_ = json.NewEncoder(w).Encode(map[string]any{"type": "GET_MAINTENANCE_STATUS", "get_maintenance_status": map[string]any{"status": map[string]any{
				"draining_machines": []any{map[string]any{"id": map[string]any{"hostname": "node-9", "ip": "10.0.0.9"}}}}}})
		case "GET_MAINTENANCE_SCHEDULE":
			_ = json.NewEncoder(w).Encode(map[string]any{"type": "GET_MAINTENANCE_SCHEDULE", "get_maintenance_schedule": map[string]any{"schedule": map[string]any{
				"windows": []any{map[string]any{"machine_ids": []any{map[string]any{"hostname": "node-9", "ip": "10.0.0.9"}},
					"unavailability": map[string]any{"start": map[string]any{"nanoseconds": time.Now().Add(time.Hour).UnixNano()},
						"duration": map[string]any{"nanoseconds": int64(2 * time.Hour)}}}}}}})
		default:
			http.Error(w, "unexpected call "+call.Type, http.StatusBadRequest)
		}
	})
	m.srv = httptest.NewServer(mux)
	t.Cleanup(m.srv.Close)
	return m
}

func value2(v float64) map[string]any { return map[string]any{"value": v} }

// subscribe writes SUBSCRIBED in three pieces, cut inside its length and
// inside a character of several bytes (the parser must join them, and
// count bytes, not characters), then each pushed event, two records in one
// write now and then.
func (m *fakeMaster) subscribe(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	record := func(ev map[string]any) []byte {
		b, _ := json.Marshal(ev)
		return []byte(fmt.Sprintf("%d\n%s", len(b), b))
	}
	first := record(map[string]any{"type": "SUBSCRIBED", "subscribed": map[string]any{"get_state": m.state, "heartbeat_interval_seconds": 15}})
	mid := bytes.Index(first, []byte("✓")) + 1
	for _, piece := range [][]byte{first[:2], first[2:mid], first[mid:]} {
		_, _ = w.Write(piece)
		_ = rc.Flush()
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case ev := <-m.events:
			out := record(ev)
			if len(m.events) > 0 {
				out = append(out, record(<-m.events)...)
			}
			_, _ = w.Write(out)
			_ = rc.Flush()
		}
	}
}

func TestUIAgainstTheDocumentedOperatorAPI(t *testing.T) {
	const fw = "F1"
	agent := startAgent(t, fw, "t-new")
	agent.write("/sb/t-new/stdout", "line one ünïcode\n")
	m := startMaster(t, agent, fw)
	ctx := browsertest.New(t)
	shots := browsertest.ScreenshotDir(t)
	wait := patience
	poll := func(what, expr string) {
		t.Helper()
		browsertest.WaitTrue(t, ctx, what, wait, expr)
	}

	browsertest.Do(t, ctx, "opening the tasks page", wait, chromedp.Navigate(m.srv.URL+"/#/tasks"),
		chromedp.WaitVisible(`tr[data-task-id="t-running"][data-state="TASK_RUNNING"]`))
	poll("the framework's name", `document.querySelector('tr[data-task-id="t-running"]').textContent.includes('web-scheduler ✓')`)
	poll("the header naming the leader", `document.querySelector('#leader-text')?.textContent.includes('master-1:5050')`)

	// Live: a task added and updated by the stream shows without a reload.
	m.events <- map[string]any{"type": "HEARTBEAT"}
	m.events <- map[string]any{"type": "TASK_ADDED", "task_added": map[string]any{"task": task(fw, "A1", "t-new", "TASK_STAGING")}}
	poll("the new task", `!!document.querySelector('tr[data-task-id="t-new"][data-state="TASK_STAGING"]')`)
	m.events <- map[string]any{"type": "TASK_UPDATED", "task_updated": map[string]any{"framework_id": value(fw), "state": "TASK_RUNNING",
		"status": map[string]any{"task_id": value("t-new"), "state": "TASK_RUNNING", "timestamp": float64(time.Now().Unix())}}}
	poll("the task running", `!!document.querySelector('tr[data-task-id="t-new"][data-state="TASK_RUNNING"]')`)

	// Search and state filters.
	browsertest.Do(t, ctx, "searching", wait, chromedp.SendKeys(`#task-search`, "t-new"))
	poll("the search leaving one task", `document.querySelectorAll('tr[data-task-id]').length === 1 && !!document.querySelector('tr[data-task-id="t-new"]')`)
	m.events <- map[string]any{"type": "TASK_UPDATED", "task_updated": map[string]any{"framework_id": value(fw), "state": "TASK_FINISHED",
		"status": map[string]any{"task_id": value("t-running"), "state": "TASK_FINISHED", "timestamp": float64(time.Now().Unix())}}}
	poll("the task finishing", `document.querySelector('#task-groups')?.textContent.includes('Completed 1')`)
	browsertest.Do(t, ctx, "clearing the search, picking completed", wait,
		chromedp.Evaluate[chromedp.Void](`{const i = document.querySelector('#task-search'); i.value = ''; i.dispatchEvent(new Event('input'))}`),
		chromedp.Click(`button[data-group="completed"]`))
	poll("only the finished task", `document.querySelectorAll('tr[data-task-id]').length === 1 && !!document.querySelector('tr[data-task-id="t-running"][data-state="TASK_FINISHED"]')`)
	browsertest.Screenshot(t, ctx, shots, "fake-tasks")

	// The sandbox: stdout is tailed, growing as the file grows.
	browsertest.Do(t, ctx, "opening the task", wait, chromedp.Navigate(m.srv.URL+"/#/task/F1/t-new"))
	poll("stdout", `document.querySelector('#log')?.textContent.includes('line one ünïcode')`)
	agent.write("/sb/t-new/stdout", "line two\n")
	poll("the tail", `document.querySelector('#log')?.textContent.endsWith('line one ünïcode\nline two\n')`)
	poll("the file list", `[...document.querySelectorAll('#file-list a')].map(a => a.textContent.trim()).join() === 'stderr,stdout'`)
	poll("the download link", `document.querySelector('#download').href === '`+agent.srv.URL+`/files/download?path=%2Fsb%2Ft-new%2Fstdout'`)
	browsertest.Screenshot(t, ctx, shots, "fake-task")

	// Overview, agents, roles and maintenance render what the calls said.
	browsertest.Do(t, ctx, "the overview", wait, chromedp.Navigate(m.srv.URL+"/#/"))
	poll("one active task", `document.querySelector('#active-tasks')?.textContent === '1'`)
	poll("the charts", `document.querySelectorAll('svg.chart').length === 6`)
	poll("the web role's use and offers", `[...document.querySelectorAll('tr[data-role="web"] td')].map(td => td.textContent.trim()).slice(0, 5).join() === 'web,0.5,1,128 MB,0 MB'`)
	browsertest.Screenshot(t, ctx, shots, "fake-overview")
	browsertest.Do(t, ctx, "the agents", wait, chromedp.Navigate(m.srv.URL+"/#/agents"), chromedp.WaitVisible(`tr[data-agent-id="A1"]`))
	poll("the agent's attribute", `document.querySelector('tr[data-agent-id="A1"]').textContent.includes('rack:r1')`)
	poll("the draining agent's badge", `document.querySelector('tr[data-agent-id="A2"] .badge').textContent === 'draining'`)
	browsertest.Screenshot(t, ctx, shots, "fake-agents")
	browsertest.Do(t, ctx, "the frameworks", wait, chromedp.Navigate(m.srv.URL+"/#/frameworks"), chromedp.WaitVisible(`tr[data-framework-id="F1"]`))
	poll("the framework's running task and what it uses", `[...document.querySelectorAll('tr[data-framework-id="F1"] td')].map(td => td.textContent.trim()).slice(4, 7).join() === '1,0.5,128 MB'`)
	browsertest.Do(t, ctx, "the roles", wait, chromedp.Navigate(m.srv.URL+"/#/roles"), chromedp.WaitVisible(`tr[data-role="web"]`))
	poll("the role's quota", `document.querySelector('tr[data-role="web"]').textContent.includes('cpus 3')`)
	browsertest.Screenshot(t, ctx, shots, "fake-roles")
	browsertest.Do(t, ctx, "the maintenance", wait, chromedp.Navigate(m.srv.URL+"/#/maintenance"))
	poll("the draining machine", `document.querySelector('#mnt-draining')?.textContent.includes('node-9 / 10.0.0.9')`)
	poll("the window", `document.querySelector('#mnt-schedule')?.textContent.includes('2.0 h')`)
	poll("the draining agent", `[...document.querySelectorAll('#mnt-agents tbody tr:not(.empty) td')].map(td => td.textContent.trim()).slice(0, 3).join() === 'node-9,draining,yes'`)
	browsertest.Screenshot(t, ctx, shots, "fake-maintenance")

	// An unknown route, even a malformed one, says so.
	browsertest.Do(t, ctx, "an unknown page", wait, chromedp.Navigate(m.srv.URL+"/#/nowhere/%E0%A4%A"))
	poll("not found", `document.querySelector('#view h2')?.textContent === 'Not found'`)
	browsertest.Do(t, ctx, "a malformed task", wait, chromedp.Navigate(m.srv.URL+"/#/task/F1/%E0%A4%A"))
	poll("the task unknown", `document.querySelector('#task-summary')?.textContent.includes('does not know this task')`)

	// A dropped stream is picked up again, from a new SUBSCRIBED.
	m.srv.CloseClientConnections()
	poll("reconnecting", `document.querySelector('#conn-dot').className !== 'dot live'`)
	poll("live again", `document.querySelector('#conn-dot').className === 'dot live'`)
}

// A follower redirects /api/v1 (307) and names the leader in /master/state;
// the UI opened there goes to the leader's.
func TestUIOnAFollowerGoesToTheLeader(t *testing.T) {
	agent := startAgent(t, "F1", "t-new")
	leader := startMaster(t, agent, "F1")
	leaderAddr := strings.TrimPrefix(leader.srv.URL, "http://")
	mux := http.NewServeMux()
	mux.Handle("/", webui.Handler())
	mux.HandleFunc("/api/v1", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "//"+leaderAddr+"/api/v1")
		w.WriteHeader(http.StatusTemporaryRedirect)
	})
	mux.HandleFunc("/master/state", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"pid": "master@follower:5050", "leader": "master@" + leaderAddr})
	})
	follower := httptest.NewServer(mux)
	defer follower.Close()
	// Another origin than the leader's: localhost rather than 127.0.0.1.
	u, _ := url.Parse(follower.URL)
	start := "http://localhost:" + u.Port() + "/#/agents"

	ctx := browsertest.New(t)
	browsertest.Do(t, ctx, "opening the UI at the follower", patience, chromedp.Navigate(start),
		chromedp.WaitVisible(`tr[data-agent-id="A1"]`))
	loc := browsertest.Location(t, ctx)
	if want := leader.srv.URL + "/#/agents"; loc != want {
		t.Errorf("the UI is at %s, want the leader's %s", loc, want)
	}
}

// A table shows at most 500 rows, says so, and the search reaches the rest.
func TestUITaskTableShowsAtMost500Rows(t *testing.T) {
	agent := startAgent(t, "F1", "t-new")
	m := startMaster(t, agent, "F1")
	tasks := []any{}
	for i := range 600 {
		tasks = append(tasks, task("F1", "A1", fmt.Sprintf("t-%04d", i), "TASK_FINISHED"))
	}
	m.state["get_tasks"] = map[string]any{"completed_tasks": tasks}
	ctx := browsertest.New(t)
	browsertest.Do(t, ctx, "opening the tasks page", patience, chromedp.Navigate(m.srv.URL+"/#/tasks"))
	browsertest.WaitTrue(t, ctx, "500 rows and a note", patience,
		`document.querySelectorAll('tr[data-task-id]').length === 500 && document.querySelector('tr.more').textContent.includes('Showing 500 of 600')`)
	browsertest.Do(t, ctx, "searching", patience, chromedp.SendKeys(`#task-search`, "t-0599"))
	browsertest.WaitTrue(t, ctx, "the one task", patience,
		`document.querySelectorAll('tr[data-task-id]').length === 1 && !!document.querySelector('tr[data-task-id="t-0599"]') && !document.querySelector('tr.more')`)
}

// A task of a task group is shown its own sandbox, tasks/<task> inside its
// executor's, as Mesos's UI does.
func TestUITaskOfAGroupShowsItsOwnSandbox(t *testing.T) {
	agent := startAgent(t, "F1", "t-new")
	agent.addExecutor("grp", true, "g-1", "g-2")
	agent.write("/sb/grp/stdout", "the executor's\n")
	agent.write("/sb/grp/tasks/g-1/stdout", "g-1's own\n")
	m := startMaster(t, agent, "F1")
	g1 := task("F1", "A1", "g-1", "TASK_RUNNING")
	g1["executor_id"] = value("grp")
	m.state["get_tasks"] = map[string]any{"tasks": []any{g1}}
	ctx := browsertest.New(t)
	browsertest.Do(t, ctx, "opening the task", patience, chromedp.Navigate(m.srv.URL+"/#/task/F1/g-1"))
	browsertest.WaitTrue(t, ctx, "the task's stdout", patience,
		`document.querySelector('#log')?.textContent === "g-1's own\n" && !!document.querySelector('#sandbox-dir')?.textContent.endsWith(':/sb/grp/tasks/g-1')`)
}

// patience bounds each wait for the page: long, because a condition met
// ends the wait at once, and CI runs these tests beside the others on two
// processors.
const patience = 60 * time.Second

// A module that fails to load (a network change mid-load, a server's
// hiccup) would leave an empty page: the page
// reloads once and the UI comes up.
func TestUIReloadsOnceWhenAModuleFailsToLoad(t *testing.T) {
	var dropped atomic.Bool
	mux := http.NewServeMux()
	ui := webui.Handler()
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/static/js/store.js" && dropped.CompareAndSwap(false, true) {
			// (A dropped connection the browser retries on its own.)
			http.Error(w, "gone for a moment", http.StatusServiceUnavailable)
			return
		}
		ui.ServeHTTP(w, r)
	}))
	mux.HandleFunc("/api/v1", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "not here", http.StatusServiceUnavailable)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	ctx := browsertest.New(t)
	browsertest.Do(t, ctx, "opening the UI", patience, chromedp.Navigate(srv.URL+"/#/tasks"))
	browsertest.WaitTrue(t, ctx, "the tasks view", patience, `document.querySelector('#view')?.dataset.view === 'tasks'`)
	if !dropped.Load() {
		t.Fatal("the module's first load was never dropped")
	}
}
