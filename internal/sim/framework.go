package sim

import (
	"fmt"
	"strconv"
	"strings"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/master/core"
	"github.com/gomesos/gomesos/resources"
	"google.golang.org/protobuf/proto"
)

type fwState int

const (
	fwIdle         fwState = iota // not subscribed yet
	fwSubscribing                 // SUBSCRIBE sent
	fwSubscribed                  // SUBSCRIBED received on the current stream
	fwDisconnected                // the stream ended; about to subscribe again
	fwDone                        // torn down
)

// simFramework plays a scheduler with a fixed workload: it subscribes,
// launches its tasks on the offers they fit, declines the rest with a
// filter, acknowledges every status update that carries a uuid, reconciles
// after every re-subscription and now and then, and tears itself down when
// every task is terminal. It records every state it sees for every task.
type simFramework struct {
	w    *world
	idx  int
	name string

	id            string
	state         fwState
	stream        *fwStream
	f2m           link
	subscriptions int
	suppressed    bool
	finished      bool // every task it must wait for is terminal
	tearingDown   bool
	teardownSent  bool
	reconciling   bool // the periodic reconciliation is armed

	tasks   []*fwTask
	byID    map[string]*fwTask
	pending []*fwTask // not launched, in workload order

	// checkpoint is FrameworkInfo.checkpoint: its tasks survive a restart
	// of their agent's process.
	checkpoint bool
	// received are the uuids of the updates it received (with their
	// task and state); owed those of them it received before it decided
	// to tear itself down (after that, the master may refuse its
	// acknowledgements: the framework is gone); acked those whose
	// acknowledgement the master took.
	received map[string]string
	owed     map[string]*fwTask
	acked    map[string]bool
	// ackLost are the acknowledgements refused for want of a leading
	// master.
	ackLost map[string]bool
}

type fwTask struct {
	idx int
	id  string
	// launched: an ACCEPT naming the task was sent and not refused;
	// confirmed: the master answered that ACCEPT 202.
	launched, confirmed bool
	agentID             string
	states              []mesos.TaskState
	terminal            bool
	final               mesos.TaskState
	finalFromMaster     bool // the terminal state came from the master (no uuid)
	finalReason         mesos.TaskStatus_Reason
	// lostAfter: after the agent's end, the master said TASK_LOST (an
	// agent removed, a reconciliation): it may have recorded that end.
	lostAfter   bool
	killDecided bool
	killSent    bool // the framework asked the master to kill it
}

func newFramework(w *world, idx int) *simFramework {
	f := &simFramework{w: w, idx: idx, name: "sim-framework-" + strconv.Itoa(idx), byID: map[string]*fwTask{},
		checkpoint: true, received: map[string]string{}, owed: map[string]*fwTask{}, acked: map[string]bool{},
		ackLost: map[string]bool{}}
	if p := w.cfg.NoCheckpointShare; p > 0 {
		f.checkpoint = !w.chance(p)
	}
	for i := range w.cfg.TasksPerFramework {
		t := &fwTask{idx: i, id: fmt.Sprintf("task-%05d", i)}
		f.tasks = append(f.tasks, t)
		f.byID[t.id] = t
	}
	f.pending = append([]*fwTask(nil), f.tasks...)
	return f
}

func (f *simFramework) tracef(format string, args ...any) {
	f.w.tracef("f"+strconv.Itoa(f.idx)+" "+format, args...)
}

func (f *simFramework) call(call *schedpb.Call, desc string, done func(core.Result)) {
	if call.GetType() != schedpb.Call_SUBSCRIBE {
		call.FrameworkId = &mesos.FrameworkID{Value: proto.String(f.id)}
	}
	f.w.schedulerCall(f, f.stream, call, desc, done)
}

// ---- Subscription ----

