package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomesos/gomesos/agent/containerizer"
	masterpb "github.com/gomesos/gomesos/api/v1/master"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/resources"
)

// reservedDisk is disk:mb dynamically reserved to role; with id set, a
// persistent volume mounted at containerPath.
func reservedDisk(role string, mb float64, id, containerPath string) *mesos.Resource {
	r := &mesos.Resource{
		Name: ptr("disk"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: ptr(mb)},
		Reservations: []*mesos.Resource_ReservationInfo{{Type: mesos.Resource_ReservationInfo_DYNAMIC.Enum(), Role: ptr(role)}},
	}
	if id != "" {
		r.Disk = &mesos.Resource_DiskInfo{
			Persistence: &mesos.Resource_DiskInfo_Persistence{Id: ptr(id)},
			Volume:      &mesos.Volume{ContainerPath: ptr(containerPath), Mode: mesos.Volume_RW.Enum()},
		}
	}
	return r
}

// volumeOffer waits for an offer holding the persistent volume id and
// returns it with the volume as offered.
func volumeOffer(t *testing.T, fw *framework, id string) (*mesos.Offer, *mesos.Resource) {
	t.Helper()
	for {
		o := fw.nextOffer()
		for _, r := range o.GetResources() {
			if r.GetDisk().GetPersistence().GetId() == id {
				return o, r
			}
		}
		if err := fw.client.Decline(ctxT(t), ids(o), 0); err != nil {
			t.Fatal(err)
		}
	}
}

// operationStatus waits for the UPDATE_OPERATION_STATUS of operation id.
func operationStatus(t *testing.T, fw *framework, id string) *mesos.OperationStatus {
	t.Helper()
	for {
		st := fw.nextEvent(schedpb.Event_UPDATE_OPERATION_STATUS).GetUpdateOperationStatus().GetStatus()
		if st.GetOperationId().GetValue() == id {
			return st
		}
	}
}

// operatorCall posts an operator API call in JSON and returns the status
// and body.
func operatorCall(t *testing.T, masterURL string, call *masterpb.Call) (int, []byte) {
	t.Helper()
	b, err := codec.Marshal(codec.JSON, call)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodPost, masterURL+"/api/v1", bytes.NewReader(b))
	req.Header.Set("Content-Type", codec.MediaJSON)
	req.Header.Set("Accept", codec.MediaJSON)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body
}

// TestReservationAndPersistentVolume is Mesos's persistent volume story
// over real processes: a framework in role eng sees the agent's static
// reservation, reserves disk and creates a volume on it (RESERVE and
// CREATE with operation ids, answered OPERATION_FINISHED once the agent
// applied them, and acknowledged), a task writes a file into the volume,
// the agent is killed and restarted, and a new task on the same volume
// reads the file back. DESTROY then removes the volume's directory.
//
// It runs twice: with the default isolation the volume is a symbolic link
// in the sandbox; with filesystem/linux it is bound in the container's own
// mount namespace and the sandbox on the host holds an empty mount point.
func TestReservationAndPersistentVolume(t *testing.T) {
	t.Run("link", func(t *testing.T) { testReservationAndPersistentVolume(t, false) })
	t.Run("bind", func(t *testing.T) {
		if err := containerizer.NamespacesAvailable(); err != nil {
			t.Skipf("skipping: filesystem/linux needs mount namespaces: %v", err)
		}
		testReservationAndPersistentVolume(t, true)
	})
}

