package agent

import (
	"fmt"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomesos/gomesos/agent/core"
	execpb "github.com/gomesos/gomesos/api/v1/executor"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/internal/ids"
)

// maxCallBody bounds an executor call's body.
const maxCallBody = 16 << 20

// execStream is one executor's open SUBSCRIBE response.
type execStream struct {
	id     int64
	enc    codec.Encoding
	events chan *execpb.Event
	closed chan struct{}
	once   sync.Once
}

func (s *execStream) close() { s.once.Do(func() { close(s.closed) }) }

// eventQueueCapacity bounds the events waiting to be written on one
// executor's stream.
const eventQueueCapacity = 1024

// send queues an event without blocking. An executor that does not read
// its events as fast as they come is cut off: when its queue is full its
// stream is closed, and the executor has to subscribe again (a
// checkpointing one does, as with Mesos; one that does not checkpoint gives
// up).
// send returns false only when it closed the stream for that reason; events
// for a stream already closed are dropped.
func (s *execStream) send(ev *execpb.Event) bool {
	select {
	case <-s.closed:
		return true
	default:
	}
	select {
	case s.events <- ev:
		return true
	default:
		s.close()
		return false
	}
}

// streams is the registry of open executor streams, shared by the HTTP
// handlers (which add and remove them) and the agent loop (which writes to
// them). The loop's lookups take no lock, so that the loop never waits
// behind a thousand handlers: a sync.Map's loads do not, and its stores
// cost the same with a thousand streams open as with one (the map used to
// be copied whole for each, a thousand entries per subscription in a
// launch of a thousand tasks).
type streams struct {
	next atomic.Int64
	m    sync.Map // int64 -> *execStream
}

func (ss *streams) add(enc codec.Encoding) *execStream {
	s := &execStream{id: ss.next.Add(1), enc: enc, events: make(chan *execpb.Event, eventQueueCapacity), closed: make(chan struct{})}
	ss.m.Store(s.id, s)
	return s
}

func (ss *streams) get(id int64) *execStream {
	if s, ok := ss.m.Load(id); ok {
		return s.(*execStream)
	}
	return nil
}

func (ss *streams) remove(id int64) { ss.m.Delete(id) }

func (ss *streams) closeAll() {
	ss.m.Range(func(_, s any) bool {
		s.(*execStream).close()
		return true
	})
}

// serveExecutorAPI is POST /api/v1/executor, with Mesos's ladder of checks
// (slave/http.cpp, Http::executor).
func (a *Agent) serveExecutorAPI(w http.ResponseWriter, r *http.Request) {
	call := &execpb.Call{}
	if _, rerr := codec.DecodeCall(r.Method, r.Header.Get("Content-Type"), codec.SizedBody{Reader: r.Body, Size: r.ContentLength}, maxCallBody, call); rerr != nil {
		requestError(w, rerr)
		return
	}
	if msg := validateExecutorCall(call); msg != "" {
		httpError(w, http.StatusBadRequest, "Failed to validate Executor::Call: "+msg)
		return
	}

	var respEnc codec.Encoding
	var recordio bool
	switch call.GetType() {
	case execpb.Call_SUBSCRIBE:
		var rerr *codec.RequestError
		respEnc, recordio, rerr = codec.AcceptStream(r.Header.Get("Accept"), r.Header.Get("Message-Accept"))
		if rerr != nil {
			requestError(w, rerr)
			return
		}
	case execpb.Call_HEARTBEAT:
		w.WriteHeader(http.StatusAccepted)
		return
	}

	var stream *execStream
	if call.GetType() == execpb.Call_SUBSCRIBE {
		stream = a.streams.add(respEnc)
		defer a.streams.remove(stream.id)
	}
	reply := make(chan core.CallResult, 1)
	in := core.ExecutorCall{Call: call, Reply: reply}
	if stream != nil {
		in.Conn = stream.id
	}
	if !a.deliver(in) {
		httpError(w, http.StatusServiceUnavailable, "Agent is shutting down")
		return
	}
	var res core.CallResult
	select {
	case res = <-reply:
	case <-a.stopped:
		httpError(w, http.StatusServiceUnavailable, "Agent is shutting down")
		return
	}
	if res.Status != core.CallOK {
		if res.Msg != "" {
			httpError(w, callHTTPStatus(res.Status), res.Msg)
		} else {
			w.WriteHeader(callHTTPStatus(res.Status))
		}
		return
	}
	a.streamEvents(w, r, stream, recordio)
}

