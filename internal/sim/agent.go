package sim

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/master/core"
	"github.com/gomesos/gomesos/resources"
	"google.golang.org/protobuf/proto"
)

type agentState int

const (
	agentDown       agentState = iota // crashed
	agentIdle                         // waiting to (re)connect
	agentConnecting                   // subscribe sent, waiting for REGISTERED
	agentRegistered
)

// taskKey names a task on an agent.
type taskKey struct{ fw, task string }

// simAgent plays a Gomesos agent: it registers, answers pings, runs tasks
// (each goes STARTING, RUNNING, then FINISHED or FAILED after a while) and
// delivers their status updates reliably, one at a time per task, resending
// the head with backoff until the master relays the acknowledgement, as the
// real agent's status update manager does.
type simAgent struct {
	w     *world
	idx   int
	info  *mesos.AgentInfo // without an id
	total resources.Resources

	id             string
	state          agentState
	inc            int // incarnation: bumped by crashes, stales old timers
	conn           *agentConn
	hung           *agentConn // the stream a crash left open
	backoff        time.Duration
	pingTimeout    time.Duration
	pingDeadline   time.Duration
	everRegistered bool
	a2m            link
	// partitionedUntil: until then nothing passes between the agent and
	// the master.
	partitionedUntil time.Duration

	tasks      map[taskKey]*agentTask
	frameworks map[string]*mesos.FrameworkInfo
}

type agentTask struct {
	key     taskKey
	info    *mesos.TaskInfo
	state   mesos.TaskState // latest
	ended   bool            // a terminal update was made
	pending []*agentproto.StatusUpdate
	backoff time.Duration
	// retryGen and lifeGen stale the retry and lifecycle timers.
	retryGen, lifeGen int
}

func newAgent(w *world, idx int, total resources.Resources, res []*mesos.Resource) *simAgent {
	host := fmt.Sprintf("agent-%05d.sim", idx)
	return &simAgent{
		w: w, idx: idx, total: total,
		info:       &mesos.AgentInfo{Hostname: &host, Port: proto.Int32(5051), Resources: res},
		state:      agentIdle,
		backoff:    agentBackoffFactor,
		tasks:      map[taskKey]*agentTask{},
		frameworks: map[string]*mesos.FrameworkInfo{},
	}
}

func (a *simAgent) endpoint() string {
	return fmt.Sprintf("10.%d.%d.%d:5051", 1+a.idx>>16, a.idx>>8&0xff, a.idx&0xff)
}

func (a *simAgent) tracef(format string, args ...any) {
	a.w.tracef("a"+strconv.Itoa(a.idx)+" "+format, args...)
}

// later runs fn after d unless the agent crashed or restarted meanwhile.
func (a *simAgent) later(d time.Duration, fn func()) {
	inc := a.inc
	a.w.after(d, func() {
		if a.inc == inc && a.state != agentDown {
			fn()
		}
	})
}

func (a *simAgent) boot() {
	if a.state == agentIdle {
		a.connect()
	}
}

// ---- The link to the master ----

func (a *simAgent) connect() {
	a.state = agentConnecting
	c := a.w.newConn(a)
	a.conn = c
	a.w.agentSubscribe(a, c, a.registerMessage())
	a.later(agentConnectTimeout, func() {
		if a.conn == c && a.state == agentConnecting {
			a.tracef("no REGISTERED on %s", c.id)
			a.disconnected()
		}
	})
}

// disconnected drops the stream and retries after a random delay below the
// backoff bound, which doubles up to a minute.
func (a *simAgent) disconnected() {
	a.w.agentLetGo(a.conn)
	a.conn = nil
	a.state = agentIdle
	delay := a.w.uniform(0, a.backoff)
	a.backoff = min(2*a.backoff, agentBackoffMax)
	a.later(delay, func() {
		if a.state == agentIdle {
			a.connect()
		}
	})
}

// streamEnded: the master closed the stream, the network cut it, or the
// subscribe request failed.
func (a *simAgent) streamEnded(c *agentConn, why string) {
	if a.conn != c || (a.state != agentConnecting && a.state != agentRegistered) {
		return
	}
	a.tracef("stream %s ended: %s", c.id, why)
	a.disconnected()
}

