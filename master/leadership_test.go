package master_test

// Leadership as the driver sees it: a master leads while its registry
// store does. Followers redirect the scheduler API and the agent protocol
// to the leader (307, Mesos's Location form) or answer 503 while no leader
// is known; an elected master recovers the registry first; a master that
// loses the leadership, or whose registry commit fails, closes every
// stream and carries out nothing the failed commit was to guard. The
// store here is a test double of registry.Store whose leadership the test
// switches; the Raft store itself is tested in package registry.

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	registrypb "github.com/gomesos/gomesos/api/registry"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/master"
	"github.com/gomesos/gomesos/master/core"
	"github.com/gomesos/gomesos/registry"
	"github.com/gomesos/gomesos/resources"
)

// switchStore is a registry.Store whose leadership the test sets.
type switchStore struct {
	mu       sync.Mutex
	reg      *registrypb.Registry
	leading  bool
	leader   string
	applyErr error
	applied  []*registrypb.Operation
	lead     chan bool
	closed   bool
	// fetching, when set, holds Fetch until it is closed.
	fetching chan struct{}
}

func newSwitchStore(reg *registrypb.Registry, leader string) *switchStore {
	if reg == nil {
		reg = &registrypb.Registry{}
	}
	return &switchStore{reg: reg, leader: leader, lead: make(chan bool, 16)}
}

func (s *switchStore) Fetch(ctx context.Context) (*registrypb.Registry, error) {
	s.mu.Lock()
	hold := s.fetching
	s.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.leading {
		return nil, registry.ErrNotLeader
	}
	return proto.Clone(s.reg).(*registrypb.Registry), nil
}

func (s *switchStore) Apply(ctx context.Context, ops []*registrypb.Operation) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.applyErr != nil {
		return s.applyErr
	}
	if !s.leading {
		return registry.ErrNotLeader
	}
	for _, op := range ops {
		registry.Apply(s.reg, op)
	}
	s.applied = append(s.applied, ops...)
	return nil
}

func (s *switchStore) Leadership() <-chan bool { return s.lead }

func (s *switchStore) Leader() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.leader
}

func (s *switchStore) Stats() registry.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	state := "Follower"
	if s.leading {
		state = "Leader"
	}
	return registry.Stats{State: state, Peers: 3, RegistrySizeBytes: proto.Size(s.reg)}
}

func (s *switchStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.closed = true
		close(s.lead)
	}
	return nil
}

// set makes the store lead (or not) and names the leader.
func (s *switchStore) set(leading bool, leader string) {
	s.mu.Lock()
	s.leading, s.leader = leading, leader
	s.mu.Unlock()
	s.lead <- leading
}

func (s *switchStore) ops() []*registrypb.Operation {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*registrypb.Operation(nil), s.applied...)
}

func withStore(s *switchStore) func(*master.Config) {
	return func(c *master.Config) {
		c.OpenRegistry = func(string) (registry.Store, http.Handler, error) { return s, nil, nil }
	}
}

