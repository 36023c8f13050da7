package agent

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gomesos/gomesos/agent/core"
	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/internal/testutil"
)

// --master takes one address, a comma-separated list, or file:///path
// whose content is either; anything else is refused with the entry named.
func TestResolveMasters(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "masters")
	if err := os.WriteFile(file, []byte("h1:5050,\n http://h2:5050\nh3:5050\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := map[string][]string{
		"127.0.0.1:5050":                      {"127.0.0.1:5050"},
		"h1:5050,h2:5050,h3:5050":             {"h1:5050", "h2:5050", "h3:5050"},
		" http://h1:5050/ , h2:5051 ,":        {"h1:5050", "h2:5051"},
		"[::1]:5050,http://[::1]:5051":        {"[::1]:5050", "[::1]:5051"},
		"file://" + file:                      {"h1:5050", "h2:5050", "h3:5050"},
		"  file://" + file + "  ":             {"h1:5050", "h2:5050", "h3:5050"},
		"master.example.com:5050,10.0.0.2:50": {"master.example.com:5050", "10.0.0.2:50"},
	}
	for spec, want := range good {
		got, err := ResolveMasters(spec)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ResolveMasters(%q) = %q, %v; want %q", spec, got, err, want)
		}
	}
	bad := map[string]string{
		"":                                 "no master",
		",,":                               "no master address",
		"h1":                               `"h1"`,
		"h1:5050,h2":                       `"h2"`,
		"h1:0":                             "1-65535",
		"h1:http":                          "1-65535",
		":5050":                            "1-65535",
		"zk://zk1:2181/mesos":              "ZooKeeper",
		"https://h1:5050":                  `scheme "https"`,
		"http://h1:5050/master":            "nothing more",
		"file://relative/path":             "file:///absolute/path",
		"file://" + dir + "/nonexistent":   "nonexistent",
		"file://" + empty:                  "no master address",
		"h1:5050,file:///etc/gomesos/m":    "scheme",
		"http://user@h1:5050":              "nothing more",
		"http://h1:5050?x=1":               "nothing more",
		"h1:5050,zk://zk1:2181/mesos,h2:1": "ZooKeeper",
	}
	for spec, want := range bad {
		if got, err := ResolveMasters(spec); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ResolveMasters(%q) = %q, %v; want an error with %q", spec, got, err, want)
		}
	}
}

// The link moves round robin over the list after each failure; a round is
// one attempt at each master, and the failure that ends it (every master
// failed once) asks for a backoff step. Success starts a new round.
func TestNextMasterRounds(t *testing.T) {
	l := newMasterLink("a:1,b:1,c:1", []string{"a:1", "b:1", "c:1"}, slog.New(slog.DiscardHandler),
		func(core.Input) bool { return true }, func(core.Input) bool { return true })
	defer l.close()
	type step struct {
		master  string
		untried bool
	}
	var got []step
	l.mu.Lock()
	for range 7 {
		untried := l.nextMaster()
		got = append(got, step{l.master, untried})
	}
	// A redirect names a master outside the list; a failure there moves
	// on from the entry that redirected.
	l.master = "elsewhere:1"
	l.failures = 0 // a subscription was accepted
	untried := l.nextMaster()
	got = append(got, step{l.master, untried})
	l.mu.Unlock()
	want := []step{{"b:1", true}, {"c:1", true}, {"a:1", false}, {"b:1", true}, {"c:1", true}, {"a:1", false}, {"b:1", true}, {"c:1", true}}
	if !slices.Equal(got, want) {
		t.Errorf("rounds:\n got %v\nwant %v", got, want)
	}
}

// Mesos's high availability as an agent sees it: --master lists three
// masters. The first is down, the second redirects to the third, which
// leads: the agent registers there. The third dies and the second takes
// over: the agent finds it and re-registers there with its id and its
// task, and /state names the master it talks to now.
func TestFindsTheLeadingMaster(t *testing.T) {
	checkLeaks(t)
	dead := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	m2, m3 := newFakeMaster(t), newFakeMaster(t)
	m2.hostname, m3.hostname = "master-2", "master-3"
	m2.setLeader(m3.addr())
	a := startAgent(t, m3, func(c *Config) {
		c.Master = dead + ",http://" + m2.addr() + "," + m3.addr()
	})
	id := a.registered(t)
	if sub := m3.subscriptions()[0]; sub.GetType() != agentproto.AgentMessage_REGISTER {
		t.Fatalf("first subscription at the leader: %s", sub.GetType())
	}
	m2.waitFor("the follower's redirect", func() bool { return m2.redirects > 0 })
	masterHostname := func() any {
		var st map[string]any
		getJSON(t, a, "/state", &st)
		return st["master_hostname"]
	}
	if h := masterHostname(); h != "master-3" {
		t.Errorf("master_hostname = %v, want master-3", h)
	}
	var flags struct{ Flags map[string]string }
	getJSON(t, a, "/flags", &flags)
	if got := flags.Flags["master"]; got != dead+",http://"+m2.addr()+","+m3.addr() {
		t.Errorf("/flags master = %q, want the list as given", got)
	}

	m3.send(runTask(commandTask("long", id, "sleep 60")))
	m3.ack(m3.waitUpdate("long", mesos.TaskState_TASK_STARTING))
	m3.ack(m3.waitUpdate("long", mesos.TaskState_TASK_RUNNING))

	m3.stop()
	m2.setLeader("")
	m2.waitFor("re-registration with the new leader", func() bool { return len(m2.subs) > 0 })
	sub := m2.subscriptions()[0]
	if sub.GetType() != agentproto.AgentMessage_REREGISTER || sub.GetRegister().GetAgentInfo().GetId().GetValue() != id {
		t.Fatalf("at the new leader: %s as %q, want REREGISTER as %q", sub.GetType(), sub.GetRegister().GetAgentInfo().GetId().GetValue(), id)
	}
	tasks := sub.GetRegister().GetTasks()
	if len(tasks) != 1 || tasks[0].GetTaskId().GetValue() != "long" || tasks[0].GetState() != mesos.TaskState_TASK_RUNNING {
		t.Errorf("REREGISTER tasks = %v", tasks)
	}
	eventually(t, "master_hostname of the new leader", func() bool { return masterHostname() == "master-2" })

	// The new leader's stream works: a kill reaches the task, and its
	// updates (TASK_RUNNING again first if its acknowledgement died with
	// the old leader) reach the new one.
	m2.send(killTask("long", 0))
	if states := m2.ackUntilTerminal("long"); states[len(states)-1] != mesos.TaskState_TASK_KILLED {
		t.Errorf("updates at the new leader: %v", states)
	}
}

