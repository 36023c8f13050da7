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
	// touch is told of every stream that changed (for the checkpoint).
	touch func(updateKey)
}

func newUpdateManager(min, max time.Duration) *updateManager {
	return &updateManager{min: min, max: max, streams: make(map[updateKey]*updateStream), paused: true, touch: func(updateKey) {}}
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
		m.streams[k] = s
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
			delete(m.streams, k)
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
}

// due returns the heads whose retry time has come, rescheduling each.
func (m *updateManager) due(now time.Time) []*agentproto.StatusUpdate {
	if m.paused {
		return nil
	}
	// Only the due ones are sorted: with thousands of tasks, a tick
	// usually finds one or two.
	var due []*updateStream
	for _, s := range m.streams {
		if len(s.pending) > 0 && !s.nextRetry.IsZero() && !now.Before(s.nextRetry) {
			due = append(due, s)
		}
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
	for k := range m.streams {
		if k.framework == fw {
			m.touch(k)
			delete(m.streams, k)
		}
	}
}

// hasFramework reports whether a stream of the framework is left.
func (m *updateManager) hasFramework(fw string) bool {
	for k := range m.streams {
		if k.framework == fw {
			return true
		}
	}
	return false
}

// reset drops everything (the agent forgot its identity).
func (m *updateManager) reset() {
	for k := range m.streams {
		m.touch(k)
	}
	m.streams = make(map[updateKey]*updateStream)
}

// nextDeadline is the earliest retry time, or zero.
func (m *updateManager) nextDeadline() time.Time {
	var d time.Time
	for _, s := range m.streams {
		if len(s.pending) > 0 && !s.nextRetry.IsZero() && (d.IsZero() || s.nextRetry.Before(d)) {
			d = s.nextRetry
		}
	}
	return d
}

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
