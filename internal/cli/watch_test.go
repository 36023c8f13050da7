package cli

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	masterpb "github.com/gomesos/gomesos/api/v1/master"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/internal/testutil"
	"github.com/gomesos/gomesos/operator"
	"google.golang.org/protobuf/proto"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// When the stream drops, watch subscribes again (to whichever master
// answers) and goes on printing; it ends without error when ctx ends.
func TestWatchSubscribesAgainWhenTheStreamDrops(t *testing.T) {
	var mu sync.Mutex
	streams := 0
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		streams++
		n := streams
		mu.Unlock()
		w.Header().Set("Content-Type", codec.Protobuf.ContentType())
		rw := codec.NewRecordWriter(w)
		send := func(ev *masterpb.Event) {
			b, _ := codec.Marshal(codec.Protobuf, ev)
			rw.WriteRecord(b)
			w.(http.Flusher).Flush()
		}
		send(&masterpb.Event{Type: masterpb.Event_SUBSCRIBED.Enum(), Subscribed: &masterpb.Event_Subscribed{GetState: &masterpb.Response_GetState{}}})
		send(&masterpb.Event{Type: masterpb.Event_HEARTBEAT.Enum()})
		if n == 1 {
			return // the stream drops
		}
		send(&masterpb.Event{Type: masterpb.Event_TASK_UPDATED.Enum(), TaskUpdated: &masterpb.Event_TaskUpdated{
			FrameworkId: &mesos.FrameworkID{Value: proto.String("fw")},
			Status: &mesos.TaskStatus{TaskId: &mesos.TaskID{Value: proto.String("t1")}, State: mesos.TaskState_TASK_FAILED.Enum(),
				AgentId: &mesos.AgentID{Value: proto.String("ag")}},
			State: mesos.TaskState_TASK_FAILED.Enum(),
		}})
		select {
		case <-r.Context().Done():
		case <-release:
		}
	}))
	defer srv.Close()
	defer close(release)
	c, err := operator.New([]string{srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out, notes lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- Watch(ctx, c, WatchOptions{Output: Output{W: &out}, Reconnect: 5 * time.Second, Stderr: &notes})
	}()
	want := "SUBSCRIBED agents=0 frameworks=0 tasks=0\nSUBSCRIBED agents=0 frameworks=0 tasks=0\n" +
		"TASK_UPDATED task=t1 framework=fw agent=ag state=TASK_FAILED\n"
	testutil.WaitFor(t, "watch to print both streams' events", waitTimeout, func() bool { return out.String() == want })
	if !strings.Contains(notes.String(), "subscribing again") {
		t.Errorf("no note of the drop: %q", notes.String())
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Watch after cancel: %v", err)
	}

	// Without Reconnect, the stream's end is watch's.
	out = lockedBuffer{}
	mu.Lock()
	streams = 0
	mu.Unlock()
	if err := Watch(context.Background(), c, WatchOptions{Output: Output{W: &out}}); err != nil || out.String() != "SUBSCRIBED agents=0 frameworks=0 tasks=0\n" {
		t.Errorf("Watch without reconnect: %v, %q", err, out.String())
	}
}
