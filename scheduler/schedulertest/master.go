// Package schedulertest provides a fake Mesos master for testing schedulers
// written with package scheduler, in the spirit of net/http/httptest.
//
// The fake serves POST /api/v1/scheduler over real HTTP on a loopback port
// and speaks the real protocol: JSON or protobuf bodies, a RecordIO event
// stream with a Mesos-Stream-Id header, 202 for accepted calls, the master's
// 400/403 answers for unknown frameworks, unsubscribed frameworks and bad
// stream ids, ERROR "Framework failed over" to a replaced stream, TEARDOWN
// closing the stream, "Framework has been removed" afterwards, and optional
// 307 redirects to another master. It holds no offers, agents or tasks: a
// test sends whatever events it wants with Send and inspects the calls the
// scheduler made with NextCall and Calls. A disconnected framework is never
// removed (as with an infinite failover_timeout).
//
// It must not be used outside tests; it is not a master.
package schedulertest

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
)

// Path is the scheduler endpoint.
const Path = "/api/v1/scheduler"

// ErrStreamClosed is returned by Send when the stream has ended.
var ErrStreamClosed = errors.New("schedulertest: event stream closed")

// Master is a fake Mesos master. Create it with NewMaster and Close it when
// done. Its methods are safe for concurrent use.
type Master struct {
	srv    *httptest.Server
	id     string
	closed chan struct{}

	mu             sync.Mutex
	changed        chan struct{} // closed and replaced on every change
	heartbeat      time.Duration
	sendHeartbeats bool
	redirect       string
	onSubscribe    func(*schedpb.Call) *schedpb.Event
	rejectCode     int
	rejectBody     string
	onCall         func(*Call) (int, string)
	frameworks     map[string]*framework
	nextFramework  int
	streams        []*Stream
	streamCursor   int
	calls          []*Call
	callCursor     map[schedpb.Call_Type]int
	subscribes     int
}

type framework struct {
	removed bool
	stream  *Stream
}

// Call is one non-SUBSCRIBE call the master received.
type Call struct {
	Call     *schedpb.Call
	Header   http.Header
	Encoding codec.Encoding
	Status   int // the status the master answered
}

// Stream is one accepted SUBSCRIBE: the open event stream to a scheduler.
type Stream struct {
	ID          string         // its Mesos-Stream-Id
	FrameworkID string         // the framework it belongs to
	Subscribe   *schedpb.Call  // the SUBSCRIBE call
	Header      http.Header    // the SUBSCRIBE request headers
	Encoding    codec.Encoding // the negotiated event encoding

	events   chan *schedpb.Event
	drop     chan struct{}
	dropOnce sync.Once
	done     chan struct{}
}

// NewMaster starts a fake master on a loopback port. Its SUBSCRIBED events
// report a heartbeat interval of 15s, and it sends no heartbeats unless
// SetHeartbeat says so.
func NewMaster() *Master {
	m := &Master{
		id:         newUUID(),
		closed:     make(chan struct{}),
		changed:    make(chan struct{}),
		heartbeat:  15 * time.Second,
		frameworks: map[string]*framework{},
		callCursor: map[schedpb.Call_Type]int{},
	}
	m.srv = httptest.NewServer(http.HandlerFunc(m.serveHTTP))
	return m
}

// URL is the master's base URL, "http://127.0.0.1:port".
func (m *Master) URL() string { return m.srv.URL }

// Addr is the master's "host:port".
func (m *Master) Addr() string { return m.srv.Listener.Addr().String() }

// ID is the master id; framework ids are "<ID>-0000", "<ID>-0001", ...
func (m *Master) ID() string { return m.id }

// Close ends every stream and shuts the server down, waiting for its
// handlers to return.
func (m *Master) Close() {
	m.mu.Lock()
	select {
	case <-m.closed:
	default:
		close(m.closed)
	}
	m.mu.Unlock()
	m.srv.CloseClientConnections()
	m.srv.Close()
}

// SetHeartbeat sets the interval reported in SUBSCRIBED and whether HEARTBEAT
// events are actually sent at that interval. It affects later streams.
func (m *Master) SetHeartbeat(interval time.Duration, send bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.heartbeat, m.sendHeartbeats = interval, send
}

