package legacy

import (
	"encoding/json"
	"math"
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/resources"
)

// The expected texts below are Mesos's, checked by hand: the task, its
// statuses and the agent's resources are taken from the captures of a
// Mesos 1.12 master and agent (/work/shared/mesos-samples,
// after-task/master_state_after_task.json and agent_state_after_task.json,
// compacted), the rest follows src/common/http.cpp's json(...) key by key.

const (
	fwID    = "afea9262-9905-432c-9de6-9a8411f6abc8-0000"
	agentID = "afea9262-9905-432c-9de6-9a8411f6abc8-S0"
	ctrID   = "4945eddb-7478-454b-ad5b-6b24768bb575"
)

func ctrStatus() *mesos.ContainerStatus {
	return &mesos.ContainerStatus{
		ContainerId:  &mesos.ContainerID{Value: proto.String(ctrID)},
		NetworkInfos: []*mesos.NetworkInfo{{IpAddresses: []*mesos.NetworkInfo_IPAddress{{Protocol: mesos.NetworkInfo_IPv4.Enum(), IpAddress: proto.String("127.0.0.1")}}}},
		ExecutorPid:  proto.Uint32(4242),
	}
}

func TestAppendTask(t *testing.T) {
	sample := &Task{
		ID: "hello-task", Name: "hello-task", FrameworkID: fwID, AgentID: agentID,
		State: mesos.TaskState_TASK_FINISHED, Resources: Resources(resources.MustParse("cpus:0.1;mem:32")), Role: "*",
		Statuses: []*mesos.TaskStatus{
			{State: mesos.TaskState_TASK_STARTING.Enum(), Timestamp: proto.Float64(1795480856.820459), ContainerStatus: ctrStatus()},
			{State: mesos.TaskState_TASK_KILLED.Enum(), Timestamp: proto.Float64(1795480858.319361)},
		},
	}
	full := &Task{
		ID: "t", Name: "n", FrameworkID: "f", ExecutorID: "e", AgentID: "a", State: mesos.TaskState_TASK_RUNNING,
		Resources: Resources(resources.MustParse("cpus:1;mem:64;ports:[31000-31001]")), Role: "web",
		User: "alice", HasUser: true,
		Labels:    &mesos.Labels{Labels: []*mesos.Label{{Key: proto.String("k"), Value: proto.String("v")}}},
		Container: &mesos.ContainerInfo{Type: mesos.ContainerInfo_MESOS.Enum()},
		HealthCheck: &mesos.HealthCheck{Type: mesos.HealthCheck_TCP.Enum(),
			Tcp: &mesos.HealthCheck_TCPCheckInfo{Port: proto.Uint32(8080)}},
	}
	for _, tc := range []struct {
		name string
		task *Task
		want string
	}{
		{"mesos sample", sample, `{"id":"hello-task","name":"hello-task","framework_id":"` + fwID + `","executor_id":"","slave_id":"` + agentID + `",` +
			`"state":"TASK_FINISHED","resources":{"disk":0.0,"mem":32.0,"gpus":0.0,"cpus":0.1},"role":"*","statuses":[` +
			`{"state":"TASK_STARTING","timestamp":1795480856.820459,"container_status":{"container_id":{"value":"` + ctrID + `"},"network_infos":[{"ip_addresses":[{"protocol":"IPv4","ip_address":"127.0.0.1"}]}]}},` +
			`{"state":"TASK_KILLED","timestamp":1795480858.319361}]}`},
		{"every optional key", full, `{"id":"t","name":"n","framework_id":"f","executor_id":"e","slave_id":"a","state":"TASK_RUNNING",` +
			`"resources":{"disk":0.0,"mem":64.0,"gpus":0.0,"cpus":1.0,"ports":"[31000-31001]"},"role":"web","statuses":[],` +
			`"user":"alice","labels":[{"key":"k","value":"v"}],"container":{"type":"MESOS"},` +
			`"health_check":{"delay_seconds":15.0,"interval_seconds":10.0,"timeout_seconds":20.0,"consecutive_failures":3,` +
			`"grace_period_seconds":10.0,"type":"TCP","tcp":{"port":8080}}}`},
		{"empty", &Task{}, `{"id":"","name":"","framework_id":"","executor_id":"","slave_id":"","state":"TASK_STARTING",` +
			`"resources":{},"role":"","statuses":[]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(AppendTask(nil, tc.task)); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestAppendStatus(t *testing.T) {
	labels := &mesos.Labels{Labels: []*mesos.Label{{Key: proto.String("k"), Value: proto.String("v")}}}
	for _, tc := range []struct {
		name   string
		status *mesos.TaskStatus
		want   string
	}{
		{"bare", &mesos.TaskStatus{State: mesos.TaskState_TASK_KILLED.Enum(), Timestamp: proto.Float64(1795480858.319361)},
			`{"state":"TASK_KILLED","timestamp":1795480858.319361}`},
		{"whole timestamp", &mesos.TaskStatus{State: mesos.TaskState_TASK_RUNNING.Enum(), Timestamp: proto.Float64(2)},
			`{"state":"TASK_RUNNING","timestamp":2.0}`},
		// Mesos's order: state, timestamp, labels, container_status, healthy;
		// message, reason, source, uuid and data are not in the model.
		{"every key", &mesos.TaskStatus{
			State: mesos.TaskState_TASK_RUNNING.Enum(), Timestamp: proto.Float64(1.5), Healthy: proto.Bool(false),
			ContainerStatus: &mesos.ContainerStatus{ContainerId: &mesos.ContainerID{Value: proto.String("c")}, ExecutorPid: proto.Uint32(42)},
			Labels:          labels, Message: proto.String("m"), Reason: mesos.TaskStatus_REASON_COMMAND_EXECUTOR_FAILED.Enum(),
			Source: mesos.TaskStatus_SOURCE_EXECUTOR.Enum(), Uuid: []byte("u"), Data: []byte("d"),
		}, `{"state":"TASK_RUNNING","timestamp":1.5,"labels":[{"key":"k","value":"v"}],"container_status":{"container_id":{"value":"c"}},"healthy":false}`},
		{"empty container status", &mesos.TaskStatus{State: mesos.TaskState_TASK_LOST.Enum(), ContainerStatus: &mesos.ContainerStatus{}},
			`{"state":"TASK_LOST","timestamp":0.0,"container_status":{}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(AppendStatus(nil, tc.status)); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestAppendLabels(t *testing.T) {
	l := &mesos.Labels{Labels: []*mesos.Label{
		{Key: proto.String("a"), Value: proto.String("1")},
		{Key: proto.String("no value")},
		{Key: proto.String(`q"\`), Value: proto.String("\n")},
	}}
	want := `[{"key":"a","value":"1"},{"key":"no value"},{"key":"q\"\\","value":"\n"}]`
	if got := string(AppendLabels(nil, l)); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if got := string(AppendLabels(nil, &mesos.Labels{})); got != "[]" {
		t.Errorf("no labels: got %s, want []", got)
	}
}

func TestResources(t *testing.T) {
	// The agent's resources in agent_state.json.
	rs := resources.MustParse("cpus:2;mem:23081;disk:252899;ports:[31000-32000]")
	want := `{"disk":252899.0,"mem":23081.0,"gpus":0.0,"cpus":2.0,"ports":"[31000-32000]"}`
	if got := string(AppendResources(nil, rs)); got != want {
		t.Errorf("AppendResources: got %s, want %s", got, want)
	}
	if got := string(ResourcesOf(resources.ToProto(rs)).AppendJSON(nil)); got != want {
		t.Errorf("ResourcesOf: got %s, want %s", got, want)
	}
	// unreserved_resources_allocated leaves the ports out.
	if got, want := string(ScalarsOnly(ResourcesOf(resources.ToProto(rs))).AppendJSON(nil)),
		`{"disk":252899.0,"mem":23081.0,"gpus":0.0,"cpus":2.0}`; got != want {
		t.Errorf("ScalarsOnly: got %s, want %s", got, want)
	}
	// Resources that do not validate still show their scalars.
	bad := []*mesos.Resource{
		{Name: proto.String("cpus"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(0.1)}},
		{Name: proto.String("cpus"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(0.2)}},
		{Name: proto.String("mem"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(-1)}},
	}
	if got, want := string(ResourcesOf(bad).AppendJSON(nil)), `{"disk":0.0,"mem":-1.0,"gpus":0.0,"cpus":0.3}`; got != want {
		t.Errorf("ResourcesOf(invalid): got %s, want %s", got, want)
	}
}

func TestAppendResourcesFull(t *testing.T) {
	// unreserved_resources_full in agent_state.json.
	pbs := resources.ToProto(resources.MustParse("cpus:2;mem:23081;disk:252899;ports:[31000-32000]"))
	for _, r := range pbs {
		r.Role = proto.String("*")
	}
	want := `[{"name":"cpus","type":"SCALAR","scalar":{"value":2.0},"role":"*"},` +
		`{"name":"mem","type":"SCALAR","scalar":{"value":23081.0},"role":"*"},` +
		`{"name":"disk","type":"SCALAR","scalar":{"value":252899.0},"role":"*"},` +
		`{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":32000}]},"role":"*"}]`
	if got := string(AppendResourcesFull(nil, pbs)); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := string(AppendResourcesFull(nil, nil)); got != "[]" {
		t.Errorf("none: got %s, want []", got)
	}
}

func TestAppendAttributes(t *testing.T) {
	attrs := []*mesos.Attribute{
		{Name: proto.String("rack"), Type: mesos.Value_TEXT.Enum(), Text: &mesos.Value_Text{Value: proto.String("r1")}},
		{Name: proto.String("weight"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(2.5)}},
		{Name: proto.String("slots"), Type: mesos.Value_RANGES.Enum(), Ranges: &mesos.Value_Ranges{Range: []*mesos.Value_Range{
			{Begin: proto.Uint64(1), End: proto.Uint64(4)}, {Begin: proto.Uint64(8), End: proto.Uint64(9)}}}},
		{Name: proto.String("zones"), Type: mesos.Value_SET.Enum(), Set: &mesos.Value_Set{Item: []string{"a", "b"}}},
		{Name: proto.String("count"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(3)}},
	}
	// In the agent's order, not sorted; whole scalars keep their ".0".
	want := `{"rack":"r1","weight":2.5,"slots":"[1-4, 8-9]","zones":"{a, b}","count":3.0}`
	if got := string(AppendAttributes(nil, attrs)); got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if got := string(AppendAttributes(nil, nil)); got != "{}" {
		t.Errorf("none: got %s, want {} (agent_state.json)", got)
	}
}

func TestAppendCommand(t *testing.T) {
	for _, tc := range []struct {
		name string
		cmd  *mesos.CommandInfo
		want string
	}{
		{"nil", nil, `{"argv":[],"uris":[]}`},
		{"shell", &mesos.CommandInfo{Shell: proto.Bool(true), Value: proto.String("echo hi")}, `{"shell":true,"value":"echo hi","argv":[],"uris":[]}`},
		{"every key", &mesos.CommandInfo{
			Shell: proto.Bool(false), Value: proto.String("/bin/x"), Arguments: []string{"x", "-v"},
			Environment: &mesos.Environment{Variables: []*mesos.Environment_Variable{{Name: proto.String("A"), Value: proto.String("1")}}},
			Uris:        []*mesos.CommandInfo_URI{{Value: proto.String("http://h/f"), Executable: proto.Bool(true)}, {Value: proto.String("g")}},
			User:        proto.String("not in the model"),
		}, `{"shell":false,"value":"/bin/x","argv":["x","-v"],"environment":{"variables":[{"name":"A","type":"VALUE","value":"1"}]},` +
			`"uris":[{"value":"http://h/f","executable":true},{"value":"g","executable":false}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := string(AppendCommand(nil, tc.cmd)); got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestAppendExecutorInfo(t *testing.T) {
	res := resources.ToProto(resources.MustParse("cpus:0.1;mem:32"))
	for _, r := range res {
		r.AllocationInfo = &mesos.Resource_AllocationInfo{Role: proto.String("web")}
	}
	ex := &mesos.ExecutorInfo{
		ExecutorId: &mesos.ExecutorID{Value: proto.String("ex")}, Name: proto.String("my executor"),
		Command: &mesos.CommandInfo{Value: proto.String("./executor")}, Resources: res,
		Labels: &mesos.Labels{Labels: []*mesos.Label{{Key: proto.String("k")}}}, Type: mesos.ExecutorInfo_CUSTOM.Enum(),
	}
	want := `{"executor_id":"ex","name":"my executor","framework_id":"fw","command":{"value":"./executor","argv":[],"uris":[]},` +
		`"resources":{"disk":0.0,"mem":32.0,"gpus":0.0,"cpus":0.1},"role":"web","labels":[{"key":"k"}],"type":"CUSTOM","slave_id":"ag"}`
	if got := string(AppendExecutorInfo(nil, ex, "fw", "ag")); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	// No resources, no role (a command executor's).
	bare := &mesos.ExecutorInfo{ExecutorId: &mesos.ExecutorID{Value: proto.String("ex")}}
	want = `{"executor_id":"ex","name":"","framework_id":"fw","command":{"argv":[],"uris":[]},` +
		`"resources":{"disk":0.0,"mem":0.0,"gpus":0.0,"cpus":0.0},"slave_id":"ag"}`
	if got := string(AppendExecutorInfo(nil, bare, "fw", "ag")); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

// The writers append: what b held stays in front.
func TestAppends(t *testing.T) {
	b := AppendLabels([]byte("x:"), &mesos.Labels{})
	if string(b) != "x:[]" {
		t.Errorf("got %s", b)
	}
}

// taskOf is the model of an arbitrary Task message, as the agent makes it.
func taskOf(t *mesos.Task) *Task {
	return &Task{
		ID: t.GetTaskId().GetValue(), Name: t.GetName(), FrameworkID: t.GetFrameworkId().GetValue(),
		ExecutorID: t.GetExecutorId().GetValue(), AgentID: t.GetAgentId().GetValue(), State: t.GetState(),
		Resources: ResourcesOf(t.GetResources()), Role: firstRole(t.GetResources()),
		Statuses: t.GetStatuses(), User: t.GetUser(), HasUser: t.User != nil, Labels: t.GetLabels(), Container: t.GetContainer(),
	}
}

func firstRole(rs []*mesos.Resource) string {
	if len(rs) == 0 {
		return ""
	}
	return rs[0].GetAllocationInfo().GetRole()
}

// FuzzTask checks that any Task and TaskStatus, whatever their strings
// (invalid UTF-8, control characters) and numbers (NaN, infinities),
// make valid JSON, with every status in it.
func FuzzTask(f *testing.F) {
	seed := &mesos.Task{
		Name: proto.String("n\x00\xff"), TaskId: &mesos.TaskID{Value: proto.String("t\"")},
		FrameworkId: &mesos.FrameworkID{Value: proto.String("f")}, AgentId: &mesos.AgentID{Value: proto.String("a")},
		State:     mesos.TaskState_TASK_RUNNING.Enum(),
		Resources: resources.ToProto(resources.MustParse("cpus:1;ports:[1-2];disks:{a,b}")),
		Statuses: []*mesos.TaskStatus{
			{State: mesos.TaskState_TASK_RUNNING.Enum(), Timestamp: proto.Float64(math.NaN()), ContainerStatus: ctrStatus(), Healthy: proto.Bool(true)},
			{Labels: &mesos.Labels{Labels: []*mesos.Label{{Key: proto.String("\x01")}}}, Timestamp: proto.Float64(math.Inf(-1))},
		},
		Labels: &mesos.Labels{Labels: []*mesos.Label{{Key: proto.String("k"), Value: proto.String("\u2028")}}},
		User:   proto.String(""),
	}
	b, err := proto.MarshalOptions{AllowPartial: true}.Marshal(seed)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var task mesos.Task
		if (proto.UnmarshalOptions{AllowPartial: true}).Unmarshal(data, &task) != nil {
			return
		}
		out := AppendTask(nil, taskOf(&task))
		var v struct {
			Statuses []json.RawMessage `json:"statuses"`
		}
		if err := json.Unmarshal(out, &v); err != nil {
			t.Fatalf("invalid JSON %q: %v", out, err)
		}
		if len(v.Statuses) != len(task.GetStatuses()) {
			t.Fatalf("%d statuses written, the task has %d", len(v.Statuses), len(task.GetStatuses()))
		}
		for _, s := range task.GetStatuses() {
			if out := AppendStatus(nil, s); !json.Valid(out) {
				t.Fatalf("invalid status JSON %q", out)
			}
		}
	})
}

func TestRoles(t *testing.T) {
	multi := []*mesos.FrameworkInfo_Capability{{Type: mesos.FrameworkInfo_Capability_MULTI_ROLE.Enum()}}
	for _, tc := range []struct {
		name  string
		info  *mesos.FrameworkInfo
		role  string
		roles []string
	}{
		{"single role", &mesos.FrameworkInfo{Role: proto.String("web"), Roles: []string{"ignored"}}, "web", nil},
		{"multi-role", &mesos.FrameworkInfo{Role: proto.String("ignored"), Roles: []string{"a", "b"}, Capabilities: multi}, "", []string{"a", "b"}},
		{"multi-role, no roles", &mesos.FrameworkInfo{Capabilities: multi}, "", []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			role, roles := Roles(tc.info)
			if role != tc.role || (roles == nil) != (tc.roles == nil) || len(roles) != len(tc.roles) {
				t.Fatalf("got %q %#v, want %q %#v", role, roles, tc.role, tc.roles)
			}
			for i := range roles {
				if roles[i] != tc.roles[i] {
					t.Fatalf("got %#v, want %#v", roles, tc.roles)
				}
			}
		})
	}
}
