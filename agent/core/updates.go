package core

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/gomesos/gomesos/api/agentproto"
)

// updateKey names one task's status update stream.
type updateKey struct{ framework, task string }

// updateStream is the ordered, not yet acknowledged status updates of one
// task. Its whole state follows from the sequence of updates received and
// acknowledgements applied, which is what a checkpoint will record.
type updateStream struct {
	key     updateKey
	acked   []*agentproto.StatusUpdate // acknowledged, in order
	pending []*agentproto.StatusUpdate // pending[0] is the one in flight
	// received holds the UUID of every update accepted into the stream, to
	// recognise an executor's retransmissions.
	received map[string]bool
	// terminal is set once a terminal update has been accepted; nothing
	// may follow it.
	terminal bool

	nextRetry time.Time // when the head is sent again; zero while paused
	backoff   time.Duration
}

// updateManager is the status update manager (Mesos's
// TaskStatusUpdateManager): one stream per task, only the head of each in
// flight to the master, resent with exponential backoff until the master
// relays the framework's acknowledgement. It is pure: callers send what it
// returns.
type updateManager struct {
	min, max time.Duration
	streams  map[updateKey]*updateStream
	paused   bool
	// retries holds every armed head's nextRetry (stale entries are
	// skipped: see timerHeap), so the next retry is found without a scan.
	retries timerHeap[updateKey]
	// perFramework counts each framework's streams.
	perFramework map[string]int
	// touch is told of every stream that changed (for the checkpoint).
	touch func(updateKey)
}

func newUpdateManager(min, max time.Duration) *updateManager {
	return &updateManager{min: min, max: max, streams: make(map[updateKey]*updateStream), perFramework: make(map[string]int),
		paused: true, touch: func(updateKey) {}}
}

// put adds a new stream.
func (m *updateManager) put(s *updateStream) {
	if _, ok := m.streams[s.key]; !ok {
		m.perFramework[s.key.framework]++
	}
	m.streams[s.key] = s
}

// drop removes a stream; its retry entry goes stale.
func (m *updateManager) drop(k updateKey) {
	if _, ok := m.streams[k]; !ok {
		return
	}
	delete(m.streams, k)
	if m.perFramework[k.framework]--; m.perFramework[k.framework] <= 0 {
		delete(m.perFramework, k.framework)
	}
}

// armed tells whether a retry entry is the stream's current one.
func (m *updateManager) armed(e timer[updateKey]) bool {
	s := m.streams[e.key]
	return !m.paused && s != nil && len(s.pending) > 0 && s.nextRetry.Equal(e.at)
}

// isDuplicate reports whether the update with this uuid was already
// accepted for the task.
func (m *updateManager) isDuplicate(k updateKey, uuid []byte) bool {
	s := m.streams[k]
	return s != nil && s.received[string(uuid)]
}

// add accepts an update into its task's stream. It returns the update when
// it became the head and should be sent now.
func (m *updateManager) add(now time.Time, u *agentproto.StatusUpdate) (*agentproto.StatusUpdate, error) {
	k := updateKey{u.GetFrameworkId().GetValue(), u.GetStatus().GetTaskId().GetValue()}
	s := m.streams[k]
	if s == nil {
		s = &updateStream{key: k, received: make(map[string]bool)}
		m.put(s)
	}
	if s.terminal {
		return nil, fmt.Errorf("task %s already has a terminal status update", k.task)
	}
	m.touch(k)
	s.received[string(u.GetStatus().GetUuid())] = true
	s.pending = append(s.pending, u)
	if u.GetStatus().GetState().IsTerminal() {
		s.terminal = true
	}
	if len(s.pending) == 1 && !m.paused {
		m.arm(now, s, false)
		return u, nil
	}
	return nil, nil
}

// errUnexpectedAck is returned for an acknowledgement that matches no
// update in flight.
var errUnexpectedAck = errors.New("unexpected status update acknowledgement")

// errDuplicateAck is returned for an acknowledgement of an update already
// acknowledged: the framework (or the master, retrying) sent it twice.
var errDuplicateAck = errors.New("duplicate status update acknowledgement")