func (f *simFramework) subscribe() {
	if f.state == fwDone {
		return
	}
	info := &mesos.FrameworkInfo{
		User:            proto.String("sim"),
		Name:            proto.String(f.name),
		Role:            proto.String("*"),
		FailoverTimeout: proto.Float64(failoverTimeout.Seconds()),
		Checkpoint:      proto.Bool(f.checkpoint),
	}
	call := &schedpb.Call{Type: schedpb.Call_SUBSCRIBE.Enum(), Subscribe: &schedpb.Call_Subscribe{FrameworkInfo: info}}
	if f.id != "" {
		info.Id = &mesos.FrameworkID{Value: proto.String(f.id)}
		call.FrameworkId = info.Id
	}
	if f.suppressed {
		call.Subscribe.SuppressedRoles = []string{"*"}
	}
	f.state = fwSubscribing
	f.stream = f.w.newStream(f)
	f.call(call, "SUBSCRIBE", nil)
}

// streamEnded: the master closed the stream or the network cut it.
func (f *simFramework) streamEnded(s *fwStream, why string) {
	if f.stream != s {
		return
	}
	f.tracef("stream %s ended: %s", s.id, why)
	f.stream = nil
	if f.state == fwDone {
		return
	}
	f.state = fwDisconnected
	if f.teardownSent {
		return // the TEARDOWN's answer decides
	}
	f.w.after(f.w.uniform(0, frameworkBackoffMax), func() {
		if f.state == fwDisconnected {
			f.subscribe()
		}
	})
}

// receive is an event arriving on stream s.
func (f *simFramework) receive(s *fwStream, ev *schedpb.Event) {
	if f.stream != s || s.broken {
		return
	}
	switch ev.GetType() {
	case schedpb.Event_SUBSCRIBED:
		f.subscribed(ev.GetSubscribed())
	case schedpb.Event_OFFERS:
		f.offers(ev.GetOffers().GetOffers())
	case schedpb.Event_UPDATE:
		f.update(ev.GetUpdate().GetStatus())
	case schedpb.Event_HEARTBEAT:
	case schedpb.Event_ERROR:
		msg := ev.GetError().GetMessage()
		f.tracef("<m ERROR %q", msg)
		if strings.Contains(msg, "removed") {
			f.w.fail("frameworks-survive", "framework %d (%s) was removed: %s", f.idx, f.id, msg)
		}
	default:
		f.tracef("<m %s", ev.GetType())
	}
}

func (f *simFramework) subscribed(sub *schedpb.Event_Subscribed) {
	first := f.id == ""
	if id := sub.GetFrameworkId().GetValue(); !first && id != f.id {
		f.w.fail("frameworks-keep-ids", "framework %d subscribed again with its id %s, but was given %s", f.idx, f.id, id)
		return
	}
	f.id = sub.GetFrameworkId().GetValue()
	f.state = fwSubscribed
	f.subscriptions++
	f.tracef("<m SUBSCRIBED %s", f.id)
	if f.tearingDown {
		f.teardown()
		return
	}
	if !first {
		f.reconcile()
	}
	if !f.reconciling {
		f.reconciling = true
		f.w.after(f.w.cfg.ReconcileInterval, f.periodicReconcile)
	}
	f.checkDone() // a framework without work is done at once
}

// ---- Offers and launches ----

func (f *simFramework) offers(offers []*mesos.Offer) {
	w := f.w
	w.report.Offers += len(offers)
	var declined []*mesos.OfferID
	launched := 0
	for _, o := range offers {
		n := 0
		if f.state == fwSubscribed && w.phase == phaseRun && !f.tearingDown {
			n = min(fits(o, w.taskQty), len(f.pending))
		}
		if n == 0 {
			declined = append(declined, o.GetId())
			continue
		}
		batch := f.pending[:n:n]
		f.pending = f.pending[n:]
		launched += n
		f.accept(o, batch)
	}
	f.tracef("<m OFFERS %d: launching %d tasks, declining %d offers", len(offers), launched, len(declined))
	if len(declined) > 0 {
		refuse := w.cfg.DeclineRefuse
		f.call(&schedpb.Call{
			Type:    schedpb.Call_DECLINE.Enum(),
			Decline: &schedpb.Call_Decline{OfferIds: declined, Filters: &mesos.Filters{RefuseSeconds: proto.Float64(refuse.Seconds())}},
		}, fmt.Sprintf("DECLINE %d", len(declined)), nil)
	}
	if len(f.pending) == 0 && !f.suppressed && f.state == fwSubscribed {
		f.suppressed = true
		f.call(&schedpb.Call{Type: schedpb.Call_SUPPRESS.Enum(), Suppress: &schedpb.Call_Suppress{}}, "SUPPRESS", nil)
	}
}

