package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gomesos/gomesos/api/v1/maintenance"
	masterpb "github.com/gomesos/gomesos/api/v1/master"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/operator"
	"google.golang.org/protobuf/proto"
)

// fakeOperator is a master's /api/v1 answering each call type with a
// canned response (or a status and message), and recording the calls.
type fakeOperator struct {
	t       *testing.T
	srv     *httptest.Server
	answers map[masterpb.Call_Type]*masterpb.Response
	fail    map[masterpb.Call_Type]string // "status message"

	mu    sync.Mutex
	calls []*masterpb.Call
}

func newFakeOperator(t *testing.T) *fakeOperator {
	f := &fakeOperator{t: t, answers: map[masterpb.Call_Type]*masterpb.Response{}, fail: map[masterpb.Call_Type]string{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeOperator) serve(w http.ResponseWriter, r *http.Request) {
	enc, err := codec.FromContentType(r.Header.Get("Content-Type"))
	b, _ := io.ReadAll(r.Body)
	call := &masterpb.Call{}
	if err != nil || r.URL.Path != "/api/v1" || codec.Unmarshal(enc, b, call) != nil {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.calls = append(f.calls, call)
	f.mu.Unlock()
	if msg, ok := f.fail[call.GetType()]; ok {
		code := http.StatusBadRequest
		if strings.HasPrefix(msg, "501 ") {
			code, msg = http.StatusNotImplemented, strings.TrimPrefix(msg, "501 ")
		}
		http.Error(w, msg, code)
		return
	}
	resp, ok := f.answers[call.GetType()]
	if !ok {
		w.WriteHeader(http.StatusOK)
		return
	}
	out, _ := codec.Marshal(enc, resp)
	w.Header().Set("Content-Type", enc.ContentType())
	w.Write(out)
}

func (f *fakeOperator) client() *operator.Client {
	c, err := operator.New([]string{f.srv.URL})
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

func (f *fakeOperator) lastCall() *masterpb.Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		f.t.Fatal("no call made")
	}
	return f.calls[len(f.calls)-1]
}

func scalar(name string, v float64) *mesos.Resource {
	return &mesos.Resource{Name: proto.String(name), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(v)}}
}

func task(id, fw, agent string, st mesos.TaskState) *mesos.Task {
	return &mesos.Task{Name: proto.String(id), TaskId: &mesos.TaskID{Value: proto.String(id)},
		FrameworkId: &mesos.FrameworkID{Value: proto.String(fw)}, AgentId: &mesos.AgentID{Value: proto.String(agent)}, State: st.Enum()}
}

func TestTables(t *testing.T) {
	f := newFakeOperator(t)
	sample, err := os.ReadFile(filepath.Join("testdata", "operator_get_agents.json"))
	if err != nil {
		t.Fatal(err)
	}
	agents := &masterpb.Response{}
	if err := codec.Unmarshal(codec.JSON, sample, agents); err != nil {
		t.Fatal(err)
	}
	f.answers[masterpb.Call_GET_AGENTS] = agents
	f.answers[masterpb.Call_GET_TASKS] = &masterpb.Response{Type: masterpb.Response_GET_TASKS.Enum(), GetTasks: &masterpb.Response_GetTasks{
		Tasks:          []*mesos.Task{task("web-1", "fw-0", "ag-S0", mesos.TaskState_TASK_RUNNING)},
		CompletedTasks: []*mesos.Task{task("hello", "fw-1", "ag-S0", mesos.TaskState_TASK_FINISHED)},
	}}
	f.answers[masterpb.Call_GET_FRAMEWORKS] = &masterpb.Response{Type: masterpb.Response_GET_FRAMEWORKS.Enum(), GetFrameworks: &masterpb.Response_GetFrameworks{
		Frameworks: []*masterpb.Response_GetFrameworks_Framework{{
			FrameworkInfo: &mesos.FrameworkInfo{Id: &mesos.FrameworkID{Value: proto.String("fw-0")}, Name: proto.String("mesos-execute instance"),
				User: proto.String("u"), Roles: []string{"dev"}},
			Active: proto.Bool(true), Connected: proto.Bool(true), Recovered: proto.Bool(false), AllocatedResources: []*mesos.Resource{scalar("cpus", 0.1), scalar("mem", 32)},
		}}}}
	f.answers[masterpb.Call_GET_ROLES] = &masterpb.Response{Type: masterpb.Response_GET_ROLES.Enum(), GetRoles: &masterpb.Response_GetRoles{
		Roles: []*mesos.Role{{Name: proto.String("dev"), Weight: proto.Float64(2.5), Frameworks: []*mesos.FrameworkID{{Value: proto.String("fw-0")}},
			Resources: []*mesos.Resource{scalar("cpus", 0.1), scalar("mem", 32)}}}}}
	f.answers[masterpb.Call_GET_WEIGHTS] = &masterpb.Response{Type: masterpb.Response_GET_WEIGHTS.Enum(), GetWeights: &masterpb.Response_GetWeights{
		WeightInfos: []*mesos.WeightInfo{{Role: proto.String("dev"), Weight: proto.Float64(2.5)}}}}
	start := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	f.answers[masterpb.Call_GET_MAINTENANCE_SCHEDULE] = &masterpb.Response{Type: masterpb.Response_GET_MAINTENANCE_SCHEDULE.Enum(),
		GetMaintenanceSchedule: &masterpb.Response_GetMaintenanceSchedule{Schedule: &maintenance.Schedule{Windows: []*maintenance.Window{{
			MachineIds: []*mesos.MachineID{{Hostname: proto.String("h1"), Ip: proto.String("10.0.0.1")}, {Hostname: proto.String("h2")}},
			Unavailability: &mesos.Unavailability{Start: &mesos.TimeInfo{Nanoseconds: proto.Int64(start.UnixNano())},
				Duration: &mesos.DurationInfo{Nanoseconds: proto.Int64(int64(time.Hour))}},
		}}}}}
	f.answers[masterpb.Call_GET_MAINTENANCE_STATUS] = &masterpb.Response{Type: masterpb.Response_GET_MAINTENANCE_STATUS.Enum(),
		GetMaintenanceStatus: &masterpb.Response_GetMaintenanceStatus{Status: &maintenance.ClusterStatus{
			DrainingMachines: []*maintenance.ClusterStatus_DrainingMachine{{Id: &mesos.MachineID{Hostname: proto.String("h2")}}},
			DownMachines:     []*mesos.MachineID{{Hostname: proto.String("h3")}},
		}}}
	c := f.client()
	for _, tc := range []struct {
		name string
		run  func(context.Context, *operator.Client, Output) error
		want string
	}{
		{"agents", Agents, `
ID                                       HOSTNAME   CPUS  MEM    DISK    USED CPUS  USED MEM  ACTIVE  STATE
e3cc0bb0-0a9e-4a88-be9e-59b508e23bbe-S0  localhost  2     23081  252899  0          0         true    -
`},
		{"frameworks", Frameworks, `
ID    NAME                    ROLE  ACTIVE  TASKS  CPUS  MEM
fw-0  mesos-execute instance  dev   true    1      0.1   32
`},
		{"tasks", Tasks, `
ID     NAME   FRAMEWORK  AGENT  STATE
web-1  web-1  fw-0       ag-S0  TASK_RUNNING
hello  hello  fw-1       ag-S0  TASK_FINISHED
`},
		{"roles", Roles, `
NAME  WEIGHT  FRAMEWORKS  CPUS  MEM
dev   2.5     1           0.1   32
`},
		{"weights", Weights, `
ROLE  WEIGHT
dev   2.5
`},
		{"maintenance", Maintenance, `
HOSTNAME  IP        MODE       START                 DURATION
h1        10.0.0.1  SCHEDULED  2026-12-05T12:00:00Z  1hrs
h2        -         DRAINING   2026-12-05T12:00:00Z  1hrs
h3        -         DOWN       -                     -
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			if err := tc.run(context.Background(), c, Output{W: &out}); err != nil {
				t.Fatal(err)
			}
			if got, want := out.String(), strings.TrimPrefix(tc.want, "\n"); got != want {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
			// --json prints the responses as JSON documents of their type.
			out.Reset()
			if err := tc.run(context.Background(), c, Output{W: &out, JSON: true}); err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(&out)
			n := 0
			for dec.More() {
				var doc struct {
					Type string `json:"type"`
				}
				if err := dec.Decode(&doc); err != nil {
					t.Fatalf("--json output does not parse: %v", err)
				}
				if doc.Type == "" || !strings.HasPrefix(doc.Type, "GET_") {
					t.Errorf("--json document of type %q", doc.Type)
				}
				n++
			}
			if n == 0 {
				t.Error("--json printed nothing")
			}
		})
	}
}

// The master's refusal comes back with its words, and nothing is printed.
func TestTablesErrors(t *testing.T) {
	f := newFakeOperator(t)
	f.fail[masterpb.Call_GET_TASKS] = "No leader elected"
	var out bytes.Buffer
	err := Tasks(context.Background(), f.client(), Output{W: &out})
	if err == nil || !strings.Contains(err.Error(), "GET_TASKS: 400 Bad Request: No leader elected") {
		t.Errorf("error %v", err)
	}
	if out.Len() != 0 {
		t.Errorf("printed %q on error", out.String())
	}
}

// The calls that change state send what the command line says.
func TestAdminCallsSendTheirArguments(t *testing.T) {
	f := newFakeOperator(t)
	c := f.client()
	ctx := context.Background()
	var out bytes.Buffer

	if err := SetWeights(ctx, c, []string{"dev=2.5", "ops=1"}, &out); err != nil {
		t.Fatal(err)
	}
	if ws := f.lastCall().GetUpdateWeights().GetWeightInfos(); len(ws) != 2 || ws[0].GetRole() != "dev" || ws[0].GetWeight() != 2.5 || ws[1].GetRole() != "ops" {
		t.Errorf("UPDATE_WEIGHTS sent %v", ws)
	}
	for _, bad := range [][]string{nil, {"dev"}, {"=2"}, {"dev=0"}, {"dev=-1"}, {"dev=x"}, {"dev=NaN"}} {
		if _, err := ParseWeights(bad); err == nil {
			t.Errorf("weights %q accepted", bad)
		}
	}

	if err := Drain(ctx, c, "ag-S0", DrainOptions{MaxGracePeriod: 5 * time.Second, MarkGone: true}, &out); err != nil {
		t.Fatal(err)
	}
	d := f.lastCall().GetDrainAgent()
	if d.GetAgentId().GetValue() != "ag-S0" || d.GetMaxGracePeriod().AsDuration() != 5*time.Second || !d.GetMarkGone() {
		t.Errorf("DRAIN_AGENT sent %v", d)
	}
	if err := Drain(ctx, c, "ag-S1", DrainOptions{}, &out); err != nil {
		t.Fatal(err)
	}
	if d := f.lastCall().GetDrainAgent(); d.MaxGracePeriod != nil || d.MarkGone != nil {
		t.Errorf("DRAIN_AGENT without options sent %v", d)
	}
	for typ, get := range map[masterpb.Call_Type]func(*masterpb.Call) string{
		masterpb.Call_DEACTIVATE_AGENT: func(c *masterpb.Call) string { return c.GetDeactivateAgent().GetAgentId().GetValue() },
		masterpb.Call_REACTIVATE_AGENT: func(c *masterpb.Call) string { return c.GetReactivateAgent().GetAgentId().GetValue() },
		masterpb.Call_MARK_AGENT_GONE:  func(c *masterpb.Call) string { return c.GetMarkAgentGone().GetAgentId().GetValue() },
	} {
		if err := AgentCall(ctx, c, typ, "ag-S2", &out); err != nil {
			t.Fatal(err)
		}
		if got := f.lastCall(); got.GetType() != typ || get(got) != "ag-S2" {
			t.Errorf("%s sent %v", typ, got)
		}
	}
	if err := Teardown(ctx, c, "fw-9", &out); err != nil {
		t.Fatal(err)
	}
	if got := f.lastCall().GetTeardown().GetFrameworkId().GetValue(); got != "fw-9" {
		t.Errorf("TEARDOWN sent framework %q", got)
	}
	ms, err := ParseMachines([]string{"h1", "h2/10.0.0.2", "/10.0.0.3"})
	if err != nil {
		t.Fatal(err)
	}
	if err := MachinesDown(ctx, c, ms, false, &out); err != nil {
		t.Fatal(err)
	}
	if got := f.lastCall().GetStartMaintenance().GetMachines(); len(got) != 3 || got[1].GetIp() != "10.0.0.2" || got[2].Hostname != nil {
		t.Errorf("START_MAINTENANCE sent %v", got)
	}
	if err := MachinesDown(ctx, c, ms[:1], true, &out); err != nil {
		t.Fatal(err)
	}
	if got := f.lastCall(); got.GetType() != masterpb.Call_STOP_MAINTENANCE || got.GetStopMaintenance().GetMachines()[0].GetHostname() != "h1" {
		t.Errorf("STOP_MAINTENANCE sent %v", got)
	}
	if _, err := ParseMachines([]string{"/"}); err == nil {
		t.Error("machine \"/\" accepted")
	}
	file := filepath.Join(t.TempDir(), "schedule.json")
	os.WriteFile(file, []byte(`{"windows":[{"machine_ids":[{"hostname":"h1"}],"unavailability":{"start":{"nanoseconds":1}}}]}`), 0o644)
	s, err := ReadSchedule(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := UpdateSchedule(ctx, c, s, &out); err != nil {
		t.Fatal(err)
	}
	if got := f.lastCall().GetUpdateMaintenanceSchedule().GetSchedule().GetWindows(); len(got) != 1 || got[0].GetMachineIds()[0].GetHostname() != "h1" {
		t.Errorf("UPDATE_MAINTENANCE_SCHEDULE sent %v", got)
	}
	os.WriteFile(file, []byte(`{"windows":[{"machine_ids":"nope"}]}`), 0o644)
	if _, err := ReadSchedule(file); err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("bad schedule: %v", err)
	}

	// A call the master does not implement yet: its words come through.
	f.fail[masterpb.Call_DRAIN_AGENT] = "501 Operator call DRAIN_AGENT is not implemented yet"
	err = Drain(ctx, c, "ag-S0", DrainOptions{}, &out)
	if err == nil || !strings.Contains(err.Error(), "501 Not Implemented: Operator call DRAIN_AGENT is not implemented yet") {
		t.Errorf("501: %v", err)
	}
}

// The bar redraws one line in place and ends it.
func TestProgressBar(t *testing.T) {
	var out bytes.Buffer
	p := &progressBar{w: &out, total: 4}
	p.draw(0, 0, 0)
	p.draw(2, 1, 0)
	p.draw(2, 1, 0) // unchanged: not redrawn
	p.draw(0, 3, 1)
	p.finish()
	p.draw(0, 4, 0) // after finish: nothing
	want := "\r[..............................] 0/4 done, 0 running" +
		"\r[#######.......................] 1/4 done, 2 running" +
		"\r[##############################] 4/4 done (1 failed), 0 running\n"
	if out.String() != want {
		t.Errorf("got %q\nwant %q", out.String(), want)
	}
}
