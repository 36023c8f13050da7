package e2e

// A real network partition of three masters. Each master is a container of
// an image holding only the static gomesos binary, on a private Docker
// network where the masters reach one another by name (c1, c2, c3) and
// replicate the registry with Raft. Each container is also on Docker's
// default bridge, which carries the port published to the test on
// 127.0.0.1, so `docker network disconnect` from the private network cuts
// one master off from the others and from nothing else.
//
// The behaviour checked is Mesos's with a replicated log: a master that
// cannot reach a quorum does not lead, so it cannot admit agents nor accept
// frameworks, and what it did not commit is lost; the majority elects a
// leader and carries on; a healed master follows the leader and catches up
// with its log.

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"debug/elf"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/internal/docker"
	"github.com/gomesos/gomesos/internal/docker/dockertest"
	"github.com/gomesos/gomesos/internal/testutil"
	"github.com/gomesos/gomesos/master"
	"github.com/gomesos/gomesos/master/core"
	"github.com/gomesos/gomesos/resources"
)

// Bounds of the partition test's waits. The masters run with a short
// election timeout, so each is generous.
const (
	// electWithin bounds the first election, containers starting included.
	electWithin = 30 * time.Second
	// stepDownWithin bounds how long a master cut off from the quorum may
	// go on leading.
	stepDownWithin = 10 * time.Second
	// failoverWithin bounds the majority's election of a new leader.
	failoverWithin = 15 * time.Second
	// healWithin bounds the healed master's return as a caught-up follower.
	healWithin = 20 * time.Second
	// registeredWithin bounds a leader's REGISTERED to a new agent (one
	// registry commit).
	registeredWithin = 10 * time.Second
)

// masterPort is the port every master listens on inside its container.
const masterPort = 5050

// partitionFlags are the flags given to every master besides its address
// and the ensemble.
var partitionFlags = []string{"--work_dir=/data", "--registry_election_timeout=500ms"}

// boxedMaster is one master container.
type boxedMaster struct {
	// name is the master's name on the private network (c1, c2, c3): its
	// --hostname and its entry in --masters.
	name string
	// id is the container's Docker ID.
	id string
	// addr is the host address ("127.0.0.1:port") its port is published at.
	addr string
}

func (b *boxedMaster) String() string { return b.name }

// masterTrio is three masters in containers on a private network.
type masterTrio struct {
	t   *testing.T
	eng *docker.Engine
	// net is the private network's ID.
	net     string
	masters []*boxedMaster
	http    *http.Client
	// start is when the masters were created.
	start time.Time
}

// logf logs, with the time since the masters were created.
func (tr *masterTrio) logf(format string, args ...any) {
	tr.t.Helper()
	tr.t.Logf("%6.2fs "+format, append([]any{time.Since(tr.start).Seconds()}, args...)...)
}