// rejected: the master refused a message (409): re-register.
func (a *simAgent) rejected(c *agentConn, code core.Code) {
	if a.conn != c || a.state != agentRegistered {
		return
	}
	a.tracef("message refused (%s) on %s; re-registering", code, c.id)
	a.disconnected()
}

// registerMessage is REGISTER for a new agent, REREGISTER (with what runs
// here) for a known one.
func (a *simAgent) registerMessage() *agentproto.AgentMessage {
	info := proto.Clone(a.info).(*mesos.AgentInfo)
	reg := &agentproto.AgentMessage_Register{AgentInfo: info, Version: proto.String("1.12.0"), Endpoint: proto.String(a.endpoint())}
	if a.id == "" {
		return &agentproto.AgentMessage{Type: agentproto.AgentMessage_REGISTER.Enum(), Register: reg}
	}
	info.Id = &mesos.AgentID{Value: proto.String(a.id)}
	fws := map[string]bool{}
	for _, t := range a.sortedTasks() {
		mt := &mesos.Task{
			Name:        t.info.Name,
			TaskId:      t.info.TaskId,
			FrameworkId: &mesos.FrameworkID{Value: proto.String(t.key.fw)},
			AgentId:     &mesos.AgentID{Value: proto.String(a.id)},
			State:       t.state.Enum(),
			Resources:   t.info.Resources,
		}
		if len(t.pending) > 0 {
			mt.StatusUpdateState = t.pending[0].GetStatus().State
			mt.StatusUpdateUuid = t.pending[0].GetStatus().GetUuid()
		}
		reg.Tasks = append(reg.Tasks, mt)
		fws[t.key.fw] = true
	}
	for _, id := range sortedKeys(fws) {
		if fi := a.frameworks[id]; fi != nil {
			reg.Frameworks = append(reg.Frameworks, fi)
		}
	}
	return &agentproto.AgentMessage{Type: agentproto.AgentMessage_REREGISTER.Enum(), Register: reg}
}

// receive is a message from the master arriving on stream c.
func (a *simAgent) receive(c *agentConn, m *agentproto.MasterMessage) {
	if a.state == agentDown || a.conn != c || c.broken || c.agentDone {
		return // lost with its stream
	}
	a.tracef("<m %s", describeMaster(m))
	if a.state == agentConnecting {
		switch m.GetType() {
		case agentproto.MasterMessage_REGISTERED:
			a.registered(m.GetRegistered())
		case agentproto.MasterMessage_SHUTDOWN:
			a.shutdown()
		default:
			a.disconnected()
		}
		return
	}
	if a.state != agentRegistered {
		return
	}
	switch m.GetType() {
	case agentproto.MasterMessage_PING:
		a.armPingDeadline()
		a.post(&agentproto.AgentMessage{Type: agentproto.AgentMessage_PONG.Enum()}, "PONG")
	case agentproto.MasterMessage_RUN_TASK:
		a.runTask(m.GetRunTask())
	case agentproto.MasterMessage_KILL_TASK:
		k := m.GetKillTask()
		a.killTask(taskKey{k.GetFrameworkId().GetValue(), k.GetTaskId().GetValue()})
	case agentproto.MasterMessage_ACKNOWLEDGE:
		ack := m.GetAcknowledge()
		a.acknowledge(taskKey{ack.GetFrameworkId().GetValue(), ack.GetTaskId().GetValue()}, ack.GetUuid())
	case agentproto.MasterMessage_SHUTDOWN_FRAMEWORK:
		a.shutdownFramework(m.GetShutdownFramework().GetFrameworkId().GetValue())
	case agentproto.MasterMessage_SHUTDOWN:
		a.shutdown()
	}
}

func (a *simAgent) registered(r *agentproto.MasterMessage_Registered) {
	id := r.GetAgentId().GetValue()
	if a.id != "" && id != a.id {
		a.tracef("the master gave a new id %s; dropping everything of %s", id, a.id)
		a.forget()
	}
	a.id = id
	a.state = agentRegistered
	a.everRegistered = true
	a.w.report.Registrations++
	a.backoff = agentBackoffFactor
	a.pingTimeout = agentConnectTimeout
	if s := r.GetPingTimeoutSeconds(); s > 0 {
		a.pingTimeout = time.Duration(s * float64(time.Second))
	}
	a.armPingDeadline()
	// Resume the status update streams: every head goes out again.
	for _, t := range a.sortedTasks() {
		if len(t.pending) > 0 {
			a.forward(t)
			a.arm(t, false)
		}
	}
}

