package locality

import (
	"testing"
	"time"
)

type task struct {
	prefs []string
	set   *TaskSet
}

func (t task) Preferred() []string { return t.prefs }
func (t task) Set() *TaskSet       { return t.set }

func TestPickPrefersLocalThenNoPrefThenExpired(t *testing.T) {
	t0 := time.Unix(1000, 0)
	set := NewTaskSet(3*time.Second, t0)
	a := Place{AgentID: "A", Host: "ha"}
	b := Place{AgentID: "B", Host: "hb"}
	tasks := []task{{[]string{"B"}, set}, {[]string{"ha"}, set}}
	if i, l := Pick(tasks, a, t0, nil); i != 1 || l != Local {
		t.Fatalf("at A: got %d %s, want the task preferring A's host", i, l)
	}
	if i, _ := Pick(tasks[:1], a, t0.Add(2999*time.Millisecond), nil); i != -1 {
		t.Fatalf("before the wait ended, a task preferring B ran at A (%d)", i)
	}
	if i, l := Pick(tasks[:1], a, t0.Add(3*time.Second), nil); i != 0 || l != Any {
		t.Fatalf("after the wait: got %d %s, want the task to run anywhere", i, l)
	}
	if i, l := Pick(tasks[:1], b, t0, nil); i != 0 || l != Local {
		t.Fatalf("at B: got %d %s", i, l)
	}
	withFree := append([]task{{nil, set}}, tasks[0])
	if i, l := Pick(withFree, a, t0, nil); i != 0 || l != NoPref {
		t.Fatalf("a task without preferences: got %d %s", i, l)
	}
	if i, _ := Pick(withFree, a, t0, func(t task) bool { return len(t.prefs) > 0 }); i != -1 {
		t.Fatalf("an unusable task was picked (%d)", i)
	}
}

func TestLocalLaunchRestartsTheWait(t *testing.T) {
	t0 := time.Unix(1000, 0)
	set := NewTaskSet(3*time.Second, t0)
	set.Launched(Local, t0.Add(2*time.Second))
	if set.Expired(t0.Add(4 * time.Second)) {
		t.Fatal("the wait did not start again at the local launch")
	}
	if got := set.Remaining(t0.Add(4 * time.Second)); got != time.Second {
		t.Fatalf("remaining %s, want 1s", got)
	}
	set.Launched(Any, t0.Add(4*time.Second))
	if !set.Expired(t0.Add(5 * time.Second)) {
		t.Fatal("a non-local launch restarted the wait")
	}
}

func TestZeroWaitDoesNotWait(t *testing.T) {
	t0 := time.Unix(1000, 0)
	set := NewTaskSet(0, t0)
	tasks := []task{{[]string{"B"}, set}}
	if i, l := Pick(tasks, Place{AgentID: "A"}, t0, nil); i != 0 || l != Any {
		t.Fatalf("with no wait: got %d %s, want the task to run at once elsewhere", i, l)
	}
}