// callHTTPStatus is the executor API's answer for the core's verdict on a
// call, as Mesos answers.
func callHTTPStatus(s core.CallStatus) int {
	switch s {
	case core.CallOK:
		return http.StatusOK
	case core.CallAccepted:
		return http.StatusAccepted
	case core.CallBadRequest:
		return http.StatusBadRequest
	case core.CallForbidden:
		return http.StatusForbidden
	case core.CallNotImplemented:
		return http.StatusNotImplemented
	}
	return http.StatusInternalServerError
}

// streamEvents writes an executor's events as RecordIO until the stream is
// closed by the agent or the executor goes away.
func (a *Agent) streamEvents(w http.ResponseWriter, r *http.Request, s *execStream, recordio bool) {
	defer a.deliver(core.ExecutorDisconnected{Conn: s.id})
	if recordio {
		w.Header().Set("Content-Type", codec.MediaRecordIO)
		w.Header().Set("Message-Content-Type", s.enc.ContentType())
	} else {
		w.Header().Set("Content-Type", s.enc.ContentType())
	}
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	flusher, _ := w.(http.Flusher)
	if flusher != nil {
		flusher.Flush()
	}
	rw := codec.NewRecordWriter(w)
	write := func(ev *execpb.Event) bool {
		data, err := codec.Marshal(s.enc, ev)
		if err != nil {
			a.log.Error("encoding an executor event", "err", err)
			return true
		}
		if err := rw.WriteRecord(data); err != nil {
			return false
		}
		if flusher != nil {
			flusher.Flush()
		}
		return true
	}
	heartbeat := time.NewTicker(ExecutorHeartbeatInterval)
	defer heartbeat.Stop()
	for {
		select {
		case ev := <-s.events:
			if !write(ev) {
				return
			}
		case <-heartbeat.C:
			if !write(&execpb.Event{Type: execpb.Event_HEARTBEAT.Enum()}) {
				return
			}
		case <-s.closed:
			for {
				select {
				case ev := <-s.events:
					if !write(ev) {
						return
					}
				default:
					return
				}
			}
		case <-r.Context().Done():
			return
		case <-a.stopped:
			return
		}
	}
}

// validateExecutorCall is Mesos's validation of executor calls, plus Mesos's
// id rule for the ids a call names; it returns the reason a call is invalid,
// or "".
func validateExecutorCall(call *execpb.Call) string {
	if call.Type == nil {
		return "Expecting 'type' to be present"
	}
	// The ids name the executor's sandbox: one that could leave the work
	// directory is refused before the call reaches the core.
	if err := ids.Validate(call.GetExecutorId().GetValue()); err != nil {
		return "'executor_id' is invalid: " + err.Error()
	}
	if err := ids.Validate(call.GetFrameworkId().GetValue()); err != nil {
		return "'framework_id' is invalid: " + err.Error()
	}
	switch call.GetType() {
	case execpb.Call_SUBSCRIBE:
		if call.Subscribe == nil {
			return "Expecting 'subscribe' to be present"
		}
	case execpb.Call_UPDATE:
		if call.Update == nil {
			return "Expecting 'update' to be present"
		}
		st := call.GetUpdate().GetStatus()
		if st.Uuid == nil {
			return "Expecting 'uuid' to be present"
		}
		if len(st.GetUuid()) != 16 {
			return fmt.Sprintf("Invalid UUID: expected 16 bytes, got %d", len(st.GetUuid()))
		}
		if st.ExecutorId != nil && st.GetExecutorId().GetValue() != call.GetExecutorId().GetValue() {
			return "ExecutorID in Call: " + call.GetExecutorId().GetValue() +
				" does not match ExecutorID in TaskStatus: " + st.GetExecutorId().GetValue()
		}
		if st.GetSource() != mesos.TaskStatus_SOURCE_EXECUTOR {
			return "Received Call from executor " + call.GetExecutorId().GetValue() +
				" of framework " + call.GetFrameworkId().GetValue() +
				" with invalid source, expecting 'SOURCE_EXECUTOR'"
		}
		if st.GetState() == mesos.TaskState_TASK_STAGING {
			return "Received TASK_STAGING from executor " + call.GetExecutorId().GetValue() +
				" of framework " + call.GetFrameworkId().GetValue() + " which is not allowed"
		}
		if err := ids.Validate(st.GetTaskId().GetValue()); err != nil {
			return "'update.status.task_id' is invalid: " + err.Error()
		}
	case execpb.Call_MESSAGE:
		if call.Message == nil {
			return "Expecting 'message' to be present"
		}
	}
	return ""
}

// httpError writes a plain-text error, as libprocess does.
// requestError answers a refusal of the v1 request ladder.
func requestError(w http.ResponseWriter, rerr *codec.RequestError) {
	if rerr.Allow != "" {
		w.Header().Set("Allow", rerr.Allow)
	}
	httpError(w, rerr.Status, rerr.Message)
}

func httpError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg)
}
