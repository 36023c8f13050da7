// Package locality is the batch driver's delay scheduling (Zaharia et al.,
// "Delay scheduling", EuroSys 2010; Spark's spark.locality.wait): which
// waiting task a free slot on an agent should run, and so whether an offer
// of an agent is worth taking.
//
// A task may prefer places (agent ids or hostnames: where its input split
// is). The tasks of one stage form a TaskSet that shares one wait: a free
// place runs a task that prefers it, or one that prefers nothing; a task
// that prefers elsewhere runs there only once its set has gone Wait without
// launching a task where it preferred. Launching a local task starts the
// wait again, as Spark's TaskSetManager does, so that a stage keeps waiting
// for local slots while they keep coming.
//
// The package holds no clock: the driver passes the wall clock, the locality
// benchmark its simulated one.
package locality

import "time"

// Place is where a slot or an offer is.
type Place struct {
	AgentID, Host string
}

// Matches reports whether pref (an agent id or a hostname) names p.
func (p Place) Matches(pref string) bool {
	return pref != "" && (pref == p.AgentID || pref == p.Host)
}

// Level is how well a task chosen for a place suits it.
type Level int

// The levels, best first.
const (
	// Local: the task prefers the place.
	Local Level = iota
	// NoPref: the task prefers no place.
	NoPref
	// Any: the task prefers other places, and its set waited long enough.
	Any
)

func (l Level) String() string {
	return [...]string{"local", "no-pref", "any"}[l]
}

// TaskSet is the tasks of one stage: they wait together.
type TaskSet struct {
	// Wait is how long the set waits for a place it prefers before
	// running tasks elsewhere; 0 does not wait.
	Wait  time.Duration
	since time.Time
}

// NewTaskSet starts a set's wait at now.
func NewTaskSet(wait time.Duration, now time.Time) *TaskSet {
	return &TaskSet{Wait: wait, since: now}
}

// Expired reports whether the set may run its tasks anywhere.
func (s *TaskSet) Expired(now time.Time) bool {
	return s == nil || now.Sub(s.since) >= s.Wait
}

// Remaining is how long the set still waits (0 once expired).
func (s *TaskSet) Remaining(now time.Time) time.Duration {
	if s.Expired(now) {
		return 0
	}
	return s.Wait - now.Sub(s.since)
}

// Launched records that one of the set's tasks was launched at level: a
// local launch starts the wait again.
func (s *TaskSet) Launched(level Level, now time.Time) {
	if s != nil && level == Local {
		s.since = now
	}
}

// Task is what Pick needs of a waiting task.
type Task interface {
	// Preferred lists the places (agent ids or hostnames) the task
	// prefers; none means it runs as well anywhere.
	Preferred() []string
	// Set is the task's set (nil: it never waits).
	Set() *TaskSet
}

// Prefers reports whether t prefers p.
func Prefers(t Task, p Place) bool {
	for _, pref := range t.Preferred() {
		if p.Matches(pref) {
			return true
		}
	}
	return false
}

// Pick chooses the task of tasks (in their order: first come, first
// served) that a free slot at p should run now, among those usable allows
// (nil: all): the first that prefers p, else the first that prefers
// nothing, else the first whose set's wait is over. It returns the task's
// index and level, or -1 when the slot should stay free for now.
func Pick[T Task](tasks []T, p Place, now time.Time, usable func(T) bool) (int, Level) {
	noPref, anyIdx := -1, -1
	for i, t := range tasks {
		if usable != nil && !usable(t) {
			continue
		}
		prefs := t.Preferred()
		if len(prefs) == 0 {
			if noPref < 0 {
				noPref = i
			}
			continue
		}
		if Prefers(t, p) {
			return i, Local
		}
		if anyIdx < 0 && t.Set().Expired(now) {
			anyIdx = i
		}
	}
	if noPref >= 0 {
		return noPref, NoPref
	}
	if anyIdx >= 0 {
		return anyIdx, Any
	}
	return -1, Any
}