// fits is how many tasks of qty fit in an offer.
func fits(o *mesos.Offer, qty map[string]resources.Scalar) int {
	have, err := resources.FromProto(o.GetResources())
	if err != nil {
		return 0
	}
	haveQty := have.ToScalarQuantities()
	n := -1
	for name, need := range qty {
		if need <= 0 {
			continue
		}
		k := int(haveQty[name] / need)
		if n < 0 || k < n {
			n = k
		}
	}
	return max(n, 0)
}

func (f *simFramework) accept(o *mesos.Offer, batch []*fwTask) {
	var infos []*mesos.TaskInfo
	for _, t := range batch {
		t.launched = true
		t.agentID = o.GetAgentId().GetValue()
		infos = append(infos, &mesos.TaskInfo{
			Name:      proto.String(t.id),
			TaskId:    &mesos.TaskID{Value: proto.String(t.id)},
			AgentId:   o.GetAgentId(),
			Resources: f.w.taskProto,
			Command:   &mesos.CommandInfo{Value: proto.String("sleep 1")},
		})
	}
	call := &schedpb.Call{
		Type: schedpb.Call_ACCEPT.Enum(),
		Accept: &schedpb.Call_Accept{
			OfferIds: []*mesos.OfferID{o.GetId()},
			Operations: []*mesos.Offer_Operation{{
				Type:   mesos.Offer_Operation_LAUNCH.Enum(),
				Launch: &mesos.Offer_Operation_Launch{TaskInfos: infos},
			}},
			Filters: &mesos.Filters{RefuseSeconds: proto.Float64(0)},
		},
	}
	f.call(call, fmt.Sprintf("ACCEPT %s: %d tasks from %s", o.GetId().GetValue(), len(batch), batch[0].id), func(r core.Result) {
		if !r.Code.Failed() {
			for _, t := range batch {
				t.confirmed = true
				// A few tasks are killed at once, before they run: the
				// agent may still be starting their executors.
				if w := f.w; !t.killDecided && w.cfg.KillRatio > 0 && w.chance(w.cfg.KillRatio/4) {
					t.killDecided, t.killSent = true, true
					f.call(&schedpb.Call{
						Type: schedpb.Call_KILL.Enum(),
						Kill: &schedpb.Call_Kill{TaskId: &mesos.TaskID{Value: proto.String(t.id)}, AgentId: &mesos.AgentID{Value: proto.String(t.agentID)}},
					}, "KILL "+t.id+" (early)", nil)
				}
			}
			return
		}
		// The master refused the call (the stream was gone): nothing was
		// launched, the tasks wait for other offers.
		f.tracef("ACCEPT refused (%s): %s", r.Code, r.Message)
		for _, t := range batch {
			t.launched = false
			t.agentID = ""
		}
		f.pending = mergePending(f.pending, batch)
		if f.w.phase != phaseRun {
			f.checkDone()
			return
		}
		if f.suppressed && f.state == fwSubscribed {
			f.suppressed = false
			f.call(&schedpb.Call{Type: schedpb.Call_REVIVE.Enum(), Revive: &schedpb.Call_Revive{}}, "REVIVE", nil)
		} else {
			f.suppressed = false
		}
	})
}