// TestPartitionedMinorityCannotLeadAndHealedMasterCatchesUp cuts the
// leader of three masters off from the other two. The isolated master
// stops leading and admits nothing, not even an agent that reached it in
// the first instant after the cut; the two others elect a leader that
// admits agents; once the network heals, the old leader follows the new
// one and applies everything the majority committed meanwhile. Every agent
// admitted by a quorum is in the registry afterwards, and the agent the
// isolated master took in but could not commit is not.
func TestPartitionedMinorityCannotLeadAndHealedMasterCatchesUp(t *testing.T) {
	eng := dockertest.Engine(t)
	trio := startMasterTrio(t, eng)
	trio.logf("masters started")

	old := trio.waitLeader(trio.masters, electWithin)
	trio.logf("%s leads", old)
	first := trio.register(old, "agent-before-cut")
	firstID := first.waitRegistered(registeredWithin)

	// Cut the leader off from the two others.
	trio.disconnect(old)
	// Whatever the old leader answers an agent that reaches it at once,
	// while it may still believe it leads, it cannot admit it: admitting
	// needs a registry commit, which needs a quorum.
	early := trio.register(old, "agent-at-cut")
	earlyID := early.agentID
	early.neverRegistered(stepDownWithin)
	trio.logf("%s answered an agent at the cut with %d (agent id %q) and admitted it not", old, early.status, earlyID)

	majority := others(trio.masters, old)
	testutil.WaitFor(t, old.name+" to stop leading once cut off", stepDownWithin, func() bool {
		m, err := trio.metrics(old)
		return err == nil && m["master/elected"] == 0 && m["registrar/raft/state"] != 2
	})
	// Stepping down, it closed the stream of the agent it had admitted.
	first.waitClosed(stepDownWithin)
	next := trio.waitLeader(majority, failoverWithin)
	trio.logf("%s leads the majority", next)

	// The isolated master admits no agent and accepts no framework.
	trio.refuses(old)
	// The majority's leader admits agents.
	second := trio.register(next, "agent-in-majority")
	secondID := second.waitRegistered(registeredWithin)
	nextMetrics, err := trio.metrics(next)
	if err != nil {
		t.Fatal(err)
	}
	committed := nextMetrics["registrar/raft/commit_index"]
	// Still cut off, still refusing, after the majority committed more.
	trio.refuses(old)
	if m, err := trio.metrics(old); err != nil {
		t.Fatal(err)
	} else if m["registrar/raft/applied_index"] >= committed {
		t.Fatalf("the isolated master applied index %v, the majority's commit index is %v: it was not cut off", m["registrar/raft/applied_index"], committed)
	}

	// Heal: the old leader follows the leader (redirects to it, as leader
	// checks) and catches up with its log.
	trio.connect(old)
	var leader *boxedMaster
	testutil.WaitFor(t, old.name+" to rejoin as a follower and catch up", healWithin, func() bool {
		l, ok := trio.leader(trio.masters)
		if !ok || l == old {
			return false
		}
		lm, err := trio.metrics(l)
		if err != nil {
			return false
		}
		om, err := trio.metrics(old)
		if err != nil {
			return false
		}
		leader = l
		return om["registrar/raft/state"] == 0 && om["master/elected"] == 0 &&
			lm["registrar/raft/commit_index"] >= committed &&
			om["registrar/raft/applied_index"] >= lm["registrar/raft/commit_index"]
	})
	trio.logf("%s follows %s and has applied its log", old, leader)
	if leader != next {
		t.Logf("the leadership moved from %s to %s after the heal", next, leader)
	}

	// The registry kept both admitted agents and not the one the
	// isolated master could not commit.
	agents := trio.agentIDs(leader)
	for _, id := range []string{firstID, secondID} {
		if !slices.Contains(agents, id) {
			t.Errorf("agent %s is not known to the leader %s after the heal (it knows %v)", id, leader, agents)
		}
	}
	if earlyID != "" && slices.Contains(agents, earlyID) {
		t.Errorf("agent %s, sent to the isolated master, is known to the leader %s", earlyID, leader)
	}
}