// The leading master names in REGISTERED the master expected to take over
// from it: when its stream ends, the agent goes there first, not to the
// next master of its list (which would only redirect it).
func TestGoesToTheNamedSuccessor(t *testing.T) {
	checkLeaks(t)
	m1, m2, m3 := newFakeMaster(t), newFakeMaster(t), newFakeMaster(t)
	m1.successor = m3.addr()
	m2.setLeader(m3.addr())
	m3.setLeader("-")
	a := startAgent(t, m1, func(c *Config) { c.Master = m1.addr() + "," + m2.addr() + "," + m3.addr() })
	id := a.registered(t)

	m3.setLeader("")
	m1.stop()
	m3.waitFor("re-registration with the named successor", func() bool { return len(m3.subs) > 0 })
	if sub := m3.subscriptions()[0]; sub.GetType() != agentproto.AgentMessage_REREGISTER || sub.GetRegister().GetAgentInfo().GetId().GetValue() != id {
		t.Errorf("at the successor: %s as %q, want REREGISTER as %q", sub.GetType(), sub.GetRegister().GetAgentInfo().GetId().GetValue(), id)
	}
	m2.mu.Lock()
	defer m2.mu.Unlock()
	if m2.redirects != 0 {
		t.Errorf("the agent went to the next master of its list (%d subscriptions redirected) before the successor", m2.redirects)
	}
}

// With --master=file:///path the file is read again when the masters it
// named have all failed: the agent follows an edit of the file to a
// master it did not know.
func TestMasterFileIsReadAgain(t *testing.T) {
	checkLeaks(t)
	first, second := newFakeMaster(t), newFakeMaster(t)
	first.hostname, second.hostname = "first", "second"
	file := filepath.Join(t.TempDir(), "master")
	if err := os.WriteFile(file, []byte(first.addr()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := startAgent(t, first, func(c *Config) { c.Master = "file://" + file })
	id := a.registered(t)

	if err := os.WriteFile(file, []byte(second.addr()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	first.stop()
	second.waitFor("re-registration with the master the file names now", func() bool { return len(second.subs) > 0 })
	if sub := second.subscriptions()[0]; sub.GetType() != agentproto.AgentMessage_REREGISTER || sub.GetRegister().GetAgentInfo().GetId().GetValue() != id {
		t.Errorf("subscription %s as %q, want REREGISTER as %q", sub.GetType(), sub.GetRegister().GetAgentInfo().GetId().GetValue(), id)
	}
}

// A master without a leader answers 503: the agent tries the others.
func TestNoLeaderMovesOn(t *testing.T) {
	checkLeaks(t)
	lost, leader := newFakeMaster(t), newFakeMaster(t)
	lost.setLeader("-")
	a := startAgent(t, leader, func(c *Config) { c.Master = lost.addr() + "," + leader.addr() })
	a.registered(t)
	lost.waitFor("a subscription refused with 503", func() bool { return lost.redirects > 0 })
}

// A bad --master stops New.
func TestBadMasterRefused(t *testing.T) {
	_, err := New(Config{Master: "h1:5050,zk://h2:2181/mesos", WorkDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "--master") {
		t.Errorf("New = %v, want an error naming --master", err)
	}
}

// A master that stops pinging (a leader cut off from the agent) is left for
// the next one: the agent does not wait on it again.
func TestSilentMasterIsLeft(t *testing.T) {
	checkLeaks(t)
	silent, other := newFakeMaster(t), newFakeMaster(t)
	silent.pingTimeout = 0.2 // and it never pings
	a := startAgent(t, silent, func(c *Config) { c.Master = silent.addr() + "," + other.addr() })
	id := a.registered(t)
	other.waitFor("re-registration with the other master", func() bool { return len(other.subs) > 0 })
	if sub := other.subscriptions()[0]; sub.GetType() != agentproto.AgentMessage_REREGISTER || sub.GetRegister().GetAgentInfo().GetId().GetValue() != id {
		t.Errorf("subscription %s as %q, want REREGISTER as %q", sub.GetType(), sub.GetRegister().GetAgentInfo().GetId().GetValue(), id)
	}
	if n := len(silent.subscriptions()); n != 1 {
		t.Errorf("the silent master saw %d subscriptions, want 1", n)
	}
}
