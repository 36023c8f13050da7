package master

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/internal/debugpprof"
	"github.com/gomesos/gomesos/internal/prom"
	"github.com/gomesos/gomesos/master/core"
	"github.com/gomesos/gomesos/registry"
	"github.com/gomesos/gomesos/webui"
)

// Header names of the agent protocol.
const (
	HeaderAgentID  = "Gomesos-Agent-Id"
	HeaderStreamID = "Gomesos-Stream-Id"
)

const maxBody = 32 << 20

// Handler is the master's HTTP API.
func (m *Master) Handler() http.Handler {
	mux := http.NewServeMux()
	both := func(path string, h http.HandlerFunc) {
		mux.HandleFunc(path, h)
		mux.HandleFunc("/master"+path, h)
	}
	both("/api/v1/scheduler", m.handleScheduler)
	both("/api/v1", m.handleOperator)
	mux.HandleFunc("/internal/agent/subscribe", m.handleAgentSubscribe)
	mux.HandleFunc("/internal/agent/message", m.handleAgentMessage)
	both("/state", m.handleState)
	both("/state.json", m.handleState)
	both("/state-summary", m.handleSummary)
	both("/frameworks", m.handleFrameworks)
	both("/slaves", m.handleSlaves)
	both("/tasks", m.handleTasks)
	both("/tasks.json", m.handleTasks)
	both("/flags", m.handleFlags)
	both("/roles", m.handleRoles)
	both("/roles.json", m.handleRoles)
	both("/weights", m.handleWeights)
	both("/quota", m.handleQuota)
	both("/quota/", m.handleQuota)
	both("/explain", m.handleExplain)
	both("/teardown", m.handleTeardown)
	both("/maintenance/schedule", m.handleMaintenanceSchedule)
	both("/maintenance/status", m.handleMaintenanceStatus)
	both("/machine/down", m.handleMachines(true))
	both("/machine/up", m.handleMachines(false))
	both("/health", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) })
	both("/redirect", m.handleRedirect)
	both("/redirect/", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	mux.HandleFunc("/version", m.handleVersion)
	mux.HandleFunc("/metrics/snapshot", m.handleMetrics)
	mux.HandleFunc("/metrics", m.handlePrometheus)
	if m.raft != nil {
		mux.Handle(registry.RaftPath, m.raft)
	}
	if m.cfg.Pprof {
		mux.Handle(debugpprof.Prefix, debugpprof.Handler())
	}
	// The web UI: index.html at "/" and its assets under /static/. "/" is
	// the mux's catch-all; the UI's handler answers 404 for any other path.
	mux.Handle("/", webui.Handler())
	return m.instrument(mux)
}

// textError writes an error the way Mesos does: a status and a plain-text
// message saying what is wrong.
func textError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(msg)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg)
}

// decodeCall reads a v1 call body through Mesos's request ladder
// (codec.DecodeCall), answering its refusals.
func decodeCall(w http.ResponseWriter, r *http.Request, msg proto.Message) bool {
	if _, rerr := codec.DecodeCall(r.Method, r.Header.Get("Content-Type"), codec.SizedBody{Reader: r.Body, Size: r.ContentLength}, maxBody, msg); rerr != nil {
		requestError(w, rerr)
		return false
	}
	return true
}

// unmarshalAgentMessage decodes an agent's REGISTER or REREGISTER, the
// tasks of which come by the hundred thousand after a failover, with
// agentproto's decoder.
func unmarshalAgentMessage(b []byte, m proto.Message) error {
	return agentproto.UnmarshalAgentMessage(b, m.(*agentproto.AgentMessage))
}

// agentBodies holds the buffers agents' registrations are read into
// (*[]byte): after a failover the new leader reads ten thousand at once,
// and a fresh buffer for each would be memory it has never touched (a page
// fault every 4 KiB), as it does not collect garbage while they come back
// (gcstorm.go). A buffer larger than maxPooledAgentBody is not kept.
var agentBodies = sync.Pool{New: func() any { return new([]byte) }}

const maxPooledAgentBody = 64 << 10

// requestError answers a refusal of the request ladder.
func requestError(w http.ResponseWriter, rerr *codec.RequestError) {
	if rerr.Allow != "" {
		w.Header().Set("Allow", rerr.Allow)
	}
	textError(w, rerr.Status, rerr.Message)
}

