package core

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

func su(task string, state mesos.TaskState, id byte) *agentproto.StatusUpdate {
	return &agentproto.StatusUpdate{
		FrameworkId: &mesos.FrameworkID{Value: proto.String("fw")},
		Status: &mesos.TaskStatus{
			TaskId: &mesos.TaskID{Value: proto.String(task)},
			State:  state.Enum(),
			Uuid:   bytes.Repeat([]byte{id}, 16),
		},
	}
}

// The status update manager keeps one update per task in flight, resends it
// with doubling intervals up to the maximum, and ends a stream when its
// terminal update is acknowledged.
func TestUpdateManagerStreams(t *testing.T) {
	now := time.Unix(0, 0)
	m := newUpdateManager(time.Second, 4*time.Second)
	k := updateKey{"fw", "t"}

	// Paused (no master): nothing is sent, but everything is kept.
	if send, _ := m.add(now, su("t", mesos.TaskState_TASK_STARTING, 1)); send != nil {
		t.Fatal("sent while paused")
	}
	if got := m.resume(now); len(got) != 1 || got[0].GetStatus().GetState() != mesos.TaskState_TASK_STARTING {
		t.Fatalf("resume = %v", got)
	}
	if send, _ := m.add(now, su("t", mesos.TaskState_TASK_RUNNING, 2)); send != nil {
		t.Fatal("second update sent while the first is in flight")
	}
	if !m.isDuplicate(k, bytes.Repeat([]byte{2}, 16)) || m.isDuplicate(k, bytes.Repeat([]byte{9}, 16)) {
		t.Error("duplicate detection")
	}

	var intervals []time.Duration
	last := now
	for range 5 {
		d := m.nextDeadline()
		intervals = append(intervals, d.Sub(last))
		last = d
		if got := m.due(d); len(got) != 1 {
			t.Fatalf("due at %v: %v", d, got)
		}
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 4 * time.Second, 4 * time.Second}
	for i := range want {
		if intervals[i] != want[i] {
			t.Fatalf("retry intervals %v, want %v", intervals, want)
		}
	}

	if _, _, err := m.ack(now, k, bytes.Repeat([]byte{2}, 16)); !errors.Is(err, errUnexpectedAck) {
		t.Errorf("ack of the second update while the first is in flight: %v", err)
	}
	next, done, err := m.ack(now, k, bytes.Repeat([]byte{1}, 16))
	if err != nil || done || next.GetStatus().GetState() != mesos.TaskState_TASK_RUNNING {
		t.Fatalf("ack: %v %v %v", next, done, err)
	}
	if _, err := m.add(now, su("t", mesos.TaskState_TASK_FINISHED, 3)); err != nil {
		t.Fatal(err)
	}
	if _, err := m.add(now, su("t", mesos.TaskState_TASK_FAILED, 4)); err == nil {
		t.Error("an update after a terminal one was accepted")
	}
	m.ack(now, k, bytes.Repeat([]byte{2}, 16))
	if h := m.head(k); h.GetStatus().GetState() != mesos.TaskState_TASK_FINISHED {
		t.Fatalf("head = %v", h)
	}
	m.pause()
	if got := m.due(now.Add(time.Hour)); len(got) != 0 {
		t.Errorf("due while paused: %v", got)
	}
	if _, done, _ := m.ack(now, k, bytes.Repeat([]byte{3}, 16)); !done {
		t.Error("terminal ack did not end the stream")
	}
	if len(m.streams) != 0 || !m.nextDeadline().IsZero() {
		t.Errorf("left: %v", m.streams)
	}
}
