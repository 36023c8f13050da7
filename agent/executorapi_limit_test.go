package agent

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"

	execpb "github.com/gomesos/gomesos/api/v1/executor"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
)

// An executor call whose body is longer than maxCallBody is refused with
// 413 and a message naming the limit, as the master's v1 endpoints do, and
// changes nothing: it is not cut to the limit and taken for a shorter call.
// A body of exactly the limit is a call like any other. (The calls here are
// JSON padded with trailing spaces, so that a body cut short would still be
// the same, valid, call.)
func TestExecutorAPIRefusesBodiesOverTheLimit(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	a := startAgent(t, fm, nil)
	agentID := a.registered(t)
	fm.send(runTask(customTask("t1", agentID, "hand", "exec sleep 1000")))
	eventually(t, "the executor to be launched", func() bool {
		var st stateJSONForTest
		getJSON(t, a, "/state", &st)
		return len(st.Frameworks) == 1 && len(st.Frameworks[0].Executors) == 1
	})
	subscribe := execCall("fw-1", "hand", execpb.Call_SUBSCRIBE)
	subscribe.Subscribe = &execpb.Call_Subscribe{}
	events := subscribeStream(t, a, subscribe)
	events.next(t, execpb.Event_SUBSCRIBED)
	events.next(t, execpb.Event_LAUNCH)

	padded := func(c *execpb.Call, size int) []byte {
		b := callBytes(t, codec.JSON, c)
		return append(b, bytes.Repeat([]byte(" "), size-len(b))...)
	}
	type snapshot struct {
		tasks   []taskForTest
		metrics map[string]float64
	}
	snap := func() snapshot {
		var st stateJSONForTest
		getJSON(t, a, "/state", &st)
		var s snapshot
		for _, fw := range st.Frameworks {
			for _, ex := range fw.Executors {
				s.tasks = append(s.tasks, ex.Tasks...)
				s.tasks = append(s.tasks, ex.QueuedTasks...)
			}
		}
		getJSON(t, a, "/metrics/snapshot", &s.metrics)
		return s
	}
	before := snap()

	tooLong := update("fw-1", "hand", "t1", mesos.TaskState_TASK_RUNNING, bytes.Repeat([]byte{7}, 16))
	r := postCall(t, a, "/api/v1/executor", codec.MediaJSON, "", padded(tooLong, maxCallBody+1))
	if r.code != http.StatusRequestEntityTooLarge || !strings.Contains(r.body, strconv.Itoa(maxCallBody)) {
		t.Fatalf("a body of %d bytes: %d %q, want 413 naming the limit %d", maxCallBody+1, r.code, r.body, maxCallBody)
	}
	after := snap()
	if len(after.tasks) != 1 || len(before.tasks) != 1 || after.tasks[0] != before.tasks[0] {
		t.Errorf("the refused call changed the executor's tasks: %+v, before %+v", after.tasks, before.tasks)
	}
	for _, name := range []string{"slave/valid_status_updates", "slave/invalid_status_updates"} {
		if after.metrics[name] != before.metrics[name] {
			t.Errorf("the refused call changed %s: %v, before %v", name, after.metrics[name], before.metrics[name])
		}
	}

	// At the limit: accepted. It is the first update the executor hears
	// acknowledged and the master hears of, so the refused one went
	// nowhere.
	atLimit := update("fw-1", "hand", "t1", mesos.TaskState_TASK_RUNNING, bytes.Repeat([]byte{8}, 16))
	if r := postCall(t, a, "/api/v1/executor", codec.MediaJSON, "", padded(atLimit, maxCallBody)); r.code != http.StatusAccepted {
		t.Fatalf("a body of exactly %d bytes: %d %q, want 202", maxCallBody, r.code, r.body)
	}
	if ack := events.next(t, execpb.Event_ACKNOWLEDGED).GetAcknowledged(); !bytes.Equal(ack.GetUuid(), atLimit.GetUpdate().GetStatus().GetUuid()) {
		t.Errorf("ACKNOWLEDGED %x, want the accepted update's uuid", ack.GetUuid())
	}
	fm.waitUpdate("t1", mesos.TaskState_TASK_RUNNING)
	if ups := fm.updatesFor("t1"); len(ups) != 1 || !bytes.Equal(ups[0].GetStatus().GetUuid(), atLimit.GetUpdate().GetStatus().GetUuid()) {
		t.Errorf("the master got %d updates for t1 (%v), want only the accepted one", len(ups), ups)
	}
	if got := snap().metrics["slave/valid_status_updates"]; got != before.metrics["slave/valid_status_updates"]+1 {
		t.Errorf("slave/valid_status_updates = %v, want one more than the %v before", got, before.metrics["slave/valid_status_updates"])
	}
}