func (m *Master) handleScheduler(w http.ResponseWriter, r *http.Request) {
	if !m.leadGate(w, r) {
		return
	}
	call := &schedpb.Call{}
	if !decodeCall(w, r, call) {
		return
	}
	if err := core.ValidateSchedulerCall(call); err != nil {
		textError(w, http.StatusBadRequest, "Failed to validate scheduler::Call: "+err.Error())
		return
	}
	if call.GetType() != schedpb.Call_SUBSCRIBE {
		var res core.Result
		err := m.doLeading(func() {
			res = m.step(core.SchedulerCall{Call: call, Stream: r.Header.Get("Mesos-Stream-Id")})
		})
		if errors.Is(err, errNotLeading) {
			m.redirectToLeader(w, r, r.URL.RequestURI())
			return
		}
		if err != nil {
			textError(w, http.StatusServiceUnavailable, err.Error())
			return
		}
		if res.Code.Failed() {
			textError(w, httpStatus(res.Code), res.Message)
			return
		}
		w.WriteHeader(httpStatus(res.Code))
		return
	}
	enc, recordio, rerr := codec.AcceptStream(r.Header.Get("Accept"), r.Header.Get("Message-Accept"))
	if rerr != nil {
		requestError(w, rerr)
		return
	}
	if r.Header.Get("Mesos-Stream-Id") != "" {
		textError(w, http.StatusBadRequest, "Subscribe calls should not include the 'Mesos-Stream-Id' header")
		return
	}
	stream := uuid.NewString()
	s := m.newSink(enc)
	s.kind = "framework"
	var res core.Result
	if err := m.doLeading(func() {
		m.frameworkSinks[stream] = s
		res = m.step(core.SchedulerCall{Call: call, Stream: stream})
		s.id = res.FrameworkID
	}); errors.Is(err, errNotLeading) {
		m.redirectToLeader(w, r, r.URL.RequestURI())
		return
	} else if err != nil {
		textError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	if res.Code.Failed() {
		_ = m.do(func() { delete(m.frameworkSinks, stream) })
		textError(w, httpStatus(res.Code), res.Message)
		return
	}
	setStreamContentType(w, enc, recordio)
	w.Header().Set("Mesos-Stream-Id", stream)
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if m.pump(w, r, s) {
		_ = m.do(func() {
			delete(m.frameworkSinks, stream)
			m.step(core.StreamClosed{Stream: stream})
		})
	}
}

// setStreamContentType names a stream's encoding: the inner type, or
// application/recordio with Message-Content-Type when the client asked
// for RecordIO by name (Mesos's docs/recordio.md).
func setStreamContentType(w http.ResponseWriter, enc codec.Encoding, recordio bool) {
	if recordio {
		w.Header().Set("Content-Type", codec.MediaRecordIO)
		w.Header().Set("Message-Content-Type", enc.ContentType())
		return
	}
	w.Header().Set("Content-Type", enc.ContentType())
}

// pump copies a sink's records to a streaming response as RecordIO. It
// reports whether the client went away (rather than the master closing the
// stream, or dropping it because the client fell behind).
func (m *Master) pump(w http.ResponseWriter, r *http.Request, s *sink) (clientGone bool) {
	rc := http.NewResponseController(w)
	// A write blocked on a client that does not read fails once the
	// master drops the stream, or soon after it closes it. The deadline
	// goes when the stream ends, lest it outlive it on a connection the
	// client reuses.
	s.setAbort(func(deadline time.Time) { _ = rc.SetWriteDeadline(deadline) })
	defer func() {
		s.setAbort(nil)
		_ = rc.SetWriteDeadline(time.Time{})
	}()
	// The header goes out at once, so that the client knows its stream is
	// open; when records wait already (an agent's REGISTERED, a
	// framework's SUBSCRIBED), it goes with them, in one write.
	if !s.pending() {
		_ = rc.Flush()
	}
	rw := codec.NewRecordWriter(w)
	for {
		records, ok := s.next(r.Context())
		if !ok {
			return !s.closedByMaster() && r.Context().Err() != nil
		}
		for _, rec := range records {
			if err := rw.WriteRecord(rec); err != nil {
				return !s.closedByMaster()
			}
		}
		if err := rc.Flush(); err != nil {
			return !s.closedByMaster()
		}
		s.written()
	}
}

func (m *Master) handleAgentSubscribe(w http.ResponseWriter, r *http.Request) {
	if !m.awaitLeader(w, r) {
		return
	}
	msg := &agentproto.AgentMessage{}
	buf := agentBodies.Get().(*[]byte)
	_, body, rerr := codec.DecodeCallInto(r.Method, r.Header.Get("Content-Type"), codec.SizedBody{Reader: r.Body, Size: r.ContentLength}, maxBody, msg,
		unmarshalAgentMessage, *buf)
	// agentproto's decoder, and protobuf's, copy what they keep of the
	// body: it is read into the next registration's.
	if cap(body) <= maxPooledAgentBody {
		*buf = body
	}
	agentBodies.Put(buf)
	if rerr != nil {
		requestError(w, rerr)
		return
	}
	conn := uuid.NewString()
	s := m.newSink(codec.Protobuf)
	s.kind = "agent"
	var res core.Result
	if err := m.doLeading(func() {
		m.agentSinks[conn] = s
		res = m.step(core.AgentSubscribe{Conn: conn, Msg: msg})
		s.id = res.AgentID
	}); errors.Is(err, errNotLeading) {
		m.redirectToLeader(w, r, r.URL.RequestURI())
		return
	} else if err != nil {
		textError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	if res.Code.Failed() {
		_ = m.do(func() { delete(m.agentSinks, conn) })
		textError(w, httpStatus(res.Code), res.Message)
		return
	}
	w.Header().Set("Content-Type", codec.MediaProtobuf)
	w.Header().Set(HeaderStreamID, conn)
	w.Header().Set(HeaderAgentID, res.AgentID)
	w.WriteHeader(http.StatusOK)
	if m.pump(w, r, s) {
		_ = m.do(func() {
			delete(m.agentSinks, conn)
			m.step(core.AgentClosed{Conn: conn})
		})
	}
}

func (m *Master) handleAgentMessage(w http.ResponseWriter, r *http.Request) {
	if !m.leadGate(w, r) {
		return
	}
	msg := &agentproto.AgentMessage{}
	if !decodeCall(w, r, msg) {
		return
	}
	agentID, conn := r.Header.Get(HeaderAgentID), r.Header.Get(HeaderStreamID)
	if agentID == "" || conn == "" {
		textError(w, http.StatusBadRequest, fmt.Sprintf("Expecting the '%s' and '%s' headers", HeaderAgentID, HeaderStreamID))
		return
	}
	msgs := []*agentproto.AgentMessage{msg}
	if msg.GetType() == agentproto.AgentMessage_BATCH {
		if err := checkBatch(msg); err != nil {
			textError(w, http.StatusBadRequest, err.Error())
			return
		}
		msgs = msg.GetBatch()
	}
	// A batch's messages are stepped in order in one turn of the loop; the
	// first one refused ends it (the agent then re-registers, and its
	// registration carries its whole state).
	var res core.Result
	if err := m.doLeading(func() {
		for _, msg := range msgs {
			if res = m.step(core.AgentMessage{AgentID: agentID, Conn: conn, Msg: msg}); res.Code.Failed() {
				return
			}
		}
	}); errors.Is(err, errNotLeading) {
		m.redirectToLeader(w, r, r.URL.RequestURI())
		return
	} else if err != nil {
		textError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	if res.Code.Failed() {
		textError(w, httpStatus(res.Code), res.Message)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// maxAgentBatch bounds the messages of one BATCH.
const maxAgentBatch = 1024

// checkBatch validates a BATCH: it holds messages, at most maxAgentBatch, and
// none is itself a batch or a registration (those open streams).
func checkBatch(msg *agentproto.AgentMessage) error {
	batch := msg.GetBatch()
	switch {
	case len(batch) == 0:
		return errors.New("Expecting 'batch' to hold messages for a BATCH")
	case len(batch) > maxAgentBatch:
		return fmt.Errorf("A BATCH holds at most %d messages, not %d", maxAgentBatch, len(batch))
	}
	for i, inner := range batch {
		switch inner.GetType() {
		case agentproto.AgentMessage_BATCH, agentproto.AgentMessage_REGISTER, agentproto.AgentMessage_REREGISTER:
			return fmt.Errorf("Message %d of a BATCH is a %s, which cannot be batched", i, inner.GetType())
		}
	}
	return nil
}

// httpStatus is the HTTP status that answers a core result code.
func httpStatus(c core.Code) int {
	switch c {
	case core.Accepted:
		return http.StatusAccepted
	case core.OK:
		return http.StatusOK
	case core.Invalid:
		return http.StatusBadRequest
	case core.NotSubscribed:
		return http.StatusForbidden
	case core.Conflict:
		return http.StatusConflict
	case core.Unsupported:
		return http.StatusNotImplemented
	case core.NotFound:
		return http.StatusNotFound
	}
	return http.StatusInternalServerError
}

// view answers a legacy endpoint from the latest snapshot: write encodes
// it, on the handler's goroutine, while the loop goes on stepping.
func (m *Master) view(w http.ResponseWriter, r *http.Request, write func(*core.Snapshot, io.Writer) error) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		requestError(w, codec.MethodNotAllowed(r.Method, "GET"))
		return
	}
	m.warm.read(time.Now())
	snap := m.latest()
	cb := r.URL.Query().Get("jsonp")
	if cb != "" && !jsonpName.MatchString(cb) {
		textError(w, http.StatusBadRequest, "Invalid 'jsonp' callback name")
		return
	}
	m.encoders.acquire()
	defer m.encoders.release()
	bw := bufio.NewWriterSize(m.encoders.writer(w), 64<<10)
	if cb != "" {
		w.Header().Set("Content-Type", "text/javascript")
		_, _ = bw.WriteString(cb + "(")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	// An error here is the client's going away: the status is sent.
	if write(snap, bw) == nil && cb != "" {
		_, _ = bw.WriteString(");")
	}
	_ = bw.Flush()
}

var jsonpName = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$.]*$`)

func writeJSON(w http.ResponseWriter, r *http.Request, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		textError(w, http.StatusInternalServerError, "encoding response: "+err.Error())
		return
	}
	if cb := r.URL.Query().Get("jsonp"); cb != "" {
		if !jsonpName.MatchString(cb) {
			textError(w, http.StatusBadRequest, "Invalid 'jsonp' callback name")
			return
		}
		w.Header().Set("Content-Type", "text/javascript")
		_, _ = fmt.Fprintf(w, "%s(%s);", cb, b)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

func (m *Master) flags() map[string]string {
	out := map[string]string{}
	for k, v := range m.cfg.Flags {
		out[k] = v
	}
	return out
}

func (m *Master) handleState(w http.ResponseWriter, r *http.Request) {
	m.view(w, r, func(s *core.Snapshot, w io.Writer) error {
		return s.WriteState(w, m.cfg.Build, m.flags(), m.cfg.Cluster)
	})
}

func (m *Master) handleSummary(w http.ResponseWriter, r *http.Request) {
	m.view(w, r, func(s *core.Snapshot, w io.Writer) error { return s.WriteSummary(w, m.cfg.Cluster) })
}

func (m *Master) handleFrameworks(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("framework_id")
	m.view(w, r, func(s *core.Snapshot, w io.Writer) error { return s.WriteFrameworks(w, id) })
}

func (m *Master) handleSlaves(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("slave_id")
	m.view(w, r, func(s *core.Snapshot, w io.Writer) error { return s.WriteSlaves(w, id) })
}

func (m *Master) handleTasks(w http.ResponseWriter, r *http.Request) {
	q := core.TaskQuery{Limit: 100}
	params := r.URL.Query()
	var err error
	if s := params.Get("limit"); s != "" {
		if q.Limit, err = strconv.Atoi(s); err != nil || q.Limit < 0 {
			textError(w, http.StatusBadRequest, "Failed to parse 'limit': expecting a non-negative integer, got '"+s+"'")
			return
		}
	}
	if s := params.Get("offset"); s != "" {
		if q.Offset, err = strconv.Atoi(s); err != nil || q.Offset < 0 {
			textError(w, http.StatusBadRequest, "Failed to parse 'offset': expecting a non-negative integer, got '"+s+"'")
			return
		}
	}
	switch params.Get("order") {
	case "", "des":
	case "asc":
		q.Ascending = true
	default:
		textError(w, http.StatusBadRequest, "Failed to parse 'order': expecting 'asc' or 'des'")
		return
	}
	q.FrameworkID = params.Get("framework_id")
	q.TaskID = params.Get("task_id")
	m.view(w, r, func(s *core.Snapshot, w io.Writer) error { return s.WriteTasks(w, q) })
}

func (m *Master) handleFlags(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, r, map[string]any{"flags": m.flags()})
}

func (m *Master) handleVersion(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, r, m.cfg.Build.VersionDocument())
}

func (m *Master) handleMetrics(w http.ResponseWriter, r *http.Request) {
	timeout, msg, ok := prom.Timeout(r)
	if !ok {
		textError(w, http.StatusBadRequest, msg)
		return
	}
	// Every figure comes from one snapshot: ?timeout= bounds the wait for
	// a fresh one (the last published one answers after it), so no figure
	// is ever left out.
	wait := freshWait
	if timeout > 0 {
		wait = min(wait, timeout)
	}
	snap := m.figures(m.latestWithin(wait))
	out := make(map[string]codec.Double, len(snap))
	for k, v := range snap {
		out[k] = codec.Double(v)
	}
	writeJSON(w, r, out)
}

// handleRedirect answers /master/redirect with the leading master's
// address (this master's own while it leads), or 503 while none is known.
func (m *Master) handleRedirect(w http.ResponseWriter, r *http.Request) {
	m.redirectToLeader(w, r, "")
}