// noRedirects is a client that shows redirects instead of following them.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func post(t *testing.T, url, contentType string, body []byte) *http.Response {
	t.Helper()
	resp, err := noRedirects.Post(url, contentType, bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func subscribeBody(t *testing.T) []byte {
	b, err := codec.Marshal(codec.JSON, subscribeCall(frameworkInfo("follower test")))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func registerBody(t *testing.T, id string) []byte {
	info := &mesos.AgentInfo{Hostname: proto.String("h1"), Port: proto.Int32(5051), Resources: resources.ToProto(resources.MustParse(agentResources))}
	typ := agentproto.AgentMessage_REGISTER
	if id != "" {
		info.Id = &mesos.AgentID{Value: &id}
		typ = agentproto.AgentMessage_REREGISTER
	}
	b, err := proto.Marshal(&agentproto.AgentMessage{Type: typ.Enum(), Register: &agentproto.AgentMessage_Register{AgentInfo: info, Version: proto.String(core.Version)}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A master that does not lead sends frameworks and agents to the leader,
// as Mesos's non-leading masters do, and says who leads in its state.
func TestFollowerRedirectsToTheLeader(t *testing.T) {
	store := newSwitchStore(nil, "127.0.0.1:5999")
	m := startMaster(t, withStore(store))
	if m.Leading() {
		t.Fatal("a master whose store does not lead leads")
	}
	for _, path := range []string{"/api/v1/scheduler", "/master/api/v1/scheduler"} {
		resp := post(t, m.URL()+path, "application/json", subscribeBody(t))
		if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "//127.0.0.1:5999"+path {
			t.Errorf("SUBSCRIBE on %s at a follower: %d Location %q, want 307 //127.0.0.1:5999%s", path, resp.StatusCode, resp.Header.Get("Location"), path)
		}
	}
	resp := post(t, m.URL()+"/internal/agent/subscribe", codec.MediaProtobuf, registerBody(t, ""))
	if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "//127.0.0.1:5999/internal/agent/subscribe" {
		t.Errorf("agent REGISTER at a follower: %d Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	r, err := noRedirects.Get(m.URL() + "/master/redirect")
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusTemporaryRedirect || r.Header.Get("Location") != "//127.0.0.1:5999" {
		t.Errorf("/master/redirect at a follower: %d Location %q, want 307 //127.0.0.1:5999", r.StatusCode, r.Header.Get("Location"))
	}
	st := m.getJSON("/master/state")
	if st["leader"] != "master@127.0.0.1:5999" {
		t.Errorf("state leader = %v, want master@127.0.0.1:5999", st["leader"])
	}
	if li, _ := st["leader_info"].(map[string]any); li["hostname"] != "127.0.0.1" || li["port"] != float64(5999) {
		t.Errorf("state leader_info = %v", st["leader_info"])
	}
	if _, ok := st["elected_time"]; ok {
		t.Errorf("a follower's state has an elected_time")
	}
	if got := m.metrics()["master/elected"]; got != 0 {
		t.Errorf("master/elected = %v on a follower", got)
	}

	// No leader known: 503, as Mesos answers.
	store.mu.Lock()
	store.leader = ""
	store.mu.Unlock()
	waitFor(t, "the follower to forget the leader", func() bool { return m.Leader() == "" })
	resp = post(t, m.URL()+"/api/v1/scheduler", "application/json", subscribeBody(t))
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || b.String() != "No leader elected" {
		t.Errorf("SUBSCRIBE with no leader: %d %q, want 503 \"No leader elected\"", resp.StatusCode, b.String())
	}
	if st := m.getJSON("/master/state"); st["leader"] != nil || st["leader_info"] != nil {
		t.Errorf("with no leader known, state names leader %v, %v", st["leader"], st["leader_info"])
	}
}

// An agent's subscription that finds no leader known, or the leader still
// recovering, waits for it rather than be answered 503: a follower then
// redirects it to the leader, and the leader, once recovered, takes it.
// (After a failover every agent is back as soon as the new leader can take
// it, rather than after a backoff that grew while no master could.)
func TestAgentSubscriptionWaitsForTheLeader(t *testing.T) {
	store := newSwitchStore(nil, "")
	m := startMaster(t, withStore(store))
	type answer struct {
		status   int
		location string
	}
	subscribe := func() <-chan answer {
		out := make(chan answer, 1)
		go func() {
			resp, err := noRedirects.Post(m.URL()+"/internal/agent/subscribe", codec.MediaProtobuf, bytes.NewReader(registerBody(t, "")))
			if err != nil {
				out <- answer{status: -1, location: err.Error()}
				return
			}
			resp.Body.Close()
			out <- answer{resp.StatusCode, resp.Header.Get("Location")}
		}()
		return out
	}

	// No leader known: the subscription waits, then follows the leader
	// once one is elected.
	got := subscribe()
	waitFor(t, "the agent to wait for a leader", func() bool { return m.WaitingAgents() == 1 })
	select {
	case a := <-got:
		t.Fatalf("with no leader known the subscription was answered %d %q", a.status, a.location)
	default:
	}
	store.set(false, "127.0.0.1:5999")
	if a := <-got; a.status != http.StatusTemporaryRedirect || a.location != "//127.0.0.1:5999/internal/agent/subscribe" {
		t.Errorf("once a leader is known: %d %q, want 307 //127.0.0.1:5999/internal/agent/subscribe", a.status, a.location)
	}

	// This master elected, still recovering the registry: the
	// subscription waits for the recovery, then registers here.
	store.mu.Lock()
	store.leader = ""
	store.fetching = make(chan struct{})
	store.mu.Unlock()
	got = subscribe()
	waitFor(t, "the agent to wait for a leader", func() bool { return m.WaitingAgents() == 1 })
	store.set(true, m.Advertise())
	resp := post(t, m.URL()+"/api/v1/scheduler", "application/json", subscribeBody(t))
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("a framework at a recovering leader: %d, want 503", resp.StatusCode)
	}
	select {
	case a := <-got:
		t.Fatalf("while the leader recovers the subscription was answered %d %q", a.status, a.location)
	default:
	}
	close(store.fetching)
	if a := <-got; a.status != http.StatusOK {
		t.Errorf("once the leader recovered: %d %q, want 200", a.status, a.location)
	}
	if m.WaitingAgents() != 0 {
		t.Errorf("%d subscriptions still wait", m.WaitingAgents())
	}
}

// An elected master recovers the registry before it serves anything: an
// agent it recovered re-registers under its id; the new leader is recorded
// in the registry. When the leadership goes, every stream and connection
// closes and the master redirects again.
func TestElectionRecoversTheRegistryAndLosingItClosesEverything(t *testing.T) {
	known := &mesos.AgentInfo{
		Id: &mesos.AgentID{Value: proto.String("old-S0")}, Hostname: proto.String("h1"), Port: proto.Int32(5051),
		Resources: resources.ToProto(resources.MustParse(agentResources)),
	}
	store := newSwitchStore(&registrypb.Registry{Agents: &registrypb.Registry_Agents{Agents: []*registrypb.Registry_Agent{{Info: known}}}}, "")
	m := startMaster(t, withStore(store))
	store.set(true, "")
	waitFor(t, "the master to be elected", m.Leading)
	if ops := store.ops(); len(ops) != 1 || ops[0].GetType() != registrypb.Operation_UPDATE_MASTER || ops[0].GetMasterInfo().GetId() != m.masterID() {
		t.Fatalf("operations after the election: %v, want the new leader recorded", ops)
	}
	met := m.metrics()
	if met["master/elected"] != 1 || met["registrar/log/recovered"] != 1 || met["registrar/state_store_ms/count"] != 1 {
		t.Errorf("metrics after the election: elected=%v recovered=%v store count=%v", met["master/elected"], met["registrar/log/recovered"], met["registrar/state_store_ms/count"])
	}
	st := m.getJSON("/master/state")
	if st["elected_time"] == nil || st["leader"] != st["pid"] {
		t.Errorf("the leader's state: elected_time %v, leader %v, pid %v", st["elected_time"], st["leader"], st["pid"])
	}

	a := connectAgent(t, m, &agentproto.AgentMessage{
		Type:     agentproto.AgentMessage_REREGISTER.Enum(),
		Register: &agentproto.AgentMessage_Register{AgentInfo: known, Version: proto.String(core.Version)},
	})
	if a.ID != "old-S0" {
		t.Fatalf("the recovered agent came back as %q", a.ID)
	}
	if n := len(store.ops()); n != 1 {
		t.Errorf("re-registering a recovered agent wrote %d more operations, want none", n-1)
	}
	s := subscribe(t, m, frameworkInfo("fw"), codec.JSON)

	store.set(false, "127.0.0.1:5998")
	s.waitClosed()
	select {
	case <-a.done:
	case <-time.After(waitTimeout):
		t.Fatal("the agent's connection stayed open after the master lost the leadership")
	}
	waitFor(t, "the master to step down", func() bool { return !m.Leading() })
	resp := post(t, m.URL()+"/api/v1/scheduler", "application/json", subscribeBody(t))
	if resp.StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("SUBSCRIBE after losing the leadership: %d, want 307", resp.StatusCode)
	}
	if got := m.metrics()["master/elected"]; got != 0 {
		t.Errorf("master/elected = %v after losing the leadership", got)
	}
}

// A registry commit that fails (the store lost its quorum) guards what
// followed it: the agent whose admission it was never hears REGISTERED, and
// the master steps down.
func TestFailedRegistryCommitDropsWhatFollowsIt(t *testing.T) {
	store := newSwitchStore(nil, "")
	m := startMaster(t, withStore(store))
	store.set(true, "")
	waitFor(t, "the master to be elected", m.Leading)
	store.mu.Lock()
	store.applyErr = fmt.Errorf("quorum lost: %w", registry.ErrNotLeader)
	store.mu.Unlock()

	resp := post(t, m.URL()+"/internal/agent/subscribe", codec.MediaProtobuf, registerBody(t, ""))
	var got []string
	if resp.StatusCode == http.StatusOK {
		rr := codec.NewRecordReader(resp.Body, 0)
		for {
			rec, err := rr.ReadRecord()
			if err != nil {
				break
			}
			msg := &agentproto.MasterMessage{}
			if proto.Unmarshal(rec, msg) == nil {
				got = append(got, msg.GetType().String())
			}
		}
	}
	if strings.Contains(strings.Join(got, ","), "REGISTERED") {
		t.Fatalf("the agent heard %v although its admission was never committed", got)
	}
	waitFor(t, "the master to step down", func() bool { return !m.Leading() })
	if ops := store.ops(); len(ops) != 1 {
		t.Errorf("the registry holds %d operations, want only the election's", len(ops))
	}
	if got := m.getJSON("/master/state")["activated_slaves"]; got != float64(0) {
		t.Errorf("the master that stepped down shows %v agents", got)
	}
}
