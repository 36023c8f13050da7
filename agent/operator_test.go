package agent

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	agentpb "github.com/gomesos/gomesos/api/v1/agent"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/internal/verbosity"
)

// postAPI sends a request to the agent's POST /api/v1 (or to path).
func postAPI(t *testing.T, a *testAgent, path, method, contentType, accept string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+a.Addr()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, out
}

// callJSON sends a JSON call and returns the status and the body.
func callJSON(t *testing.T, a *testAgent, body string) (int, string) {
	t.Helper()
	code, _, out := postAPI(t, a, "/api/v1", "POST", codec.MediaJSON, "", []byte(body))
	return code, string(out)
}

// mustCall sends call in enc, accepting enc, and decodes the 200 answer.
func mustCall(t *testing.T, a *testAgent, enc codec.Encoding, call *agentpb.Call) (*agentpb.Response, []byte) {
	t.Helper()
	body, err := codec.Marshal(enc, call)
	if err != nil {
		t.Fatal(err)
	}
	code, h, out := postAPI(t, a, "/api/v1", "POST", enc.ContentType(), enc.ContentType(), body)
	if code != http.StatusOK {
		t.Fatalf("%s in %s: %d %s", call.GetType(), enc, code, out)
	}
	if ct := h.Get("Content-Type"); ct != enc.ContentType() {
		t.Fatalf("%s: Content-Type %q, want %q", call.GetType(), ct, enc.ContentType())
	}
	resp := &agentpb.Response{}
	if err := codec.Unmarshal(enc, out, resp); err != nil {
		t.Fatalf("%s: decoding %q: %v", call.GetType(), out, err)
	}
	return resp, out
}

// sameJSON reports whether two messages read the same in Mesos's JSON (a
// decoded JSON message has the defaults JSON writes set explicitly).
func sameJSON(t *testing.T, a, b proto.Message) bool {
	t.Helper()
	ja, err := codec.MarshalJSON(a)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := codec.MarshalJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Equal(ja, jb)
}

func simpleCall(typ agentpb.Call_Type) *agentpb.Call { return &agentpb.Call{Type: typ.Enum()} }

func taskIDs(ts []*mesos.Task) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.GetTaskId().GetValue()+"/"+t.GetState().String())
	}
	return out
}