// mergePending merges two lists of tasks in workload order.
func mergePending(a, b []*fwTask) []*fwTask {
	out := make([]*fwTask, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		if a[0].idx < b[0].idx {
			out, a = append(out, a[0]), a[1:]
		} else {
			out, b = append(out, b[0]), b[1:]
		}
	}
	return append(append(out, a...), b...)
}

// ---- Status updates ----

// acknowledge acknowledges an update that carries a uuid.
func (f *simFramework) acknowledge(s *mesos.TaskStatus) {
	if len(s.GetUuid()) == 0 {
		return
	}
	uuid := string(s.GetUuid())
	f.received[uuid] = s.GetTaskId().GetValue() + " " + s.GetState().String()
	if !f.tearingDown {
		f.owed[uuid] = f.byID[s.GetTaskId().GetValue()]
	}
	call := &schedpb.Call{
		Type:        schedpb.Call_ACKNOWLEDGE.Enum(),
		FrameworkId: &mesos.FrameworkID{Value: proto.String(f.id)},
		Acknowledge: &schedpb.Call_Acknowledge{
			AgentId: s.GetAgentId(), TaskId: s.GetTaskId(), Uuid: s.GetUuid(),
		},
	}
	f.w.schedulerCallTaken(f, f.stream, call, "ACKNOWLEDGE "+describeStatus(f.id, s), nil, func(r core.Result) {
		if !r.Code.Failed() {
			f.acked[uuid] = true
		} else if r.Message == noLeader {
			// It went down with a master; the agent sends the update
			// again, unless the framework is gone by then.
			f.ackLost[uuid] = true
		}
	})
}

func (f *simFramework) update(s *mesos.TaskStatus) {
	w := f.w
	f.tracef("<m UPDATE %s", describeStatus(f.id, s))
	t := f.byID[s.GetTaskId().GetValue()]
	if t == nil || !t.launched {
		w.fail("updates-for-launched-tasks", "framework %s got an update for task %s, which it never launched", f.id, s.GetTaskId().GetValue())
		return
	}
	w.masterEndsTask(f, t, s)
	if w.failure != nil {
		return
	}
	st := s.GetState()
	if t.terminal && st != t.final && t.finalFromMaster && t.final == mesos.TaskState_TASK_LOST &&
		s.GetSource() != mesos.TaskStatus_SOURCE_MASTER {
		// Mesos forwards an agent's updates even for tasks the master
		// has already reported lost to a framework that is not partition
		// aware (and no longer tracks): on removing their agent, or
		// answering their reconciliation after that. The framework keeps
		// TASK_LOST as the task's end but still acknowledges what the
		// agent sends: back, it replays its stream of updates from the
		// oldest one not acknowledged, which may come before an end the
		// master had already heard of.
		t.states = append(t.states, st)
		f.acknowledge(s)
		return
	}
	if t.terminal && st != t.final && lostOnItsAgent(st) && s.GetSource() == mesos.TaskStatus_SOURCE_MASTER &&
		len(s.GetUuid()) == 0 && (s.GetReason() == mesos.TaskStatus_REASON_AGENT_REMOVED || s.GetReason() == mesos.TaskStatus_REASON_RECONCILIATION ||
		s.GetReason() == mesos.TaskStatus_REASON_AGENT_RESTARTED) {
		// The other way round: the framework saw the agent's own end of
		// the task, but the master had not yet had its acknowledgement
		// when it removed the agent, which Mesos reports TASK_LOST for
		// every task it holds (Master::__removeSlave), or when it answered
		// a reconciliation sent before the end arrived, which Mesos
		// answers TASK_LOST for a task no longer live (Master::reconcile),
		// or when the agent came back without the task (it restarted, or
		// forgot it), which Mesos hears from the agent as TASK_LOST
		// (TASK_GONE, TASK_DROPPED to a partition-aware framework).
		// The master keeps the end the agent reported (checkEnd counts
		// it), and so does the framework.
		t.states = append(t.states, st)
		t.lostAfter = true
		return
	}
	if t.terminal && st != t.final {
		w.fail("terminal-is-final", "framework %s saw task %s go %v after the terminal %v (states seen: %s)",
			f.id, t.id, st, t.final, compactStates(t.states))
		return
	}
	t.states = append(t.states, st)
	f.acknowledge(s)
	if isTerminal(st) && !t.terminal {
		t.terminal = true
		t.final = st
		t.finalFromMaster = s.GetSource() == mesos.TaskStatus_SOURCE_MASTER && len(s.GetUuid()) == 0
		t.finalReason = s.GetReason()
		w.checkExecutorTruth(f.id, t.id)
		f.checkDone()
		return
	}
	if st == mesos.TaskState_TASK_RUNNING && !t.killDecided && w.cfg.KillRatio > 0 {
		t.killDecided = true
		if w.chance(w.cfg.KillRatio) {
			t.killSent = true
			f.call(&schedpb.Call{
				Type: schedpb.Call_KILL.Enum(),
				Kill: &schedpb.Call_Kill{TaskId: s.GetTaskId(), AgentId: s.GetAgentId()},
			}, "KILL "+t.id, nil)
		}
	}
}