// startMasterTrio builds the image, the private network and the three
// master containers, and removes them all when the test ends.
func startMasterTrio(t *testing.T, eng *docker.Engine) *masterTrio {
	t.Helper()
	image := masterImage(t, eng)
	ctx := ctxT(t)
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	prefix := "gomesos-test-partition-" + hex.EncodeToString(rnd[:])
	netw, err := eng.NetworkCreate(ctx, prefix, client.NetworkCreateOptions{Driver: "bridge"})
	if err != nil {
		t.Fatalf("creating the private network: %v", err)
	}
	trio := &masterTrio{
		t: t, eng: eng, net: netw.ID, start: time.Now(),
		http: &http.Client{
			Timeout:       5 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := eng.NetworkRemove(ctx, netw.ID, client.NetworkRemoveOptions{}); err != nil && !docker.IsNotFound(err) {
			t.Errorf("removing network %s: %v", prefix, err)
		}
	})
	var ensemble []string
	for i := 1; i <= 3; i++ {
		ensemble = append(ensemble, fmt.Sprintf("c%d:%d", i, masterPort))
	}
	port := network.MustParsePort(fmt.Sprintf("%d/tcp", masterPort))
	t.Cleanup(trio.remove)
	for i := 1; i <= 3; i++ {
		b := &boxedMaster{name: fmt.Sprintf("c%d", i)}
		cmd := append([]string{
			"/gomesos", "master", "--ip=0.0.0.0", "--hostname=" + b.name, fmt.Sprintf("--port=%d", masterPort),
			"--masters=" + strings.Join(ensemble, ","),
		}, partitionFlags...)
		res, err := eng.ContainerCreate(ctx, client.ContainerCreateOptions{
			Name:   prefix + "-" + b.name,
			Config: &container.Config{Image: image, Cmd: cmd, ExposedPorts: network.PortSet{port: {}}},
			HostConfig: &container.HostConfig{
				NetworkMode:  container.NetworkMode(prefix),
				PortBindings: network.PortMap{port: {{HostIP: netip.MustParseAddr("127.0.0.1")}}},
			},
			NetworkingConfig: &network.NetworkingConfig{EndpointsConfig: map[string]*network.EndpointSettings{
				prefix: {Aliases: []string{b.name}},
			}},
		})
		if err != nil {
			t.Fatalf("creating master %s: %v", b.name, err)
		}
		b.id = res.ID
		trio.masters = append(trio.masters, b)
		// The default bridge carries the published port, so that cutting
		// the private network leaves the master reachable by the test.
		if _, err := eng.NetworkConnect(ctx, "bridge", client.NetworkConnectOptions{Container: b.id}); err != nil {
			t.Fatalf("connecting %s to the default bridge: %v", b.name, err)
		}
	}
	// The Engine takes a while to start each; together they take less.
	errs := make([]error, len(trio.masters))
	var wg sync.WaitGroup
	for i, b := range trio.masters {
		wg.Go(func() {
			if _, err := eng.ContainerStart(ctx, b.id, client.ContainerStartOptions{}); err != nil {
				errs[i] = fmt.Errorf("starting master %s: %w", b.name, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	for _, b := range trio.masters {
		in, err := eng.ContainerInspect(ctx, b.id, client.ContainerInspectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		bindings := in.Container.NetworkSettings.Ports[port]
		if len(bindings) == 0 {
			t.Fatalf("master %s: port %s is not published", b.name, port)
		}
		b.addr = "127.0.0.1:" + bindings[0].HostPort
	}
	return trio
}

// masterImage imports an image holding nothing but the static gomesos
// binary, as /gomesos, and empty /data and /tmp.
func masterImage(t *testing.T, eng *docker.Engine) string {
	t.Helper()
	f, err := elf.Open(gomesosBin)
	if err != nil {
		t.Fatal(err)
	}
	dynamic := slices.ContainsFunc(f.Progs, func(p *elf.Prog) bool { return p.Type == elf.PT_INTERP })
	f.Close()
	if dynamic {
		t.Fatalf("%s is dynamically linked; it cannot run alone in a container (build it with CGO_ENABLED=0)", gomesosBin)
	}
	bin, err := os.ReadFile(gomesosBin)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Now()
	for _, h := range []*tar.Header{
		{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: now},
		{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777, ModTime: now},
		{Name: "gomesos", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bin)), ModTime: now},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tw.Write(bin); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return dockertest.Import(t, eng, "master", &buf)
}

// remove removes the masters' containers, logging their output first
// when the test failed.
func (tr *masterTrio) remove() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if tr.t.Failed() {
		for _, b := range tr.masters {
			logs, err := tr.eng.ContainerLogs(ctx, b.id, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Tail: "200"})
			if err != nil {
				tr.t.Logf("logs of master %s: %v", b, err)
				continue
			}
			var out bytes.Buffer
			_, _ = stdcopy.StdCopy(&out, &out, logs)
			logs.Close()
			tr.t.Logf("master %s (%s) logs:\n%s", b, b.addr, out.String())
		}
	}
	var wg sync.WaitGroup
	for _, b := range tr.masters {
		wg.Go(func() {
			if err := tr.eng.Remove(ctx, b.id); err != nil {
				tr.t.Errorf("removing master %s: %v", b, err)
			}
		})
	}
	wg.Wait()
}

// disconnect cuts b off from the private network.
func (tr *masterTrio) disconnect(b *boxedMaster) {
	tr.t.Helper()
	if _, err := tr.eng.NetworkDisconnect(ctxT(tr.t), tr.net, client.NetworkDisconnectOptions{Container: b.id}); err != nil {
		tr.t.Fatalf("disconnecting %s: %v", b.name, err)
	}
	tr.logf("%s cut off", b)
}

// connect puts b back on the private network under its name.
func (tr *masterTrio) connect(b *boxedMaster) {
	tr.t.Helper()
	if _, err := tr.eng.NetworkConnect(ctxT(tr.t), tr.net, client.NetworkConnectOptions{
		Container: b.id, EndpointConfig: &network.EndpointSettings{Aliases: []string{b.name}},
	}); err != nil {
		tr.t.Fatalf("reconnecting %s: %v", b.name, err)
	}
	tr.logf("%s reconnected", b)
}

// checkRunning fails the test at once when a master's container has
// ended (a master that exits, on a bad flag say, never leads).
func (tr *masterTrio) checkRunning() {
	tr.t.Helper()
	for _, b := range tr.masters {
		in, err := tr.eng.ContainerInspect(ctxT(tr.t), b.id, client.ContainerInspectOptions{})
		if err != nil {
			tr.t.Fatalf("inspecting master %s: %v", b, err)
		}
		if st := in.Container.State; st != nil && !st.Running {
			tr.t.Fatalf("master %s exited with status %d", b, st.ExitCode)
		}
	}
}

// metrics reads a master's /metrics/snapshot.
func (tr *masterTrio) metrics(b *boxedMaster) (map[string]float64, error) {
	resp, err := tr.http.Get("http://" + b.addr + "/metrics/snapshot")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s /metrics/snapshot: %s: %s", b, resp.Status, body)
	}
	out := map[string]float64{}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("%s /metrics/snapshot: %w", b, err)
	}
	return out, nil
}

// redirect is the Location a master's /master/redirect answers ("" when
// it answers anything but 307).
func (tr *masterTrio) redirect(b *boxedMaster) string { return redirectOf(b.addr) }

// leader reports the master of among that leads, when exactly one of them
// says it is elected and each of the others redirects to it.
func (tr *masterTrio) leader(among []*boxedMaster) (*boxedMaster, bool) {
	var leader *boxedMaster
	for _, b := range among {
		m, err := tr.metrics(b)
		if err != nil {
			return nil, false
		}
		if m["master/elected"] == 1 {
			if leader != nil {
				return nil, false
			}
			leader = b
		}
	}
	if leader == nil {
		return nil, false
	}
	for _, b := range among {
		if b != leader && tr.redirect(b) != "//"+leader.name+":5050" {
			return nil, false
		}
	}
	return leader, true
}

// waitLeader waits until one master of among leads and the others follow it.
func (tr *masterTrio) waitLeader(among []*boxedMaster, within time.Duration) *boxedMaster {
	tr.t.Helper()
	var leader *boxedMaster
	testutil.WaitFor(tr.t, fmt.Sprintf("one leader among %v", among), within, func() bool {
		tr.checkRunning()
		var ok bool
		leader, ok = tr.leader(among)
		return ok
	})
	return leader
}

// refuses checks that a master admits no agent and accepts no framework:
// it redirects them (307) or answers that no leader is elected (503).
func (tr *masterTrio) refuses(b *boxedMaster) {
	tr.t.Helper()
	a := tr.register(b, "agent-at-minority")
	if a.status != http.StatusTemporaryRedirect && a.status != http.StatusServiceUnavailable {
		tr.t.Errorf("the isolated %s answered an agent's REGISTER with %d, want 307 or 503", b, a.status)
	}
	fi := &mesos.FrameworkInfo{User: ptr("root"), Name: ptr("partitioned")}
	call := &schedpb.Call{Type: schedpb.Call_SUBSCRIBE.Enum(), Subscribe: &schedpb.Call_Subscribe{FrameworkInfo: fi}}
	body, err := codec.Marshal(codec.JSON, call)
	if err != nil {
		tr.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+b.addr+"/api/v1/scheduler", bytes.NewReader(body))
	if err != nil {
		tr.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := tr.http.Do(req)
	if err != nil {
		tr.t.Fatalf("SUBSCRIBE at %s: %v", b, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTemporaryRedirect && resp.StatusCode != http.StatusServiceUnavailable {
		tr.t.Errorf("the isolated %s answered a framework's SUBSCRIBE with %d, want 307 or 503", b, resp.StatusCode)
	}
}

// agentIDs lists the agents a master knows, connected or recovered from
// the registry.
func (tr *masterTrio) agentIDs(b *boxedMaster) []string {
	tr.t.Helper()
	var st struct {
		Slaves          []struct{ ID string } `json:"slaves"`
		RecoveredSlaves []struct{ ID string } `json:"recovered_slaves"`
	}
	getJSON(tr.t, "http://"+b.addr+"/master/slaves", &st)
	var ids []string
	for _, s := range append(st.Slaves, st.RecoveredSlaves...) {
		ids = append(ids, s.ID)
	}
	return ids
}

// fakeAgent is an agent connection opened over the agent protocol by the
// test itself.
type fakeAgent struct {
	t       *testing.T
	master  *boxedMaster
	status  int
	agentID string
	// msgs carries the master's messages; it is closed when the stream ends.
	msgs chan *agentproto.MasterMessage
}

// register sends a REGISTER to b and reads the stream, if b opens one,
// in the background.
func (tr *masterTrio) register(b *boxedMaster, hostname string) *fakeAgent {
	tr.t.Helper()
	msg := &agentproto.AgentMessage{
		Type: agentproto.AgentMessage_REGISTER.Enum(),
		Register: &agentproto.AgentMessage_Register{
			AgentInfo: &mesos.AgentInfo{
				Hostname:  ptr(hostname),
				Port:      ptr(int32(5051)),
				Resources: resources.ToProto(resources.MustParse("cpus:1;mem:128")),
			},
			Version: proto.String(core.Version),
		},
	}
	body, err := proto.Marshal(msg)
	if err != nil {
		tr.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	tr.t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+b.addr+"/internal/agent/subscribe", bytes.NewReader(body))
	if err != nil {
		tr.t.Fatal(err)
	}
	req.Header.Set("Content-Type", codec.MediaProtobuf)
	// No client timeout: the response is a stream. The headers must come
	// in time all the same.
	headers := time.AfterFunc(10*time.Second, cancel)
	resp, err := (&http.Client{CheckRedirect: tr.http.CheckRedirect}).Do(req)
	headers.Stop()
	if err != nil {
		tr.t.Fatalf("REGISTER %s at %s: %v", hostname, b, err)
	}
	a := &fakeAgent{t: tr.t, master: b, status: resp.StatusCode, msgs: make(chan *agentproto.MasterMessage, 100)}
	if resp.StatusCode != http.StatusOK {
		text, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		resp.Body.Close()
		close(a.msgs)
		tr.logf("REGISTER %s at %s: %d %s %s", hostname, b, resp.StatusCode, resp.Header.Get("Location"), text)
		return a
	}
	a.agentID = resp.Header.Get(master.HeaderAgentID)
	go func() {
		defer close(a.msgs)
		defer resp.Body.Close()
		rr := codec.NewRecordReader(resp.Body, 0)
		for {
			rec, err := rr.ReadRecord()
			if err != nil {
				return
			}
			m := &agentproto.MasterMessage{}
			if err := proto.Unmarshal(rec, m); err != nil {
				// The stream ends here; the waits say what was missing.
				return
			}
			a.msgs <- m
		}
	}()
	return a
}

// waitRegistered waits for REGISTERED and returns the agent's id.
func (a *fakeAgent) waitRegistered(within time.Duration) string {
	a.t.Helper()
	if a.status != http.StatusOK {
		a.t.Fatalf("REGISTER at %s: status %d, want 200", a.master, a.status)
	}
	deadline := time.After(within)
	for {
		select {
		case m, ok := <-a.msgs:
			if !ok {
				a.t.Fatalf("%s closed the agent stream before REGISTERED", a.master)
			}
			if m.GetType() == agentproto.MasterMessage_REGISTERED {
				if got := m.GetRegistered().GetAgentId().GetValue(); got != a.agentID {
					a.t.Fatalf("REGISTERED names agent %q, the header said %q", got, a.agentID)
				}
				return a.agentID
			}
		case <-deadline:
			a.t.Fatalf("no REGISTERED from %s within %s", a.master, within)
		}
	}
}

// neverRegistered checks that the agent's stream, if any, ends within the
// bound without a REGISTERED.
func (a *fakeAgent) neverRegistered(within time.Duration) {
	a.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case m, ok := <-a.msgs:
			if !ok {
				return
			}
			if m.GetType() == agentproto.MasterMessage_REGISTERED {
				a.t.Fatalf("the isolated %s admitted agent %s", a.master, a.agentID)
			}
		case <-deadline:
			a.t.Fatalf("the isolated %s kept agent %s's stream open for %s without admitting or refusing it", a.master, a.agentID, within)
		}
	}
}

// waitClosed reads the agent's stream until the master closes it.
func (a *fakeAgent) waitClosed(within time.Duration) {
	a.t.Helper()
	deadline := time.After(within)
	for {
		select {
		case _, ok := <-a.msgs:
			if !ok {
				return
			}
		case <-deadline:
			a.t.Fatalf("%s kept agent %s's stream open for %s", a.master, a.agentID, within)
		}
	}
}

// others is among without b.
func others(among []*boxedMaster, b *boxedMaster) []*boxedMaster {
	return slices.DeleteFunc(slices.Clone(among), func(x *boxedMaster) bool { return x == b })
}