// RedirectTo makes this master a non-leader: every well-formed scheduler
// request is answered 307 with Location "//<addr>/api/v1/scheduler", as Mesos does. An
// empty addr makes it answer again.
func (m *Master) RedirectTo(addr string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.redirect = addr
}

// OnSubscribe replaces the first event of each accepted subscription. f gets
// the SUBSCRIBE call (framework_info.id filled in) and returns the event to
// send; nil means the usual SUBSCRIBED. If the event is an ERROR the stream is
// closed after it.
func (m *Master) OnSubscribe(f func(*schedpb.Call) *schedpb.Event) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.onSubscribe = f
}

// RejectSubscribe answers every SUBSCRIBE with code and body; code 0 stops.
func (m *Master) RejectSubscribe(code int, body string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rejectCode, m.rejectBody = code, body
}

// OnCall installs a hook run for every decoded non-SUBSCRIBE call before the
// master's own checks. A non-zero code is answered as is with body; 0 lets
// the master handle the call. The hook runs on the request's goroutine and
// may call Send.
func (m *Master) OnCall(f func(*Call) (code int, body string)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.onCall = f
}

// Send queues ev on the live stream of framework frameworkID ("" means the
// most recent stream). It fails when there is no live stream.
func (m *Master) Send(frameworkID string, ev *schedpb.Event) error {
	m.mu.Lock()
	var s *Stream
	if frameworkID == "" {
		if n := len(m.streams); n > 0 {
			s = m.streams[n-1]
		}
	} else if fw := m.frameworks[frameworkID]; fw != nil {
		s = fw.stream
	}
	m.mu.Unlock()
	if s == nil {
		return ErrStreamClosed
	}
	return s.Send(ev)
}

// Subscribes counts the SUBSCRIBE requests that reached this master,
// including rejected and redirected ones.
func (m *Master) Subscribes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.subscribes
}

// WaitSubscribes waits until at least n SUBSCRIBE requests have reached the
// master.
func (m *Master) WaitSubscribes(ctx context.Context, n int) error {
	return m.wait(ctx, func() bool { return m.subscribes >= n })
}

// Calls returns every non-SUBSCRIBE call received so far, in order.
func (m *Master) Calls() []*Call {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]*Call(nil), m.calls...)
}

// NextStream waits for the next accepted subscription (each is returned
// once, in order).
func (m *Master) NextStream(ctx context.Context) (*Stream, error) {
	var s *Stream
	err := m.wait(ctx, func() bool {
		if m.streamCursor < len(m.streams) {
			s = m.streams[m.streamCursor]
			m.streamCursor++
			return true
		}
		return false
	})
	return s, err
}

// NextCall waits for the next call of type typ (each is returned once, in
// order).
func (m *Master) NextCall(ctx context.Context, typ schedpb.Call_Type) (*Call, error) {
	var c *Call
	err := m.wait(ctx, func() bool {
		seen := 0
		for _, call := range m.calls {
			if call.Call.GetType() != typ {
				continue
			}
			if seen == m.callCursor[typ] {
				m.callCursor[typ]++
				c = call
				return true
			}
			seen++
		}
		return false
	})
	return c, err
}