// reconcile asks for the state of every task whose launch the master took
// and that is not terminal yet.
func (f *simFramework) reconcile() {
	var tasks []*schedpb.Call_Reconcile_Task
	for _, t := range f.tasks {
		if t.confirmed && !t.terminal {
			tasks = append(tasks, &schedpb.Call_Reconcile_Task{
				TaskId:  &mesos.TaskID{Value: proto.String(t.id)},
				AgentId: &mesos.AgentID{Value: proto.String(t.agentID)},
			})
		}
	}
	if len(tasks) == 0 {
		return
	}
	f.call(&schedpb.Call{Type: schedpb.Call_RECONCILE.Enum(), Reconcile: &schedpb.Call_Reconcile{Tasks: tasks}},
		fmt.Sprintf("RECONCILE %d tasks", len(tasks)), nil)
}

func (f *simFramework) periodicReconcile() {
	if f.state == fwDone || f.finished {
		return
	}
	if f.state == fwSubscribed {
		f.reconcile()
	}
	f.w.after(f.w.cfg.ReconcileInterval, f.periodicReconcile)
}

// ---- The end ----

// drain: the time limit passed; launch nothing more and finish once every
// launched task is terminal.
func (f *simFramework) drain() {
	if f.state == fwSubscribed && !f.suppressed {
		f.suppressed = true
		f.call(&schedpb.Call{Type: schedpb.Call_SUPPRESS.Enum(), Suppress: &schedpb.Call_Suppress{}}, "SUPPRESS", nil)
	}
	f.checkDone()
}

func (f *simFramework) checkDone() {
	if f.finished {
		return
	}
	for _, t := range f.tasks {
		if t.terminal {
			continue
		}
		if f.w.phase == phaseRun || t.launched {
			return
		}
	}
	f.finished = true
	f.tracef("every task is terminal")
	f.w.checkFrameworkDone(f)
	f.tearingDown = true
	if f.state == fwSubscribed {
		f.teardown()
	}
}

func (f *simFramework) teardown() {
	f.teardownSent = true
	f.call(&schedpb.Call{Type: schedpb.Call_TEARDOWN.Enum()}, "TEARDOWN", func(r core.Result) {
		f.teardownSent = false
		if !r.Code.Failed() {
			f.state = fwDone
			f.w.frameworkDone()
			return
		}
		f.tracef("TEARDOWN refused (%s): %s", r.Code, r.Message)
		if f.state == fwDisconnected {
			f.subscribe()
		}
	})
}

// lostOnItsAgent reports whether a master's update in state st says that
// the task is gone with (or from) its agent.
func lostOnItsAgent(st mesos.TaskState) bool {
	switch st {
	case mesos.TaskState_TASK_LOST, mesos.TaskState_TASK_GONE, mesos.TaskState_TASK_DROPPED:
		return true
	}
	return false
}
