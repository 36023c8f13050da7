package e2e

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/agent"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/resources"
)

// addAgentWith adds an agent as addAgent does, with its configuration
// changed by adjust first.
func (c *cluster) addAgentWith(res string, adjust func(*agent.Config)) *agent.Agent {
	c.t.Helper()
	self, err := os.Executable()
	if err != nil {
		c.t.Fatal(err)
	}
	cfg := agent.Config{
		Master:                    c.master.Addr(),
		IP:                        "127.0.0.1",
		WorkDir:                   c.t.TempDir(),
		Resources:                 res,
		ExecutorBinary:            self,
		FetcherCacheDir:           c.t.TempDir(),
		RegistrationBackoffFactor: 10 * time.Millisecond,
		StatusUpdateRetryMin:      200 * time.Millisecond,
		StatusUpdateRetryMax:      time.Second,
		Logger:                    testLogger(c.t).With("component", "agent", "n", len(c.agents)),
	}
	adjust(&cfg)
	a, err := agent.New(cfg)
	if err != nil {
		c.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	c.cancel = append(c.cancel, cancel)
	c.agents = append(c.agents, a)
	c.wg.Add(1)
	done := make(chan struct{})
	go func() {
		defer c.wg.Done()
		defer close(done)
		if err := a.Run(ctx); err != nil && ctx.Err() == nil {
			c.t.Errorf("agent: %v", err)
		}
	}()
	// Cleanups run last-registered first: this agent stops before its
	// directories (registered above, after the cluster's own stop) are
	// removed, or its executors' ends would write into a removed tree.
	c.t.Cleanup(func() {
		cancel()
		<-done
	})
	return a
}

// revocableCPUs sums an offer's revocable cpus, checking that each is
// marked revocable and nothing else is (the non-revocable cpus and mem).
func revocableCPUs(o *mesos.Offer) (rev, nonRev float64) {
	for _, r := range o.GetResources() {
		if r.GetName() != "cpus" {
			continue
		}
		if r.Revocable != nil {
			rev += r.GetScalar().GetValue()
		} else {
			nonRev += r.GetScalar().GetValue()
		}
	}
	return rev, nonRev
}

// agentRevocable reads the agent's cpus_revocable from /master/state.
func agentRevocable(c *cluster) float64 {
	var st struct {
		Slaves []struct {
			Resources map[string]any `json:"resources"`
		} `json:"slaves"`
	}
	c.getJSON("/master/state", &st)
	if len(st.Slaves) != 1 {
		return -1
	}
	v, _ := st.Slaves[0].Resources["cpus_revocable"].(float64)
	return v
}

// With --resource_estimator=fixed --oversubscribed_resources=cpus:2 the
// master offers 2 revocable cpus, marked revocable, to a framework with
// REVOCABLE_RESOURCES; one without never sees them. /master/state and the
// metrics show them.
func TestRevocableResourcesOffered(t *testing.T) {
	c := startCluster(t, clusterOptions{})
	c.addAgentWith("cpus:2;mem:1024;disk:1024", func(cfg *agent.Config) {
		cfg.ResourceEstimatorName = agent.EstimatorFixedMesos // Mesos's module name, an alias of "fixed"
		cfg.OversubscribedResources = "cpus:2"
		cfg.OversubscribedResourcesInterval = 100 * time.Millisecond
	})
	waitFor(t, "the agent's revocable cpus in /master/state", func() bool { return agentRevocable(c) == 2 })
	var metrics map[string]float64
	c.getJSON("/metrics/snapshot", &metrics)
	if metrics["master/cpus_revocable_total"] != 2 || metrics["master/cpus_total"] != 2 {
		t.Errorf("master/cpus_revocable_total %v, master/cpus_total %v; want 2 and 2",
			metrics["master/cpus_revocable_total"], metrics["master/cpus_total"])
	}

	// The framework without the capability takes the whole agent's
	// non-revocable resources and holds them.
	plain := startFramework(t, c, frameworkOptions{})
	po := plain.nextOffer()
	if rev, nonRev := revocableCPUs(po); rev != 0 || nonRev != 2 {
		t.Fatalf("the framework without REVOCABLE_RESOURCES was offered %v revocable and %v other cpus, want 0 and 2", rev, nonRev)
	}

	rf := startFramework(t, c, frameworkOptions{capabilities: []mesos.FrameworkInfo_Capability_Type{mesos.FrameworkInfo_Capability_REVOCABLE_RESOURCES}})
	ro := rf.nextOffer()
	if rev, nonRev := revocableCPUs(ro); rev != 2 || nonRev != 0 {
		t.Fatalf("the REVOCABLE_RESOURCES framework was offered %v revocable and %v other cpus, want 2 and 0: %v", rev, nonRev, ro.GetResources())
	}
	// The plain framework declines; its resources come back to it or
	// the other, never revocable ones to it.
	if err := plain.client.Decline(ctxT(t), ids(po), 0); err != nil {
		t.Fatal(err)
	}
	deadline := time.After(2 * time.Second)
	for done := false; !done; {
		select {
		case o := <-plain.offers:
			if rev, _ := revocableCPUs(o); rev != 0 {
				t.Fatalf("the framework without REVOCABLE_RESOURCES was offered revocable cpus: %v", o.GetResources())
			}
			if err := plain.client.Decline(ctxT(t), ids(o), 0); err != nil {
				t.Fatal(err)
			}
		case <-deadline:
			done = true
		}
	}
}

// settableEstimator is a resource estimator the test sets.
type settableEstimator struct{ milliCPUs atomic.Int64 }

func (*settableEstimator) Name() string          { return "test" }
func (*settableEstimator) NeedsStatistics() bool { return false }
func (e *settableEstimator) Oversubscribable(time.Time, []agent.ExecutorUsage) resources.Resources {
	v := e.milliCPUs.Load()
	if v <= 0 {
		return nil
	}
	return resources.New(resources.Resource{Name: "cpus", Type: resources.TypeScalar, Scalar: resources.Scalar(v), Revocable: true})
}

// An estimate that shrinks below what is offered rescinds the offers
// holding revocable resources; the smaller estimate is offered again.
func TestRevocableEstimateShrinkRescinds(t *testing.T) {
	c := startCluster(t, clusterOptions{})
	est := &settableEstimator{}
	est.milliCPUs.Store(2000)
	c.addAgentWith("cpus:1;mem:256;disk:256", func(cfg *agent.Config) {
		cfg.ResourceEstimator = est
		cfg.OversubscribedResourcesInterval = 100 * time.Millisecond
	})
	waitFor(t, "the agent's revocable cpus in /master/state", func() bool { return agentRevocable(c) == 2 })
	rf := startFramework(t, c, frameworkOptions{capabilities: []mesos.FrameworkInfo_Capability_Type{mesos.FrameworkInfo_Capability_REVOCABLE_RESOURCES}})
	var held *mesos.Offer
	for held == nil {
		if o := rf.nextOffer(); func() bool { rev, _ := revocableCPUs(o); return rev == 2 }() {
			held = o
		}
	}
	est.milliCPUs.Store(500)
	ev := rf.nextEvent(schedpb.Event_RESCIND)
	if ev.GetRescind().GetOfferId().GetValue() != held.GetId().GetValue() {
		t.Fatalf("rescinded %v, want the offer holding the revocable cpus %v", ev.GetRescind().GetOfferId(), held.GetId())
	}
	for {
		o := rf.nextOffer()
		if rev, _ := revocableCPUs(o); rev != 0 {
			if rev != 0.5 {
				t.Fatalf("after shrinking, offered %v revocable cpus, want 0.5", rev)
			}
			break
		}
	}
	if got := agentRevocable(c); got != 0.5 {
		t.Fatalf("cpus_revocable in /master/state %v, want 0.5", got)
	}
}

// fakeLoad is a load source the test drives.
type fakeLoad struct {
	mu   sync.Mutex
	five float64
}

func (l *fakeLoad) set(v float64) { l.mu.Lock(); l.five = v; l.mu.Unlock() }
func (l *fakeLoad) LoadAverage() (float64, float64, float64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.five, l.five, l.five, nil
}

// With --qos_controller=load, a load average above the threshold evicts
// the executor of the task on revocable cpus (TASK_LOST,
// REASON_CONTAINER_PREEMPTED, from the agent); the task on non-revocable
// cpus keeps running, and slave/executors_preempted counts one.
func TestQoSLoadControllerEvictsRevocableTask(t *testing.T) {
	c := startCluster(t, clusterOptions{})
	load := &fakeLoad{}
	a := c.addAgentWith("cpus:1;mem:512;disk:256", func(cfg *agent.Config) {
		cfg.ResourceEstimatorName = agent.EstimatorFixed
		cfg.OversubscribedResources = "cpus:1"
		cfg.OversubscribedResourcesInterval = 100 * time.Millisecond
		cfg.QoSControllerName = agent.QoSControllerLoad
		cfg.QoSLoadThreshold5Min = "4"
		cfg.QoSLoadSource = load
	})
	waitFor(t, "the agent's revocable cpus in /master/state", func() bool { return agentRevocable(c) == 1 })
	rf := startFramework(t, c, frameworkOptions{capabilities: []mesos.FrameworkInfo_Capability_Type{mesos.FrameworkInfo_Capability_REVOCABLE_RESOURCES}})

	// Gather offers until both kinds of cpus are in hand.
	var offers []*mesos.Offer
	var revCPU, cpu, mem *mesos.Resource
	for revCPU == nil || cpu == nil || mem == nil {
		o := rf.nextOffer()
		offers = append(offers, o)
		for _, r := range o.GetResources() {
			switch {
			case r.GetName() == "cpus" && r.Revocable != nil:
				revCPU = r
			case r.GetName() == "cpus":
				cpu = r
			case r.GetName() == "mem":
				mem = r
			}
		}
	}
	part := func(r *mesos.Resource, v float64) *mesos.Resource {
		p := proto.Clone(r).(*mesos.Resource)
		p.Scalar = &mesos.Value_Scalar{Value: proto.Float64(v)}
		return p
	}
	agentID := offers[0].GetAgentId()
	task := func(id string, res ...*mesos.Resource) *mesos.TaskInfo {
		return &mesos.TaskInfo{Name: ptr(id), TaskId: &mesos.TaskID{Value: ptr(id)}, AgentId: agentID,
			Resources: res, Command: &mesos.CommandInfo{Value: ptr("sleep 1000")}}
	}
	var offerIDs []*mesos.OfferID
	for _, o := range offers {
		offerIDs = append(offerIDs, o.GetId())
	}
	// The revocable task mixes revocable cpus and non-revocable mem, as
	// Mesos allows.
	if err := rf.client.Launch(ctxT(t), offerIDs, []*mesos.TaskInfo{
		task("revocable", part(revCPU, 0.5), part(mem, 32)),
		task("regular", part(cpu, 0.5), part(mem, 32)),
	}, nil); err != nil {
		t.Fatal(err)
	}
	running := map[string]bool{}
	for len(running) < 2 {
		st := rf.nextUpdate()
		if st.GetState() == mesos.TaskState_TASK_RUNNING {
			running[st.GetTaskId().GetValue()] = true
		} else if st.GetState().IsTerminal() {
			t.Fatalf("task %s ended %s before the load rose: %s", st.GetTaskId().GetValue(), st.GetState(), st.GetMessage())
		}
	}

	load.set(8)
	st := rf.nextUpdate()
	if st.GetTaskId().GetValue() != "revocable" || st.GetState() != mesos.TaskState_TASK_LOST ||
		st.GetReason() != mesos.TaskStatus_REASON_CONTAINER_PREEMPTED || st.GetSource() != mesos.TaskStatus_SOURCE_AGENT {
		t.Fatalf("after the load rose: %s %s %s %s %q; want revocable TASK_LOST REASON_CONTAINER_PREEMPTED SOURCE_AGENT",
			st.GetTaskId().GetValue(), st.GetState(), st.GetReason(), st.GetSource(), st.GetMessage())
	}
	load.set(0)
	var am map[string]float64
	getJSON(t, "http://"+a.Addr()+"/metrics/snapshot", &am)
	if am["slave/executors_preempted"] != 1 {
		t.Errorf("slave/executors_preempted = %v, want 1", am["slave/executors_preempted"])
	}
	// The regular task still runs: reconciliation says so.
	if err := rf.client.Reconcile(ctxT(t), []*schedpb.Call_Reconcile_Task{{TaskId: &mesos.TaskID{Value: ptr("regular")}, AgentId: agentID}}); err != nil {
		t.Fatal(err)
	}
	for {
		st := rf.nextUpdate()
		if st.GetTaskId().GetValue() != "regular" {
			continue
		}
		if st.GetState() != mesos.TaskState_TASK_RUNNING {
			t.Fatalf("the non-revocable task is %s, want TASK_RUNNING", st.GetState())
		}
		break
	}
}

// With --resource_estimator=idle, the cpus a sleeping task was allocated
// and leaves idle are offered as revocable once measured.
func TestIdleEstimatorOffersIdleCPUs(t *testing.T) {
	c := startCluster(t, clusterOptions{})
	c.addAgentWith("cpus:1;mem:256;disk:256", func(cfg *agent.Config) {
		cfg.ResourceEstimatorName = agent.EstimatorIdle
		cfg.OversubscribedResourcesInterval = 200 * time.Millisecond
	})
	fw := startFramework(t, c, frameworkOptions{})
	o := fw.nextOffer()
	if err := fw.client.Launch(ctxT(t), ids(o), []*mesos.TaskInfo{commandTask("sleeper", o, "cpus:1;mem:32", "sleep 1000")}, nil); err != nil {
		t.Fatal(err)
	}
	waitState(t, fw, "sleeper", mesos.TaskState_TASK_RUNNING)
	if got := agentRevocable(c); got != 0 {
		t.Logf("revocable cpus before any measurement: %v", got)
	}
	waitFor(t, "the sleeper's idle cpu offered as revocable", func() bool { return agentRevocable(c) >= 0.5 })
	// The executor holds the task's cpu and the command executor's 0.1,
	// as in Mesos: no more can be idle.
	if got := agentRevocable(c); got > 1.1 {
		t.Fatalf("%v revocable cpus, more than the 1.1 the executor was allocated", got)
	}
}