// armPingDeadline: without a PING for pingTimeout, the master is gone.
func (a *simAgent) armPingDeadline() {
	a.pingDeadline = a.w.now + a.pingTimeout
	c := a.conn
	a.later(a.pingTimeout, func() {
		if a.conn == c && a.state == agentRegistered && a.w.now >= a.pingDeadline {
			a.tracef("no PING for %v; re-registering", a.pingTimeout)
			a.disconnected()
		}
	})
}

// post sends a message to the master on the current stream; without one it
// is dropped (status updates stay queued and are resent on registration).
func (a *simAgent) post(m *agentproto.AgentMessage, desc string) {
	if a.state != agentRegistered {
		return
	}
	a.w.agentPost(a, a.conn, m, desc)
}

// shutdown: the master removed this agent. It forgets everything and
// registers anew.
func (a *simAgent) shutdown() {
	a.forget()
	a.w.agentLetGo(a.conn)
	a.conn = nil
	a.state = agentIdle
	a.backoff = agentBackoffFactor
	a.connect()
}

func (a *simAgent) forget() {
	a.tasks = map[taskKey]*agentTask{}
	a.frameworks = map[string]*mesos.FrameworkInfo{}
	a.id = ""
}

// ---- Faults ----

func (a *simAgent) partitioned() bool { return a.w.now < a.partitionedUntil }

// partition cuts the agent off from the master for d. Its stream goes
// dead silently.
func (a *simAgent) partition(d time.Duration) {
	a.w.report.Faults.Partitions++
	a.tracef("FAULT partitioned for %v", d)
	a.partitionedUntil = a.w.now + d
	if a.conn != nil {
		a.conn.broken = true
	}
}

// crash stops the agent: its tasks and updates are gone. With closeConn
// its process died and the stream closes; otherwise it hangs and the
// stream stays open until it restarts.
func (a *simAgent) crash(closeConn bool) {
	w := a.w
	w.report.Faults.Crashes++
	how := "hangs"
	if closeConn {
		how = "dies"
	}
	a.tracef("FAULT crash: the agent %s", how)
	if closeConn {
		w.agentLetGo(a.conn)
	} else if a.conn != nil {
		a.hung = a.conn
	}
	a.conn = nil
	a.state = agentDown
	a.inc++
	a.forget()
	inc := a.inc
	w.after(w.uniform(w.cfg.Faults.RestartMin, w.cfg.Faults.RestartMax), func() {
		if a.inc == inc && a.state == agentDown {
			a.restart()
		}
	})
}

// restart brings a crashed agent back as a new agent.
func (a *simAgent) restart() {
	a.w.report.Faults.Restarts++
	a.tracef("restarts")
	if a.hung != nil {
		a.w.agentLetGo(a.hung) // the old process's connection resets
		a.hung = nil
	}
	a.inc++
	a.state = agentIdle
	a.backoff = agentBackoffFactor
	a.connect()
}

// ---- Tasks ----

func (a *simAgent) runTask(r *agentproto.MasterMessage_RunTask) {
	fi := r.GetFrameworkInfo()
	ti := r.GetTask()
	k := taskKey{fi.GetId().GetValue(), ti.GetTaskId().GetValue()}
	if a.tasks[k] != nil {
		a.tracef("ignores RUN_TASK of a task it has: %s/%s", k.fw, k.task)
		return
	}
	a.frameworks[k.fw] = fi
	t := &agentTask{key: k, info: ti, state: mesos.TaskState_TASK_STAGING}
	a.tasks[k] = t
	w := a.w
	a.step(t, w.uniform(10*time.Millisecond, 300*time.Millisecond), func() {
		a.update(t, mesos.TaskState_TASK_STARTING)
		a.step(t, w.uniform(10*time.Millisecond, time.Second), func() {
			a.update(t, mesos.TaskState_TASK_RUNNING)
			a.step(t, w.uniform(w.cfg.TaskDurationMin, w.cfg.TaskDurationMax), func() {
				if w.chance(w.cfg.FailRatio) {
					a.update(t, mesos.TaskState_TASK_FAILED)
				} else {
					a.update(t, mesos.TaskState_TASK_FINISHED)
				}
			})
		})
	})
}