// ack applies the framework's acknowledgement of the head update. It
// returns the next update to send, if any, and whether the stream ended
// because its terminal update was acknowledged.
func (m *updateManager) ack(now time.Time, k updateKey, uuid []byte) (next *agentproto.StatusUpdate, done bool, err error) {
	s := m.streams[k]
	if s == nil {
		// The stream ended: its terminal update was acknowledged, and
		// this is most likely that acknowledgement again.
		return nil, false, errDuplicateAck
	}
	if s.received[string(uuid)] && (len(s.pending) == 0 || !bytes.Equal(s.pending[0].GetStatus().GetUuid(), uuid)) &&
		slices.ContainsFunc(s.acked, func(u *agentproto.StatusUpdate) bool { return bytes.Equal(u.GetStatus().GetUuid(), uuid) }) {
		return nil, false, errDuplicateAck
	}
	if len(s.pending) == 0 {
		return nil, false, errUnexpectedAck
	}
	if !bytes.Equal(s.pending[0].GetStatus().GetUuid(), uuid) {
		return nil, false, fmt.Errorf("%w: in flight is %s", errUnexpectedAck, s.pending[0].GetStatus().GetState())
	}
	m.touch(k)
	s.acked = append(s.acked, s.pending[0])
	s.pending[0] = nil
	s.pending = s.pending[1:]
	if len(s.pending) == 0 {
		s.nextRetry = time.Time{}
		if s.terminal {
			m.drop(k)
			return nil, true, nil
		}
		return nil, false, nil
	}
	if m.paused {
		return nil, false, nil
	}
	m.arm(now, s, false)
	return s.pending[0], false, nil
}

// arm schedules the head's next retransmission: the minimum interval after
// a first send, twice the previous one (up to max) after a retry.
func (m *updateManager) arm(now time.Time, s *updateStream, retry bool) {
	if retry {
		s.backoff = min(2*s.backoff, m.max)
	} else {
		s.backoff = m.min
	}
	s.nextRetry = now.Add(s.backoff)
	m.retries.push(s.nextRetry, s.key)
}

// due returns the heads whose retry time has come, rescheduling each.
func (m *updateManager) due(now time.Time) []*agentproto.StatusUpdate {
	if m.paused {
		return nil
	}
	// Only the due ones are looked at and sorted: with thousands of
	// tasks, a tick usually finds one or two.
	var due []*updateStream
	for _, k := range m.retries.due(now, m.armed) {
		due = append(due, m.streams[k])
	}
	sortStreams(due)
	var out []*agentproto.StatusUpdate
	for _, s := range due {
		m.arm(now, s, true)
		out = append(out, s.pending[0])
	}
	return out
}

// pause stops sending, while the agent has no master.
func (m *updateManager) pause() {
	m.paused = true
	for _, s := range m.streams {
		s.nextRetry = time.Time{}
	}
	m.retries.clear()
}

// resume starts sending again and returns every head, to send at once.
func (m *updateManager) resume(now time.Time) []*agentproto.StatusUpdate {
	m.paused = false
	var out []*agentproto.StatusUpdate
	for _, s := range m.sorted() {
		if len(s.pending) > 0 {
			m.arm(now, s, false)
			out = append(out, s.pending[0])
		}
	}
	return out
}

// head returns the update in flight for a task, or nil.
func (m *updateManager) head(k updateKey) *agentproto.StatusUpdate {
	if s := m.streams[k]; s != nil && len(s.pending) > 0 {
		return s.pending[0]
	}
	return nil
}

// pendingCount is the number of updates not yet acknowledged for a task.
func (m *updateManager) pendingCount(k updateKey) int {
	if s := m.streams[k]; s != nil {
		return len(s.pending)
	}
	return 0
}

// removeFramework drops every stream of a framework (it was shut down, so
// nobody will acknowledge them).
func (m *updateManager) removeFramework(fw string) {
	if m.perFramework[fw] == 0 {
		return
	}
	for k := range m.streams {
		if k.framework == fw {
			m.touch(k)
			m.drop(k)
		}
	}
}

// hasFramework reports whether a stream of the framework is left.
func (m *updateManager) hasFramework(fw string) bool { return m.perFramework[fw] > 0 }

// reset drops everything (the agent forgot its identity).
func (m *updateManager) reset() {
	for k := range m.streams {
		m.touch(k)
	}
	m.streams = make(map[updateKey]*updateStream)
	m.perFramework = make(map[string]int)
	m.retries.clear()
}

// nextDeadline is the earliest retry time, or zero.
func (m *updateManager) nextDeadline() time.Time { return m.retries.next(m.armed) }

func (m *updateManager) sorted() []*updateStream {
	out := make([]*updateStream, 0, len(m.streams))
	for _, s := range m.streams {
		out = append(out, s)
	}
	sortStreams(out)
	return out
}

// sortStreams orders streams by framework and task.
func sortStreams(ss []*updateStream) {
	slices.SortFunc(ss, func(a, b *updateStream) int {
		return cmp.Or(cmp.Compare(a.key.framework, b.key.framework), cmp.Compare(a.key.task, b.key.task))
	})
}
