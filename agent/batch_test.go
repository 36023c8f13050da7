package agent

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/agent/core"
	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// What waits in a lane while a request is in flight goes to a master that
// takes batches in one BATCH, in order; to one that does not (its
// REGISTERED did not say so), one message a request.
func TestLaneSendsWhatQueuedAsOneBatch(t *testing.T) {
	for _, batches := range []bool{true, false} {
		t.Run(map[bool]string{true: "batches", false: "singles"}[batches], func(t *testing.T) {
			release := make(chan struct{})
			var mu sync.Mutex
			var requests []*agentproto.AgentMessage
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				body, _ := io.ReadAll(r.Body)
				msg := &agentproto.AgentMessage{}
				if err := proto.Unmarshal(body, msg); err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				mu.Lock()
				requests = append(requests, msg)
				first := len(requests) == 1
				mu.Unlock()
				if first {
					<-release // the rest queue up behind this one
				}
				w.WriteHeader(http.StatusAccepted)
			}))
			defer srv.Close()
			addr := strings.TrimPrefix(srv.URL, "http://")
			l := newMasterLink(addr, []string{addr}, slog.New(slog.DiscardHandler), func(core.Input) bool { return true }, func(core.Input) bool { return true })
			defer l.close()
			l.mu.Lock()
			l.streamGen, l.live, l.batches = 1, "s", batches
			l.mu.Unlock()

			// One task's updates share a lane, so they go in order.
			update := func(uuid byte) *agentproto.AgentMessage {
				return &agentproto.AgentMessage{Type: agentproto.AgentMessage_STATUS_UPDATE.Enum(), StatusUpdate: &agentproto.StatusUpdate{
					FrameworkId: &mesos.FrameworkID{Value: proto.String("f")},
					Status:      &mesos.TaskStatus{TaskId: &mesos.TaskID{Value: proto.String("t")}, State: mesos.TaskState_TASK_RUNNING.Enum(), Uuid: []byte{uuid}},
				}}
			}
			const n = 10
			l.send(core.Send{Msg: update(0), AgentID: "a", StreamID: "s"})
			deadline := time.Now().Add(patience)
			for {
				mu.Lock()
				inFlight := len(requests) == 1
				mu.Unlock()
				if inFlight {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the first message was not sent")
				}
				time.Sleep(time.Millisecond)
			}
			for i := 1; i < n; i++ {
				l.send(core.Send{Msg: update(byte(i)), AgentID: "a", StreamID: "s"})
			}
			close(release)
			var got []byte
			for time.Now().Before(deadline) {
				mu.Lock()
				got = got[:0]
				for _, req := range requests {
					msgs := []*agentproto.AgentMessage{req}
					if req.GetType() == agentproto.AgentMessage_BATCH {
						msgs = req.GetBatch()
					}
					for _, m := range msgs {
						got = append(got, m.GetStatusUpdate().GetStatus().GetUuid()...)
					}
				}
				reqs := len(requests)
				mu.Unlock()
				if len(got) == n {
					want := 2 // the first, then the nine that waited
					if !batches {
						want = n
					}
					if reqs != want {
						t.Errorf("%d requests carried the %d messages, want %d", reqs, n, want)
					}
					for i, u := range got {
						if int(u) != i {
							t.Fatalf("messages out of order: %v", got)
						}
					}
					return
				}
				time.Sleep(time.Millisecond)
			}
			t.Fatalf("the master got %d of %d messages", len(got), n)
		})
	}
}
