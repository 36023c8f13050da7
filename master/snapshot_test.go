package master_test

// Readers of the legacy endpoints read snapshots the loop published: a
// reader that is slow to take its response holds its snapshot, not the
// loop.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/master/core"
)

// stalledWriter is a response writer whose client stopped reading: the
// first Write blocks until release is closed.
type stalledWriter struct {
	header  http.Header
	entered chan struct{} // closed at the first Write
	release chan struct{}
	once    sync.Once
	mu      sync.Mutex
	body    strings.Builder
}

func newStalledWriter(release chan struct{}) *stalledWriter {
	return &stalledWriter{header: http.Header{}, entered: make(chan struct{}), release: release}
}

func (w *stalledWriter) Header() http.Header { return w.header }
func (w *stalledWriter) WriteHeader(int)     {}

func (w *stalledWriter) Write(b []byte) (int, error) {
	w.once.Do(func() { close(w.entered) })
	<-w.release
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.body.Write(b)
}

// Readers stuck in the middle of /master/state and /metrics/snapshot
// responses hold nothing the loop needs, nor other readers: meanwhile
// agents' updates and schedulers' calls are answered, and new readers see
// the new state. When the stuck readers go on, they finish the state they
// started with.
func TestStalledReadersDoNotStallTheLoop(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1", "cpus:400;mem:40000")
	s := subscribe(t, m, frameworkInfo("busy"), codec.JSON)
	// Enough tasks for /master/state to be larger than the handler's
	// buffer, so that the stuck readers stop mid-encoding.
	o := s.nextOffers()[0]
	var tasks []*mesos.TaskInfo
	for i := range 300 {
		tasks = append(tasks, commandTask(fmt.Sprintf("task-%03d", i), "cpus:1;mem:32", o))
	}
	s.accept(offerIDs(o), 0, launchOp(tasks...))

	release := make(chan struct{})
	var stuck []*stalledWriter
	var wg sync.WaitGroup
	for _, path := range []string{"/master/state", "/master/state", "/master/state", "/metrics/snapshot"} {
		w := newStalledWriter(release)
		stuck = append(stuck, w)
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
		}()
	}
	t.Cleanup(func() {
		select {
		case <-release:
		default:
			close(release)
		}
		wg.Wait()
	})
	for _, w := range stuck {
		<-w.entered
	}

	// The loop goes on: an agent's update reaches the framework, whose
	// calls are answered, and a new reader sees the update.
	s.nextUpdateAfter(a, "task-000", mesos.TaskState_TASK_RUNNING)
	s.call(&schedpb.Call{Type: schedpb.Call_KILL.Enum(), Kill: &schedpb.Call_Kill{TaskId: tasks[1].GetTaskId()}})
	a.next(agentproto.MasterMessage_KILL_TASK)
	if got := taskState(t, []byte(mustGet(t, m, "/master/state")), "task-000"); got != "TASK_RUNNING" {
		t.Errorf("a new reader sees task-000 %s, want TASK_RUNNING", got)
	}
	if got := m.metrics()["master/tasks_running"]; got != 1 {
		t.Errorf("a new reader's master/tasks_running = %v, want 1", got)
	}

	// The stuck readers finish the snapshot they started with.
	close(release)
	wg.Wait()
	for i, w := range stuck[:3] {
		if got := taskState(t, []byte(w.body.String()), "task-000"); got != "TASK_STAGING" {
			t.Errorf("stuck reader %d: task-000 is %s, want TASK_STAGING as when it started", i, got)
		}
	}
	var metrics map[string]float64
	if err := json.Unmarshal([]byte(stuck[3].body.String()), &metrics); err != nil || metrics["master/tasks_staging"] != 300 {
		t.Errorf("stuck /metrics/snapshot: tasks_staging %v (%v), want 300", metrics["master/tasks_staging"], err)
	}
}

func mustGet(t *testing.T, m *testMaster, path string) string {
	t.Helper()
	status, _, body := m.do(http.MethodGet, path, nil, nil)
	if status != http.StatusOK {
		t.Fatalf("GET %s: %d %q", path, status, body)
	}
	return body
}

// taskState finds a task's state in a /master/state response.
func taskState(t *testing.T, body []byte, taskID string) string {
	t.Helper()
	var st core.StateView
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatalf("decoding /master/state: %v", err)
	}
	for _, fw := range st.Frameworks {
		for _, task := range fw.Tasks {
			if task.ID == taskID {
				return task.State
			}
		}
	}
	return "absent"
}