// wait runs cond under the lock until it holds or ctx ends.
func (m *Master) wait(ctx context.Context, cond func() bool) error {
	for {
		m.mu.Lock()
		ok := cond()
		ch := m.changed
		m.mu.Unlock()
		if ok {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// notify wakes waiters. Callers hold m.mu.
func (m *Master) notify() {
	close(m.changed)
	m.changed = make(chan struct{})
}

// Send queues ev on this stream; it fails once the stream has ended.
func (s *Stream) Send(ev *schedpb.Event) error {
	select {
	case <-s.done:
		return ErrStreamClosed
	default:
	}
	select {
	case s.events <- ev:
		return nil
	case <-s.done:
		return ErrStreamClosed
	}
}

// Drop ends the stream from the master's side, as when the master closes
// the connection.
func (s *Stream) Drop() { s.dropOnce.Do(func() { close(s.drop) }) }

// Done is closed when the stream has ended, from either side.
func (s *Stream) Done() <-chan struct{} { return s.done }

func (m *Master) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != Path {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "Expecting a 'POST' request", http.StatusMethodNotAllowed)
		return
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		plain(w, http.StatusBadRequest, "Expecting 'Content-Type' to be present")
		return
	}
	enc, err := codec.FromContentType(ct)
	if err != nil {
		plain(w, http.StatusUnsupportedMediaType, err.Error())
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	call := &schedpb.Call{}
	if err := codec.Unmarshal(enc, body, call); err != nil {
		plain(w, http.StatusBadRequest, "Failed to parse body into Call: "+err.Error())
		return
	}
	if call.GetType() == schedpb.Call_SUBSCRIBE {
		m.mu.Lock()
		m.subscribes++
		m.notify()
		m.mu.Unlock()
	}
	m.mu.Lock()
	redirect := m.redirect
	m.mu.Unlock()
	if redirect != "" {
		w.Header().Set("Location", "//"+redirect+r.URL.RequestURI())
		w.WriteHeader(http.StatusTemporaryRedirect)
		return
	}
	if call.GetType() == schedpb.Call_SUBSCRIBE {
		m.serveSubscribe(w, r, call)
		return
	}
	m.serveCall(w, r, enc, call)
}

func (m *Master) serveCall(w http.ResponseWriter, r *http.Request, enc codec.Encoding, call *schedpb.Call) {
	rec := &Call{Call: call, Header: r.Header.Clone(), Encoding: enc}
	m.mu.Lock()
	hook := m.onCall
	m.mu.Unlock()
	code, msg := 0, ""
	if hook != nil {
		code, msg = hook(rec)
	}
	var drop *Stream
	if code == 0 {
		code, msg, drop = m.check(r, call)
	}
	rec.Status = code
	m.mu.Lock()
	m.calls = append(m.calls, rec)
	m.notify()
	m.mu.Unlock()
	plain(w, code, msg)
	if drop != nil {
		drop.Drop()
	}
}

// check applies the master's checks to a non-SUBSCRIBE call and performs
// TEARDOWN; it returns the answer and, for TEARDOWN, the stream to close.
func (m *Master) check(r *http.Request, call *schedpb.Call) (int, string, *Stream) {
	if call.GetFrameworkId() == nil {
		return http.StatusBadRequest, "Failed to validate scheduler::Call: Expecting 'framework_id' to be present", nil
	}
	id := call.GetFrameworkId().GetValue()
	m.mu.Lock()
	defer m.mu.Unlock()
	fw := m.frameworks[id]
	if fw == nil || fw.removed {
		return http.StatusBadRequest, "Framework cannot be found", nil
	}
	if fw.stream == nil {
		return http.StatusForbidden, "Framework is not subscribed", nil
	}
	sid := r.Header.Get("Mesos-Stream-Id")
	if sid == "" {
		return http.StatusBadRequest, "All non-subscribe calls should include the 'Mesos-Stream-Id' header", nil
	}
	if sid != fw.stream.ID {
		return http.StatusBadRequest, fmt.Sprintf("The stream ID '%s' included in this request didn't match the stream ID currently associated with framework ID %s", sid, id), nil
	}
	if call.GetType() == schedpb.Call_TEARDOWN {
		fw.removed = true
		s := fw.stream
		fw.stream = nil
		return http.StatusAccepted, "", s
	}
	return http.StatusAccepted, "", nil
}

func (m *Master) serveSubscribe(w http.ResponseWriter, r *http.Request, call *schedpb.Call) {
	if r.Header.Get("Mesos-Stream-Id") != "" {
		plain(w, http.StatusBadRequest, "Subscribe calls should not include the 'Mesos-Stream-Id' header")
		return
	}
	if call.GetSubscribe() == nil {
		plain(w, http.StatusBadRequest, "Failed to validate scheduler::Call: Expecting 'subscribe' to be present")
		return
	}
	fwInfo := call.GetSubscribe().GetFrameworkInfo()
	if call.GetFrameworkId() != nil && call.GetFrameworkId().GetValue() != fwInfo.GetId().GetValue() {
		plain(w, http.StatusBadRequest, "Failed to validate scheduler::Call: 'framework_id' differs from 'subscribe.framework_info.id'")
		return
	}
	enc, _, ok := codec.Negotiate(r.Header.Get("Accept"), r.Header.Get("Message-Accept"))
	if !ok {
		plain(w, http.StatusNotAcceptable, "Expecting 'Accept' to allow application/json or application/x-protobuf")
		return
	}

	m.mu.Lock()
	if m.rejectCode != 0 {
		code, body := m.rejectCode, m.rejectBody
		m.mu.Unlock()
		plain(w, code, body)
		return
	}
	id := fwInfo.GetId().GetValue()
	var first *schedpb.Event
	var old *Stream
	if fw := m.frameworks[id]; fw != nil && fw.removed {
		first = errorEvent("Framework has been removed")
	} else {
		if id == "" {
			id = fmt.Sprintf("%s-%04d", m.id, m.nextFramework)
			m.nextFramework++
		}
		if fw := m.frameworks[id]; fw != nil {
			old = fw.stream
		}
	}
	call = proto.Clone(call).(*schedpb.Call)
	call.Subscribe.FrameworkInfo.Id = &mesos.FrameworkID{Value: proto.String(id)}
	if first == nil && m.onSubscribe != nil {
		first = m.onSubscribe(call)
	}
	if first == nil {
		first = &schedpb.Event{
			Type: schedpb.Event_SUBSCRIBED.Enum(),
			Subscribed: &schedpb.Event_Subscribed{
				FrameworkId:              &mesos.FrameworkID{Value: proto.String(id)},
				HeartbeatIntervalSeconds: proto.Float64(m.heartbeat.Seconds()),
				MasterInfo:               m.masterInfo(),
			},
		}
	}
	s := &Stream{
		ID:          newUUID(),
		FrameworkID: id,
		Subscribe:   call,
		Header:      r.Header.Clone(),
		Encoding:    enc,
		events:      make(chan *schedpb.Event, 256),
		drop:        make(chan struct{}),
		done:        make(chan struct{}),
	}
	live := first.GetType() != schedpb.Event_ERROR
	if live {
		if m.frameworks[id] == nil {
			m.frameworks[id] = &framework{}
		}
		m.frameworks[id].stream = s
		m.streams = append(m.streams, s)
		m.notify()
	}
	interval, beat := m.heartbeat, m.sendHeartbeats
	m.mu.Unlock()

	if old != nil {
		// The old stream closes after writing the ERROR.
		_ = old.Send(errorEvent("Framework failed over"))
	}
	defer func() {
		m.mu.Lock()
		if fw := m.frameworks[id]; fw != nil && fw.stream == s {
			fw.stream = nil
		}
		m.notify()
		m.mu.Unlock()
		close(s.done)
	}()

	w.Header().Set("Content-Type", enc.ContentType())
	w.Header().Set("Mesos-Stream-Id", s.ID)
	w.WriteHeader(http.StatusOK)
	rw := codec.NewRecordWriter(w)
	flusher, _ := w.(http.Flusher)
	write := func(ev *schedpb.Event) bool {
		b, err := codec.Marshal(enc, ev)
		if err != nil {
			panic(fmt.Sprintf("schedulertest: encoding %s event: %v", ev.GetType(), err))
		}
		if err := rw.WriteRecord(b); err != nil {
			return false
		}
		if flusher != nil {
			flusher.Flush()
		}
		return true
	}
	if !write(first) || !live {
		return
	}
	var tick <-chan time.Time
	if beat && interval > 0 {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	heartbeat := &schedpb.Event{Type: schedpb.Event_HEARTBEAT.Enum()}
	for {
		select {
		case ev := <-s.events:
			if !write(ev) {
				return
			}
			if ev.GetType() == schedpb.Event_ERROR {
				return
			}
		case <-tick:
			if !write(heartbeat) {
				return
			}
		case <-s.drop:
			return
		case <-r.Context().Done():
			return
		case <-m.closed:
			return
		}
	}
}

func (m *Master) masterInfo() *mesos.MasterInfo {
	host, port, _ := net.SplitHostPort(m.Addr())
	p, _ := strconv.Atoi(port)
	return &mesos.MasterInfo{
		Id:       proto.String(m.id),
		Ip:       proto.Uint32(16777343), // 127.0.0.1 in network order, read as little-endian
		Port:     proto.Uint32(uint32(p)),
		Pid:      proto.String("master@" + m.Addr()),
		Hostname: proto.String(host),
		Version:  proto.String("1.11.0"),
	}
}

func errorEvent(msg string) *schedpb.Event {
	return &schedpb.Event{
		Type:  schedpb.Event_ERROR.Enum(),
		Error: &schedpb.Event_Error{Message: proto.String(msg)},
	}
}

func plain(w http.ResponseWriter, code int, msg string) {
	if msg != "" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg)
}

// newUUID returns a random version 4 UUID in its text form.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