// step runs fn after d if the task is still running as it was.
func (a *simAgent) step(t *agentTask, d time.Duration, fn func()) {
	gen := t.lifeGen
	a.later(d, func() {
		if a.tasks[t.key] == t && t.lifeGen == gen && !t.ended {
			fn()
		}
	})
}

func (a *simAgent) killTask(k taskKey) {
	t := a.tasks[k]
	if t == nil || t.ended {
		return
	}
	a.update(t, mesos.TaskState_TASK_KILLED)
}

func (a *simAgent) shutdownFramework(fwID string) {
	for k := range a.tasks {
		if k.fw == fwID {
			delete(a.tasks, k)
		}
	}
	delete(a.frameworks, fwID)
}

// update makes a status update from the task's executor and queues it in
// the task's stream; the head of the stream goes to the master.
func (a *simAgent) update(t *agentTask, state mesos.TaskState) {
	status := &mesos.TaskStatus{
		TaskId:    t.info.TaskId,
		State:     state.Enum(),
		Source:    mesos.TaskStatus_SOURCE_EXECUTOR.Enum(),
		AgentId:   &mesos.AgentID{Value: proto.String(a.id)},
		Timestamp: proto.Float64(float64(a.w.clock().UnixNano()) / 1e9),
		Uuid:      a.w.newUUID(),
	}
	t.state = state
	if isTerminal(state) {
		t.ended = true
		t.lifeGen++
	}
	t.pending = append(t.pending, &agentproto.StatusUpdate{
		FrameworkId: &mesos.FrameworkID{Value: proto.String(t.key.fw)},
		Status:      status,
	})
	if len(t.pending) == 1 && a.state == agentRegistered {
		a.forward(t)
		a.arm(t, false)
	}
}

// forward sends the head of the task's stream with the latest state.
func (a *simAgent) forward(t *agentTask) {
	head := t.pending[0]
	u := &agentproto.StatusUpdate{FrameworkId: head.FrameworkId, Status: head.Status, LatestState: t.state.Enum()}
	a.post(&agentproto.AgentMessage{Type: agentproto.AgentMessage_STATUS_UPDATE.Enum(), StatusUpdate: u},
		"STATUS_UPDATE "+describeStatus(t.key.fw, head.Status)+" latest "+t.state.String())
}

// arm schedules the head's next resend: retryMin after a first send, twice
// the last interval (up to retryMax) after a resend.
func (a *simAgent) arm(t *agentTask, retry bool) {
	if retry {
		t.backoff = min(2*t.backoff, agentRetryMax)
	} else {
		t.backoff = agentRetryMin
	}
	t.retryGen++
	gen := t.retryGen
	a.later(t.backoff, func() {
		if a.tasks[t.key] == t && t.retryGen == gen && a.state == agentRegistered && len(t.pending) > 0 {
			a.forward(t)
			a.arm(t, true)
		}
	})
}

// acknowledge pops the head of the task's stream if uuid names it; the
// next update goes out, or the task is done after its terminal update.
func (a *simAgent) acknowledge(k taskKey, uuid []byte) {
	t := a.tasks[k]
	if t == nil || len(t.pending) == 0 || !bytes.Equal(t.pending[0].GetStatus().GetUuid(), uuid) {
		return
	}
	t.pending[0] = nil
	t.pending = t.pending[1:]
	t.retryGen++
	if len(t.pending) > 0 {
		a.forward(t)
		a.arm(t, false)
		return
	}
	if t.ended {
		delete(a.tasks, k)
	}
}

func (a *simAgent) sortedTasks() []*agentTask {
	out := make([]*agentTask, 0, len(a.tasks))
	for _, t := range a.tasks {
		out = append(out, t)
	}
	slices.SortFunc(out, func(x, y *agentTask) int {
		return cmp.Or(cmp.Compare(x.key.fw, y.key.fw), cmp.Compare(x.key.task, y.key.task))
	})
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