func TestOperatorAPIReadCalls(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	a := startAgent(t, fm, nil)
	agentID := a.registered(t)

	// The sleeper keeps the framework on while hello runs and completes.
	fm.send(runTask(commandTask("sleeper", agentID, "exec sleep 1000")))
	waitRunning(t, fm, "sleeper")
	fm.send(runTask(commandTask("hello", agentID, "echo hello")))
	fm.ack(fm.waitUpdate("hello", mesos.TaskState_TASK_STARTING))
	fm.ackUntilTerminal("hello")
	eventually(t, "hello's executor to complete", func() bool {
		var st stateJSONForTest
		getJSON(t, a, "/state", &st)
		return len(st.Frameworks) == 1 && len(st.Frameworks[0].Executors) == 1 && len(st.Frameworks[0].CompletedExecutors) == 1
	})

	// GET_HEALTH, exactly as Mesos writes it.
	if code, body := callJSON(t, a, `{"type":"GET_HEALTH"}`); code != 200 || body != `{"type":"GET_HEALTH","get_health":{"healthy":true}}` {
		t.Errorf("GET_HEALTH: %d %s", code, body)
	}
	// And under /slave(1).
	if code, _, body := postAPI(t, a, "/slave(1)/api/v1", "POST", codec.MediaJSON, "", []byte(`{"type":"GET_HEALTH"}`)); code != 200 || !strings.Contains(string(body), `"healthy":true`) {
		t.Errorf("/slave(1)/api/v1 GET_HEALTH: %d %s", code, body)
	}

	// GET_FLAGS: /flags's flags, by name.
	resp, _ := mustCall(t, a, codec.JSON, simpleCall(agentpb.Call_GET_FLAGS))
	var flags struct{ Flags map[string]string }
	getJSON(t, a, "/flags", &flags)
	got := map[string]string{}
	var names []string
	for _, f := range resp.GetGetFlags().GetFlags() {
		got[f.GetName()] = f.GetValue()
		names = append(names, f.GetName())
	}
	if len(got) != len(flags.Flags) || got["work_dir"] != a.cfg.WorkDir || got["hostname"] != "agent-under-test" || !sortedStrings(names) {
		t.Errorf("GET_FLAGS = %v, /flags = %v", got, flags.Flags)
	}

	// GET_VERSION: /version's document.
	resp, _ = mustCall(t, a, codec.JSON, simpleCall(agentpb.Call_GET_VERSION))
	var version map[string]any
	getJSON(t, a, "/version", &version)
	if vi := resp.GetGetVersion().GetVersionInfo(); vi.GetVersion() != version["version"] || vi.GetBuildUser() != version["build_user"] ||
		vi.GetBuildDate() != version["build_date"] {
		t.Errorf("GET_VERSION = %v, /version = %v", vi, version)
	}

	// GET_METRICS: /metrics/snapshot's figures.
	resp, _ = mustCall(t, a, codec.JSON, &agentpb.Call{Type: agentpb.Call_GET_METRICS.Enum(),
		GetMetrics: &agentpb.Call_GetMetrics{Timeout: &mesos.DurationInfo{Nanoseconds: proto.Int64(int64(5 * time.Second))}}})
	metrics := map[string]float64{}
	for _, m := range resp.GetGetMetrics().GetMetrics() {
		metrics[m.GetName()] = m.GetValue()
	}
	var snapshot map[string]float64
	getJSON(t, a, "/metrics/snapshot", &snapshot)
	for _, k := range []string{"slave/registered", "slave/tasks_running", "slave/tasks_finished", "slave/cpus_total", "system/cpus_total"} {
		if metrics[k] != snapshot[k] {
			t.Errorf("GET_METRICS %s = %v, /metrics/snapshot %v", k, metrics[k], snapshot[k])
		}
	}
	if len(metrics) != len(snapshot) || metrics["slave/registered"] != 1 || metrics["slave/tasks_running"] != 1 || metrics["slave/tasks_finished"] != 1 {
		t.Errorf("GET_METRICS = %v", metrics)
	}

	// GET_STATE in JSON and in protobuf: the same state, Mesos's shapes.
	stateJSON, raw := mustCall(t, a, codec.JSON, simpleCall(agentpb.Call_GET_STATE))
	if !strings.HasPrefix(string(raw), `{"type":"GET_STATE","get_state":{"get_tasks":{"launched_tasks":[{"name":"sleeper","task_id":{"value":"sleeper"},"framework_id":{"value":"fw-1"}`) {
		t.Errorf("GET_STATE JSON: %s", raw)
	}
	stateProto, _ := mustCall(t, a, codec.Protobuf, simpleCall(agentpb.Call_GET_STATE))
	if !sameJSON(t, stateJSON, stateProto) {
		t.Errorf("GET_STATE differs between JSON and protobuf:\n%v\n%v", stateJSON, stateProto)
	}
	gs := stateProto.GetGetState()
	tasks := gs.GetGetTasks()
	if l := taskIDs(tasks.GetLaunchedTasks()); len(l) != 1 || l[0] != "sleeper/TASK_RUNNING" {
		t.Errorf("launched tasks %v", l)
	}
	if c := taskIDs(tasks.GetCompletedTasks()); len(c) != 1 || c[0] != "hello/TASK_FINISHED" {
		t.Errorf("completed tasks %v", c)
	}
	if st := tasks.GetLaunchedTasks()[0].GetStatuses(); len(st) == 0 || st[len(st)-1].GetState() != mesos.TaskState_TASK_RUNNING {
		t.Errorf("sleeper's statuses %v", st)
	}
	if tasks.GetLaunchedTasks()[0].GetAgentId().GetValue() != agentID {
		t.Errorf("sleeper's agent_id %v", tasks.GetLaunchedTasks()[0].GetAgentId())
	}
	ex := gs.GetGetExecutors()
	if len(ex.GetExecutors()) != 1 || ex.GetExecutors()[0].GetExecutorInfo().GetExecutorId().GetValue() != "sleeper" ||
		len(ex.GetCompletedExecutors()) != 1 || ex.GetCompletedExecutors()[0].GetExecutorInfo().GetExecutorId().GetValue() != "hello" {
		t.Errorf("executors %v", ex)
	}
	fws := gs.GetGetFrameworks()
	if len(fws.GetFrameworks()) != 1 || fws.GetFrameworks()[0].GetFrameworkInfo().GetId().GetValue() != "fw-1" || len(fws.GetCompletedFrameworks()) != 0 {
		t.Errorf("frameworks %v", fws)
	}

	// Compressed for a client that asks (Go's client asks, and
	// decompresses, unless told otherwise).
	req, err := http.NewRequest("POST", "http://"+a.Addr()+"/api/v1", strings.NewReader(`{"type":"GET_STATE"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", codec.MediaJSON)
	req.Header.Set("Accept-Encoding", "gzip")
	zresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(zresp.Body)
	if err != nil || zresp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("GET_STATE with gzip: %v, headers %v", err, zresp.Header)
	}
	unzipped, err := io.ReadAll(zr)
	zresp.Body.Close()
	if _, plain := mustCall(t, a, codec.JSON, simpleCall(agentpb.Call_GET_STATE)); err != nil || !bytes.Equal(unzipped, plain) {
		t.Errorf("GET_STATE gzipped (%v):\n%s\nplain:\n%s", err, unzipped, plain)
	}

	// GET_TASKS, GET_EXECUTORS, GET_FRAMEWORKS: GET_STATE's parts.
	resp, _ = mustCall(t, a, codec.JSON, simpleCall(agentpb.Call_GET_TASKS))
	if resp.GetType() != agentpb.Response_GET_TASKS || !sameJSON(t, resp.GetGetTasks(), tasks) {
		t.Errorf("GET_TASKS = %v", resp)
	}
	resp, _ = mustCall(t, a, codec.JSON, simpleCall(agentpb.Call_GET_EXECUTORS))
	if resp.GetType() != agentpb.Response_GET_EXECUTORS || !sameJSON(t, resp.GetGetExecutors(), ex) {
		t.Errorf("GET_EXECUTORS = %v", resp)
	}
	resp, _ = mustCall(t, a, codec.JSON, simpleCall(agentpb.Call_GET_FRAMEWORKS))
	if resp.GetType() != agentpb.Response_GET_FRAMEWORKS || !sameJSON(t, resp.GetGetFrameworks(), fws) {
		t.Errorf("GET_FRAMEWORKS = %v", resp)
	}

	// GET_AGENT: the agent's AgentInfo, with its id.
	resp, _ = mustCall(t, a, codec.JSON, simpleCall(agentpb.Call_GET_AGENT))
	ai := resp.GetGetAgent().GetAgentInfo()
	if ai.GetId().GetValue() != agentID || ai.GetHostname() != "agent-under-test" || len(ai.GetResources()) == 0 || len(ai.GetAttributes()) != 2 {
		t.Errorf("GET_AGENT = %v", resp)
	}

	// GET_OPERATIONS: none.
	if code, body := callJSON(t, a, `{"type":"GET_OPERATIONS"}`); code != 200 || body != `{"type":"GET_OPERATIONS","get_operations":{}}` {
		t.Errorf("GET_OPERATIONS: %d %s", code, body)
	}

	// GET_CONTAINERS in both encodings: the sleeper's container, its
	// status and statistics.
	var st stateJSONForTest
	getJSON(t, a, "/state", &st)
	container := st.Frameworks[0].Executors[0].Container
	for _, enc := range []codec.Encoding{codec.JSON, codec.Protobuf} {
		resp, raw := mustCall(t, a, enc, simpleCall(agentpb.Call_GET_CONTAINERS))
		cs := resp.GetGetContainers().GetContainers()
		if len(cs) != 1 {
			t.Fatalf("GET_CONTAINERS in %s = %v", enc, resp)
		}
		c := cs[0]
		if c.GetContainerId().GetValue() != container || c.GetExecutorId().GetValue() != "sleeper" || c.GetFrameworkId().GetValue() != "fw-1" ||
			!strings.HasPrefix(c.GetExecutorName(), "Command Executor (Task: sleeper)") ||
			c.GetContainerStatus().GetContainerId().GetValue() != container || c.GetContainerStatus().GetExecutorPid() == 0 {
			t.Errorf("GET_CONTAINERS in %s = %v", enc, c)
		}
		rs := c.GetResourceStatistics()
		if rs == nil || rs.GetTimestamp() == 0 || rs.GetCpusLimit() == 0 || rs.GetMemLimitBytes() == 0 {
			t.Errorf("GET_CONTAINERS in %s: statistics %v", enc, rs)
		}
		if enc == codec.JSON && !strings.Contains(string(raw), `"resource_statistics":{"timestamp":`) {
			t.Errorf("GET_CONTAINERS JSON: %s", raw)
		}
	}

	// LIST_FILES and READ_FILE through the sandbox's virtual path.
	dir := "/frameworks/fw-1/executors/sleeper/runs/latest"
	resp, _ = mustCall(t, a, codec.JSON, &agentpb.Call{Type: agentpb.Call_LIST_FILES.Enum(), ListFiles: &agentpb.Call_ListFiles{Path: proto.String(dir)}})
	var stdout *mesos.FileInfo
	for _, fi := range resp.GetListFiles().GetFileInfos() {
		if fi.GetPath() == dir+"/stdout" {
			stdout = fi
		}
	}
	if stdout == nil || stdout.GetMode()&0o170000 != 0o100000 || stdout.GetMtime().GetNanoseconds() == 0 || stdout.GetUid() == "" || stdout.GetNlink() != 1 {
		t.Errorf("LIST_FILES = %v", resp)
	}
	if code, body := callJSON(t, a, `{"type":"LIST_FILES","list_files":{"path":"/frameworks/fw-1/nothing"}}`); code != 404 || !strings.Contains(body, "does not exist") {
		t.Errorf("LIST_FILES of a missing path: %d %s", code, body)
	}
	hello := "/frameworks/fw-1/executors/hello/runs/latest/stdout"
	read := func(offset uint64, length *uint64) *agentpb.Response_ReadFile {
		t.Helper()
		resp, _ := mustCall(t, a, codec.JSON, &agentpb.Call{Type: agentpb.Call_READ_FILE.Enum(),
			ReadFile: &agentpb.Call_ReadFile{Path: proto.String(hello), Offset: proto.Uint64(offset), Length: length}})
		return resp.GetReadFile()
	}
	if rf := read(0, nil); rf.GetSize() != 6 || string(rf.GetData()) != "hello\n" {
		t.Errorf("READ_FILE = %v", rf)
	}
	if rf := read(1, proto.Uint64(3)); rf.GetSize() != 6 || string(rf.GetData()) != "ell" {
		t.Errorf("READ_FILE 1+3 = %v", rf)
	}
	if rf := read(100, nil); rf.GetSize() != 6 || len(rf.GetData()) != 0 {
		t.Errorf("READ_FILE past the end = %v", rf)
	}
	if code, body := callJSON(t, a, `{"type":"READ_FILE","read_file":{"path":"/frameworks/fw-1/executors/hello/runs/latest/x","offset":0}}`); code != 404 {
		t.Errorf("READ_FILE of a missing path: %d %s", code, body)
	}
	if code, body := callJSON(t, a, `{"type":"READ_FILE","read_file":{"path":"`+dir+`","offset":0}}`); code != 400 || !strings.Contains(body, "directory") {
		t.Errorf("READ_FILE of a directory: %d %s", code, body)
	}
	if code, body := callJSON(t, a, `{"type":"READ_FILE","read_file":{"path":"/etc/passwd","offset":0}}`); code != 404 {
		t.Errorf("READ_FILE outside the sandboxes: %d %s", code, body)
	}
	// The JSON answer carries the data in base64.
	if _, raw := mustCall(t, a, codec.JSON, &agentpb.Call{Type: agentpb.Call_READ_FILE.Enum(),
		ReadFile: &agentpb.Call_ReadFile{Path: proto.String(hello), Offset: proto.Uint64(0)}}); string(raw) != `{"type":"READ_FILE","read_file":{"size":6,"data":"aGVsbG8K"}}` {
		t.Errorf("READ_FILE JSON: %s", raw)
	}

	fm.send(killTask("sleeper", 0))
	fm.ackUntilTerminal("sleeper")
	eventually(t, "no containers once the sleeper is gone", func() bool {
		resp, _ := mustCall(t, a, codec.JSON, simpleCall(agentpb.Call_GET_CONTAINERS))
		return len(resp.GetGetContainers().GetContainers()) == 0
	})
}

func TestOperatorAPILoggingLevel(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	lv := new(slog.LevelVar)
	lv.Set(slog.LevelWarn)
	a := startAgent(t, fm, func(c *Config) { c.Verbosity = verbosity.New(lv) })
	a.registered(t)

	level := func() uint32 {
		t.Helper()
		resp, _ := mustCall(t, a, codec.JSON, simpleCall(agentpb.Call_GET_LOGGING_LEVEL))
		if resp.GetType() != agentpb.Response_GET_LOGGING_LEVEL || resp.GetLoggingLevel == nil {
			t.Fatalf("GET_LOGGING_LEVEL = %v", resp)
		}
		return resp.GetGetLoggingLevel().GetLevel()
	}
	if code, body := callJSON(t, a, `{"type":"GET_LOGGING_LEVEL"}`); code != 200 || body != `{"type":"GET_LOGGING_LEVEL","get_logging_level":{"level":0}}` {
		t.Fatalf("GET_LOGGING_LEVEL: %d %s", code, body)
	}
	if code, body := callJSON(t, a, `{"type":"SET_LOGGING_LEVEL","set_logging_level":{"level":2,"duration":{"nanoseconds":3600000000000}}}`); code != 200 || body != "" {
		t.Fatalf("SET_LOGGING_LEVEL: %d %q", code, body)
	}
	if l := level(); l != 2 {
		t.Fatalf("level %d after SET 2", l)
	}
	if lv.Level() != slog.LevelDebug {
		t.Errorf("slog level %v with verbosity 2", lv.Level())
	}
	// A new SET replaces the first; its short duration ends and the level
	// reverts.
	if code, body := callJSON(t, a, `{"type":"SET_LOGGING_LEVEL","set_logging_level":{"level":1,"duration":{"nanoseconds":50000000}}}`); code != 200 {
		t.Fatalf("SET_LOGGING_LEVEL: %d %s", code, body)
	}
	eventually(t, "the level to revert", func() bool { return level() == 0 })
	if lv.Level() != slog.LevelWarn {
		t.Errorf("slog level %v after the revert, want WARN", lv.Level())
	}
}

func TestOperatorAPIBadInput(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	a := startAgent(t, fm, nil)
	agentID := a.registered(t)
	fm.send(runTask(commandTask("sleeper", agentID, "exec sleep 1000")))
	waitRunning(t, fm, "sleeper")
	before, _ := mustCall(t, a, codec.Protobuf, simpleCall(agentpb.Call_GET_STATE))

	garbage := []byte{0xff, 0xff, 0xff}
	for _, tc := range []struct {
		name, method, contentType, accept, body string
		code                                    int
		says                                    string
	}{
		{"GET", "GET", codec.MediaJSON, "", `{"type":"GET_HEALTH"}`, 405, "Expecting one of { 'POST' }"},
		{"no content type", "POST", "", "", `{"type":"GET_HEALTH"}`, 400, "Expecting 'Content-Type' to be present"},
		{"text content type", "POST", "text/plain", "", `{"type":"GET_HEALTH"}`, 415, "Expecting 'Content-Type' of application/json or application/x-protobuf"},
		{"malformed JSON", "POST", codec.MediaJSON, "", `{"type":`, 400, "Failed to parse body into JSON"},
		{"malformed protobuf", "POST", codec.MediaProtobuf, "", string(garbage), 400, "Failed to parse body into Call protobuf"},
		{"unknown type", "POST", codec.MediaJSON, "", `{"type":"BOGUS"}`, 400, "Expecting 'type' to be present"},
		{"no type", "POST", codec.MediaJSON, "", `{}`, 400, "Failed to validate agent::Call: Expecting 'type' to be present"},
		{"type of the wrong kind", "POST", codec.MediaJSON, "", `{"type":4}`, 400, "Failed to convert JSON into Call protobuf"},
		{"GET_METRICS without get_metrics", "POST", codec.MediaJSON, "", `{"type":"GET_METRICS"}`, 400, "Expecting 'get_metrics' to be present"},
		{"SET_LOGGING_LEVEL without set_logging_level", "POST", codec.MediaJSON, "", `{"type":"SET_LOGGING_LEVEL"}`, 400, "Expecting 'set_logging_level' to be present"},
		{"SET_LOGGING_LEVEL without duration", "POST", codec.MediaJSON, "", `{"type":"SET_LOGGING_LEVEL","set_logging_level":{"level":3}}`, 400, "duration"},
		{"SET_LOGGING_LEVEL with a negative duration", "POST", codec.MediaJSON, "", `{"type":"SET_LOGGING_LEVEL","set_logging_level":{"level":3,"duration":{"nanoseconds":-1}}}`, 400, "'set_logging_level.duration' must not be negative"},
		{"SET_LOGGING_LEVEL with a negative level", "POST", codec.MediaJSON, "", `{"type":"SET_LOGGING_LEVEL","set_logging_level":{"level":-3,"duration":{"nanoseconds":1000}}}`, 400, "level"},
		{"LIST_FILES without list_files", "POST", codec.MediaJSON, "", `{"type":"LIST_FILES"}`, 400, "Expecting 'list_files' to be present"},
		{"LIST_FILES without path", "POST", codec.MediaJSON, "", `{"type":"LIST_FILES","list_files":{}}`, 400, "path"},
		{"READ_FILE without read_file", "POST", codec.MediaJSON, "", `{"type":"READ_FILE"}`, 400, "Expecting 'read_file' to be present"},
		{"READ_FILE without offset", "POST", codec.MediaJSON, "", `{"type":"READ_FILE","read_file":{"path":"/x"}}`, 400, "offset"},
		{"KILL_NESTED_CONTAINER without kill_nested_container", "POST", codec.MediaJSON, "", `{"type":"KILL_NESTED_CONTAINER"}`, 400, "Expecting 'kill_nested_container' to be present"},
		{"KILL_NESTED_CONTAINER without parent", "POST", codec.MediaJSON, "", `{"type":"KILL_NESTED_CONTAINER","kill_nested_container":{"container_id":{"value":"c"}}}`, 400, "Expecting 'kill_nested_container.container_id.parent' to be present"},
		{"WAIT_NESTED_CONTAINER without parent", "POST", codec.MediaJSON, "", `{"type":"WAIT_NESTED_CONTAINER","wait_nested_container":{"container_id":{"value":"c"}}}`, 400, "Expecting 'wait_nested_container.container_id.parent' to be present"},
		{"not acceptable", "POST", codec.MediaJSON, "text/html", `{"type":"GET_HEALTH"}`, 406, "Expecting 'Accept' to allow application/json or application/x-protobuf or application/recordio"},
		{"streaming not acceptable", "POST", codec.MediaJSON, "application/recordio", `{"type":"GET_STATE"}`, 406, "Streaming response is not supported for GET_STATE call"},
		{"UNKNOWN", "POST", codec.MediaJSON, "", `{"type":"UNKNOWN"}`, 501, ""},
		{"KILL_NESTED_CONTAINER", "POST", codec.MediaJSON, "", `{"type":"KILL_NESTED_CONTAINER","kill_nested_container":{"container_id":{"value":"c","parent":{"value":"p"}}}}`, 501, "KILL_NESTED_CONTAINER is not supported"},
		{"WAIT_NESTED_CONTAINER", "POST", codec.MediaJSON, "", `{"type":"WAIT_NESTED_CONTAINER","wait_nested_container":{"container_id":{"value":"c","parent":{"value":"p"}}}}`, 501, "WAIT_NESTED_CONTAINER is not supported"},
		{"LAUNCH_CONTAINER", "POST", codec.MediaJSON, "", `{"type":"LAUNCH_CONTAINER","launch_container":{"container_id":{"value":"c"}}}`, 501, "LAUNCH_CONTAINER is not supported"},
	} {
		code, _, body := postAPI(t, a, "/api/v1", tc.method, tc.contentType, tc.accept, []byte(tc.body))
		if code != tc.code || !strings.Contains(string(body), tc.says) {
			t.Errorf("%s: %d %q, want %d saying %q", tc.name, code, body, tc.code, tc.says)
		}
	}

	// Message-Accept is for streaming responses only.
	req, err := http.NewRequest("POST", "http://"+a.Addr()+"/api/v1", strings.NewReader(`{"type":"GET_HEALTH"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", codec.MediaJSON)
	req.Header.Set("Message-Accept", codec.MediaJSON)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 406 || string(body) != "Expecting 'Message-Accept' to be not set for non-streaming responses" {
		t.Errorf("Message-Accept: %d %s", resp.StatusCode, body)
	}

	// Nothing changed: the verbosity, and the state.
	if a.verbosity.Level() != 0 {
		t.Errorf("verbosity %d after refused calls", a.verbosity.Level())
	}
	after, _ := mustCall(t, a, codec.Protobuf, simpleCall(agentpb.Call_GET_STATE))
	if !proto.Equal(before, after) {
		t.Errorf("state changed:\n%v\n%v", before, after)
	}
	// The state's JSON decodes as Mesos's Response (a cross-check of the
	// keys): get_state with the three parts.
	_, raw := mustCall(t, a, codec.JSON, simpleCall(agentpb.Call_GET_STATE))
	var doc struct {
		GetState map[string]json.RawMessage `json:"get_state"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"get_tasks", "get_executors", "get_frameworks"} {
		if _, ok := doc.GetState[k]; !ok {
			t.Errorf("get_state lacks %s: %s", k, raw)
		}
	}
}
