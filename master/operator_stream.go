package master

import (
	"net/http"
	"strconv"
	"time"

	masterpb "github.com/gomesos/gomesos/api/v1/master"
	"github.com/gomesos/gomesos/codec"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
)

// operatorSubscribe serves SUBSCRIBE on /api/v1: a RecordIO stream that
// starts with SUBSCRIBED (the whole state, as GET_STATE shows it, taken on
// the loop between two steps) and a HEARTBEAT, then carries the master's
// events in the order it applied them, and a HEARTBEAT every heartbeat
// interval.
func (m *Master) operatorSubscribe(w http.ResponseWriter, r *http.Request) {
	enc, recordio, rerr := codec.AcceptStream(r.Header.Get("Accept"), r.Header.Get("Message-Accept"))
	if rerr != nil {
		requestError(w, rerr)
		return
	}
	id := uuid.NewString()
	s := m.newSink(enc)
	s.kind = "operator"
	s.id = id
	full := false
	err := m.doLeading(func() {
		if len(m.operatorSinks) >= maxOperatorSubscribers {
			full = true
			return
		}
		snap := m.core.Snapshot()
		m.snap.Store(snap)
		first := []*masterpb.Event{{
			Type: masterpb.Event_SUBSCRIBED.Enum(),
			Subscribed: &masterpb.Event_Subscribed{
				GetState:                 snap.OperatorState(),
				HeartbeatIntervalSeconds: proto.Float64(m.core.HeartbeatInterval()),
			},
		}, {Type: masterpb.Event_HEARTBEAT.Enum()}}
		for _, ev := range first {
			b, err := codec.Marshal(enc, ev)
			if err != nil {
				m.log.Error("encoding an operator event", "error", err)
				return
			}
			s.push(b)
		}
		m.operatorSinks[id] = s
		m.operatorSubscribers.Store(int64(len(m.operatorSinks)))
		m.core.WatchOperatorEvents(true)
	})
	if err != nil {
		if err == errNotLeading {
			m.redirectToLeader(w, r, r.URL.RequestURI())
			return
		}
		textError(w, http.StatusServiceUnavailable, err.Error())
		return
	}
	if full {
		textError(w, http.StatusServiceUnavailable, "Operator event stream subscriber limit of "+strconv.Itoa(maxOperatorSubscribers)+" reached")
		return
	}
	setStreamContentType(w, enc, recordio)
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	m.pump(w, r, s)
	_ = m.do(func() { m.dropOperatorSink(id) })
}

// dropOperatorSink forgets a subscriber; the core stops making events
// when none is left. It runs on the loop.
func (m *Master) dropOperatorSink(id string) {
	if _, ok := m.operatorSinks[id]; !ok {
		return
	}
	delete(m.operatorSinks, id)
	m.operatorSubscribers.Store(int64(len(m.operatorSinks)))
	if len(m.operatorSinks) == 0 && m.leads {
		m.core.WatchOperatorEvents(false)
	}
}

// sendOperatorEvent sends an event to every subscriber, encoded once per
// encoding. It runs on the loop.
func (m *Master) sendOperatorEvent(ev *masterpb.Event) {
	var encoded [2][]byte
	for id, s := range m.operatorSinks {
		i := 0
		if s.enc == codec.Protobuf {
			i = 1
		}
		if encoded[i] == nil {
			b, err := codec.Marshal(s.enc, ev)
			if err != nil {
				m.log.Error("encoding an operator event", "error", err)
				return
			}
			encoded[i] = b
		}
		if !s.push(encoded[i]) {
			m.fellBehind(s, id)
			m.dropOperatorSink(id)
		}
	}
}

// operatorHeartbeat sends the subscribers a HEARTBEAT once every heartbeat
// interval. It runs on the loop, at each tick.
func (m *Master) operatorHeartbeat(now time.Time) {
	if len(m.operatorSinks) == 0 {
		m.lastOperatorBeat = now
		return
	}
	if now.Sub(m.lastOperatorBeat) < m.cfg.HeartbeatInterval {
		return
	}
	m.lastOperatorBeat = now
	m.sendOperatorEvent(&masterpb.Event{Type: masterpb.Event_HEARTBEAT.Enum()})
}

// closeOperatorSinks ends every operator stream (the master stopped
// leading: its clients find the leader again).
func (m *Master) closeOperatorSinks() {
	for id, s := range m.operatorSinks {
		s.close()
		delete(m.operatorSinks, id)
	}
	m.operatorSubscribers.Store(0)
}