func testReservationAndPersistentVolume(t *testing.T, bind bool) {
	opts := rigOptions{resources: "cpus:2;mem:1024;disk:512;cpus(eng):1"}
	if bind {
		opts.agentFlags = []string{"--isolation=posix/cpu,posix/mem,filesystem/linux"}
	}
	r := startRig(t, opts)
	fw := startFrameworkAt(t, r.masterAddr, frameworkOptions{checkpoint: true, role: "eng"})
	ctx := ctxT(t)

	o := fw.nextOffer()
	offered, err := resources.FromProto(o.GetResources())
	if err != nil {
		t.Fatal(err)
	}
	if got := offered.Reserved("eng").CPUs(); got != resources.ScalarFromInt(1) {
		t.Fatalf("offer to role eng holds %v cpus reserved to eng, want the static 1: %s", got, offered)
	}

	// RESERVE disk:128 for eng and CREATE a volume on it, in one ACCEPT.
	reserve := &mesos.Offer_Operation{Type: mesos.Offer_Operation_RESERVE.Enum(), Id: &mesos.OperationID{Value: ptr("reserve-1")},
		Reserve: &mesos.Offer_Operation_Reserve{Resources: []*mesos.Resource{reservedDisk("eng", 128, "", "")}}}
	create := &mesos.Offer_Operation{Type: mesos.Offer_Operation_CREATE.Enum(), Id: &mesos.OperationID{Value: ptr("create-1")},
		Create: &mesos.Offer_Operation_Create{Volumes: []*mesos.Resource{reservedDisk("eng", 128, "vol1", "data")}}}
	if err := fw.client.Accept(ctx, ids(o), []*mesos.Offer_Operation{reserve, create}, &mesos.Filters{RefuseSeconds: ptr(0.0)}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"reserve-1", "create-1"} {
		st := operationStatus(t, fw, id)
		if st.GetState() != mesos.OperationState_OPERATION_FINISHED || len(st.GetUuid().GetValue()) != 16 {
			t.Fatalf("operation %s: %v, want OPERATION_FINISHED with a uuid", id, st)
		}
		if err := fw.client.Call(ctx, &schedpb.Call{Type: schedpb.Call_ACKNOWLEDGE_OPERATION_STATUS.Enum(),
			AcknowledgeOperationStatus: &schedpb.Call_AcknowledgeOperationStatus{
				AgentId: st.GetAgentId(), Uuid: st.GetUuid().GetValue(), OperationId: st.GetOperationId()}}); err != nil {
			t.Fatal(err)
		}
	}
	volDir := filepath.Join(r.workDir, "volumes", "roles", "eng", "vol1")
	if fi, err := os.Stat(volDir); err != nil || !fi.IsDir() {
		t.Fatalf("the agent made no volume directory %s: %v", volDir, err)
	}
	// Acknowledged operations are no longer listed.
	waitFor(t, "GET_OPERATIONS to list nothing after the acknowledgements", func() bool {
		code, body := operatorCall(t, r.masterURL, &masterpb.Call{Type: masterpb.Call_GET_OPERATIONS.Enum()})
		return code == http.StatusOK && !strings.Contains(string(body), "reserve-1") && !strings.Contains(string(body), "create-1")
	})

	// Tasks already ended: the restarted agent may send a task's
	// terminal update again (its acknowledgement may not have reached
	// the agent before it was killed; delivery is at least once).
	ended := map[string]bool{}
	waitTerminal := func(id string) ([]mesos.TaskState, *mesos.TaskStatus) {
		t.Helper()
		var states []mesos.TaskState
		for {
			s := fw.nextUpdate()
			if other := s.GetTaskId().GetValue(); other != id {
				if ended[other] && s.GetState().IsTerminal() {
					continue
				}
				t.Fatalf("update for unexpected task %s (%s)", other, s.GetState())
			}
			states = append(states, s.GetState())
			if s.GetState().IsTerminal() {
				ended[id] = true
				return states, s
			}
		}
	}
	runOnVolume := func(taskID, cmd string) {
		t.Helper()
		for attempt := 1; ; attempt++ {
			o, vol := volumeOffer(t, fw, "vol1")
			task := commandTask(taskID, o, "cpus:0.1;mem:32", cmd)
			task.Resources = append(task.Resources, vol)
			if err := fw.client.Launch(ctx, ids(o), []*mesos.TaskInfo{task}, &mesos.Filters{RefuseSeconds: ptr(0.0)}); err != nil {
				t.Fatal(err)
			}
			states, last := waitTerminal(taskID)
			if last.GetReason() == mesos.TaskStatus_REASON_INVALID_OFFERS && attempt < 5 {
				// An offer made before the agent's restart and
				// rescinded since: the next one is current.
				continue
			}
			if last.GetState() != mesos.TaskState_TASK_FINISHED {
				out, _ := filepath.Glob(filepath.Join(r.workDir, "slaves", "*", "frameworks", "*", "executors", taskID, "runs", "latest", "std*"))
				for _, f := range out {
					b, _ := os.ReadFile(f)
					t.Logf("%s:\n%s", f, b)
				}
				if entries, err := os.ReadDir(filepath.Dir(out[0])); err == nil {
					var names []string
					for _, e := range entries {
						names = append(names, e.Name()+":"+e.Type().String())
					}
					t.Logf("sandbox: %v", names)
				}
				t.Fatalf("task %s: states %v, last %v", taskID, states, last)
			}
			return
		}
	}
	runOnVolume("writer", "echo kept > data/file")
	// In the sandbox on the host: a link to the volume, or (bound inside
	// the container) an empty mount point.
	points, _ := filepath.Glob(filepath.Join(r.workDir, "slaves", "*", "frameworks", "*", "executors", "writer", "runs", "*-*", "data"))
	if len(points) != 1 {
		t.Errorf("the writer's sandbox has %d data entries, want 1: %v", len(points), points)
	}
	for _, p := range points {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if link := fi.Mode()&os.ModeSymlink != 0; link == bind {
			t.Errorf("the sandbox's data is a symbolic link: %v, want %v", link, !bind)
		}
		if bind {
			if entries, _ := os.ReadDir(p); len(entries) != 0 {
				t.Errorf("the mount point on the host holds %v: the task wrote beside the volume", entries)
			}
		}
	}
	if b, err := os.ReadFile(filepath.Join(volDir, "file")); err != nil || string(b) != "kept\n" {
		t.Fatalf("the volume holds %q (%v), want what the task wrote", b, err)
	}

	// The agent restarts: it keeps its reservation and volume, and a new
	// task on the volume reads what the first wrote.
	before := r.waitRegistered()
	r.killAgent()
	if after := r.startAgent(); after != before {
		t.Fatalf("the restarted agent registered as %s, want %s", after, before)
	}
	runOnVolume("reader", `test "$(cat data/file)" = kept`)
	// Both the agent's and the master's state show the reservations.
	var st struct {
		ReservedResources map[string]map[string]any `json:"reserved_resources"`
	}
	getJSON(t, "http://"+r.agentAddr+"/state", &st)
	if eng := st.ReservedResources["eng"]; eng["disk"] != 128.0 || eng["cpus"] != 1.0 {
		t.Errorf("the restarted agent's /state reserved_resources %v, want eng's disk:128 and cpus:1", st.ReservedResources)
	}
	var slaves struct {
		Slaves []struct {
			ReservedResources map[string]map[string]any `json:"reserved_resources"`
		} `json:"slaves"`
	}
	getJSON(t, r.masterURL+"/master/slaves", &slaves)
	if len(slaves.Slaves) != 1 || slaves.Slaves[0].ReservedResources["eng"]["disk"] != 128.0 {
		t.Errorf("/master/slaves reserved_resources %+v, want eng's disk:128", slaves.Slaves)
	}

	// DESTROY removes the directory; RECONCILE_OPERATIONS reports an
	// operation the master no longer tracks as unknown.
	o, vol := volumeOffer(t, fw, "vol1")
	destroy := &mesos.Offer_Operation{Type: mesos.Offer_Operation_DESTROY.Enum(), Id: &mesos.OperationID{Value: ptr("destroy-1")},
		Destroy: &mesos.Offer_Operation_Destroy{Volumes: []*mesos.Resource{vol}}}
	if err := fw.client.Accept(ctx, ids(o), []*mesos.Offer_Operation{destroy}, nil); err != nil {
		t.Fatal(err)
	}
	if st := operationStatus(t, fw, "destroy-1"); st.GetState() != mesos.OperationState_OPERATION_FINISHED {
		t.Fatalf("DESTROY: %v", st)
	}
	waitFor(t, "the volume's directory to go", func() bool {
		_, err := os.Stat(volDir)
		return os.IsNotExist(err)
	})
	if err := fw.client.Call(ctx, &schedpb.Call{Type: schedpb.Call_RECONCILE_OPERATIONS.Enum(),
		ReconcileOperations: &schedpb.Call_ReconcileOperations{Operations: []*schedpb.Call_ReconcileOperations_Operation{
			{OperationId: &mesos.OperationID{Value: ptr("destroy-1")}}, {OperationId: &mesos.OperationID{Value: ptr("nope")}}}}}); err != nil {
		t.Fatal(err)
	}
	if st := operationStatus(t, fw, "destroy-1"); st.GetState() != mesos.OperationState_OPERATION_FINISHED || st.Uuid != nil {
		t.Errorf("reconciled destroy-1: %v, want OPERATION_FINISHED without a uuid", st)
	}
	if st := operationStatus(t, fw, "nope"); st.GetState() != mesos.OperationState_OPERATION_UNKNOWN {
		t.Errorf("reconciled unknown operation: %v, want OPERATION_UNKNOWN", st)
	}
	var listed struct {
		GetOperations struct {
			Operations []json.RawMessage `json:"operations"`
		} `json:"get_operations"`
	}
	code, body := operatorCall(t, r.masterURL, &masterpb.Call{Type: masterpb.Call_GET_OPERATIONS.Enum()})
	if err := json.Unmarshal(body, &listed); code != http.StatusOK || err != nil || len(listed.GetOperations.Operations) != 1 {
		t.Errorf("GET_OPERATIONS: %d %s (%v), want the unacknowledged destroy-1", code, body, err)
	}
}
