package master_test

import (
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	registrypb "github.com/gomesos/gomesos/api/registry"
	masterpb "github.com/gomesos/gomesos/api/v1/master"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/master"
	"google.golang.org/protobuf/proto"
)

// A follower sends operator calls to the leader (307), as Mesos's
// non-leading masters do; the legacy writers too.
func TestOperatorAPIAtAFollowerRedirects(t *testing.T) {
	store := newSwitchStore(nil, "127.0.0.1:5999")
	m := startMaster(t, withStore(store))
	for _, path := range []string{"/api/v1", "/master/api/v1"} {
		resp := post(t, m.URL()+path, "application/json", []byte(`{"type":"GET_STATE"}`))
		if resp.StatusCode != http.StatusTemporaryRedirect || resp.Header.Get("Location") != "//127.0.0.1:5999"+path {
			t.Errorf("GET_STATE on %s at a follower: %d Location %q", path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	resp := post(t, m.URL()+"/master/teardown", "application/x-www-form-urlencoded", []byte("frameworkId=x"))
	if resp.StatusCode != http.StatusTemporaryRedirect {
		t.Errorf("/master/teardown at a follower: %d, want 307", resp.StatusCode)
	}
}

// Weights set through the operator API are in the registry: a master
// elected later starts from them. Losing the leadership ends the operator
// event streams, whose clients find the new leader.
func TestWeightsSurviveAnElectionAndStreamsEndWithTheLeadership(t *testing.T) {
	store := newSwitchStore(&registrypb.Registry{Weights: []*registrypb.Registry_Weight{{Role: proto.String("old"), Weight: proto.Float64(3)}}}, "")
	m := startMaster(t, withStore(store))
	store.set(true, "")
	waitFor(t, "the master to be elected", m.Leading)
	ws := m.operator(callOf(masterpb.Call_GET_WEIGHTS), codec.JSON).GetGetWeights().GetWeightInfos()
	if len(ws) != 1 || ws[0].GetRole() != "old" || ws[0].GetWeight() != 3 {
		t.Fatalf("weights recovered from the registry: %v", ws)
	}
	status, body := m.operatorRaw([]byte(`{"type":"UPDATE_WEIGHTS","update_weights":{"weight_infos":[{"role":"new","weight":2}]}}`), "application/json", "")
	if status != http.StatusOK {
		t.Fatalf("UPDATE_WEIGHTS: %d %s", status, body)
	}
	var persisted *registrypb.Operation
	for _, op := range store.ops() {
		if op.GetType() == registrypb.Operation_UPDATE_WEIGHTS {
			persisted = op
		}
	}
	if persisted == nil || len(persisted.GetWeights()) != 1 || persisted.GetWeights()[0].GetRole() != "new" {
		t.Fatalf("UPDATE_WEIGHTS was not persisted: %v", store.ops())
	}
	ops := subscribeOperator(t, m, codec.JSON)
	ops.expect(masterpb.Event_SUBSCRIBED)
	store.set(false, "127.0.0.1:5998")
	select {
	case <-ops.done:
	case <-time.After(waitTimeout):
		t.Fatal("the operator stream stayed open after the master lost the leadership")
	}
}

// /master/roles, /master/weights and /master/teardown answer as Mesos's.
func TestLegacyRolesWeightsAndTeardown(t *testing.T) {
	m := startMaster(t)
	startAgent(t, m, "host1", "cpus:2;mem:1024")
	s := subscribe(t, m, frameworkInfo("legacy"), codec.JSON)
	s.nextOffers()

	status, _, body := m.do(http.MethodPut, "/master/weights", nil, []byte(`[{"role":"web","weight":2}]`))
	if status != http.StatusOK {
		t.Fatalf("PUT /master/weights: %d %s", status, body)
	}
	status, _, body = m.do(http.MethodPut, "/master/weights", nil, []byte(`[{"role":"web","weight":0}]`))
	if status != http.StatusBadRequest || !strings.Contains(body, "positive") {
		t.Fatalf("PUT /master/weights with weight 0: %d %s", status, body)
	}
	status, _, body = m.do(http.MethodPut, "/master/weights", nil, []byte(`{"role":`))
	if status != http.StatusBadRequest {
		t.Fatalf("PUT /master/weights with bad JSON: %d %s", status, body)
	}
	var weights []map[string]any
	status, _, body = m.do(http.MethodGet, "/master/weights", nil, nil)
	if err := json.Unmarshal([]byte(body), &weights); status != http.StatusOK || err != nil || len(weights) != 1 || weights[0]["role"] != "web" || weights[0]["weight"] != 2.0 {
		t.Fatalf("GET /master/weights: %d %s", status, body)
	}

	roles := objects(m.getJSON("/master/roles")["roles"])
	byName := map[string]map[string]any{}
	for _, r := range roles {
		byName[r["name"].(string)] = r
	}
	star, web := byName["*"], byName["web"]
	if star == nil || web == nil || web["weight"] != 2.0 || star["weight"] != 1.0 {
		t.Fatalf("/master/roles: %v", roles)
	}
	if fws, _ := star["frameworks"].([]any); len(fws) != 1 || fws[0] != s.FrameworkID {
		t.Fatalf("/master/roles '*' frameworks: %v", star["frameworks"])
	}
	for _, key := range []string{"resources", "allocated", "offered", "reserved", "quota"} {
		if _, ok := star[key]; !ok {
			t.Errorf("/master/roles role lacks %q: %v", key, star)
		}
	}
	if off, _ := star["offered"].(map[string]any); off["cpus"] != 2.0 {
		t.Errorf("/master/roles '*' offered: %v", star["offered"])
	}

	form := "application/x-www-form-urlencoded"
	if resp := post(t, m.URL()+"/master/teardown", form, []byte("frameworkId=nope")); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("teardown of an unknown framework: %d, want 400", resp.StatusCode)
	}
	if resp := post(t, m.URL()+"/master/teardown", form, nil); resp.StatusCode != http.StatusBadRequest {
		t.Errorf("teardown without frameworkId: %d, want 400", resp.StatusCode)
	}
	if resp := post(t, m.URL()+"/master/teardown", form, []byte("frameworkId="+url.QueryEscape(s.FrameworkID))); resp.StatusCode != http.StatusOK {
		t.Fatalf("teardown: %d, want 200", resp.StatusCode)
	}
	s.waitClosed()
	fws := m.getJSON("/master/frameworks")
	if len(objects(fws["frameworks"])) != 0 || len(objects(fws["completed_frameworks"])) != 1 {
		t.Fatalf("after teardown: %v", fws)
	}
}

// A client that accepts gzip gets the large responses compressed; the
// others get them plain.
func TestOperatorResponsesAreGzippedForClientsThatAcceptIt(t *testing.T) {
	m := startMaster(t)
	for i := range 5 {
		startAgent(t, m, "host"+strconv.Itoa(i), "cpus:2;mem:1024")
	}
	for _, accept := range []string{"gzip", "gzip;q=0", ""} {
		req, _ := http.NewRequest(http.MethodPost, m.URL()+"/api/v1", strings.NewReader(`{"type":"GET_AGENTS"}`))
		req.Header.Set("Content-Type", "application/json")
		if accept != "" {
			req.Header.Set("Accept-Encoding", accept)
		}
		resp, err := m.client.Transport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		var body io.Reader = resp.Body
		gz := resp.Header.Get("Content-Encoding") == "gzip"
		if gz != (accept == "gzip") {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q", accept, resp.Header.Get("Content-Encoding"))
		}
		if gz {
			zr, err := gzip.NewReader(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			body = zr
		}
		b, _ := io.ReadAll(body)
		resp.Body.Close()
		got := &masterpb.Response{}
		if err := codec.Unmarshal(codec.JSON, b, got); err != nil || len(got.GetGetAgents().GetAgents()) != 5 {
			t.Errorf("Accept-Encoding %q: %v %s", accept, err, b)
		}
	}
}

// The stream beats every heartbeat interval, and the master counts its
// subscribers.
func TestOperatorStreamHeartbeatsAndIsCounted(t *testing.T) {
	m := startMaster(t)
	ops := subscribeOperator(t, m, codec.JSON)
	ops.expect(masterpb.Event_SUBSCRIBED)
	beats := 0
	for beats < 3 {
		ev, ok := ops.events.take("event", waitTimeout)
		if !ok {
			t.Fatal("no HEARTBEAT within the wait")
		}
		if ev.GetType() != masterpb.Event_HEARTBEAT {
			t.Fatalf("unexpected %s on an idle cluster", ev.GetType())
		}
		beats++
	}
	if got := m.metrics()["master/operator_event_stream_subscribers"]; got != 1 {
		t.Fatalf("master/operator_event_stream_subscribers = %v, want 1", got)
	}
	ops.resp.Body.Close()
	<-ops.done
	m.waitMetric("master/operator_event_stream_subscribers", 0)
}

// A client that asks for RecordIO by name gets application/recordio with
// the inner type in Message-Content-Type (docs/recordio.md); one that asks
// for JSON gets JSON.
func TestOperatorStreamContentTypes(t *testing.T) {
	m := startMaster(t)
	for _, c := range []struct{ accept, messageAccept, ct, mct string }{
		{"application/recordio", "application/x-protobuf", "application/recordio", "application/x-protobuf"},
		{"application/recordio", "", "application/recordio", "application/json"},
		{"application/json", "", "application/json", ""},
	} {
		req, _ := http.NewRequest(http.MethodPost, m.URL()+"/api/v1", strings.NewReader(`{"type":"SUBSCRIBE"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", c.accept)
		if c.messageAccept != "" {
			req.Header.Set("Message-Accept", c.messageAccept)
		}
		resp, err := m.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != c.ct || resp.Header.Get("Message-Content-Type") != c.mct {
			t.Errorf("Accept %q, Message-Accept %q: %d, Content-Type %q, Message-Content-Type %q; want %q, %q",
				c.accept, c.messageAccept, resp.StatusCode, resp.Header.Get("Content-Type"), resp.Header.Get("Message-Content-Type"), c.ct, c.mct)
		}
	}
}

// --weights seeds a cluster whose registry holds no weights, and is written
// there; once the registry holds weights they win over the flag, as with
// Mesos's deprecated flag.
func TestWeightsFlagSeedsTheRegistryOnlyOnce(t *testing.T) {
	withWeights := func(c *master.Config) { c.Weights = map[string]float64{"eng": 2, "ops": 1} }

	empty := newSwitchStore(&registrypb.Registry{}, "")
	m := startMaster(t, withStore(empty), withWeights)
	empty.set(true, "")
	waitFor(t, "the master to be elected", m.Leading)
	waitFor(t, "the flag's weights", func() bool {
		ws := m.operator(callOf(masterpb.Call_GET_WEIGHTS), codec.JSON).GetGetWeights().GetWeightInfos()
		return len(ws) == 1 && ws[0].GetRole() == "eng" && ws[0].GetWeight() == 2
	})
	var seeded *registrypb.Operation
	for _, op := range empty.ops() {
		if op.GetType() == registrypb.Operation_UPDATE_WEIGHTS {
			seeded = op
		}
	}
	if seeded == nil || len(seeded.GetWeights()) != 1 || seeded.GetWeights()[0].GetRole() != "eng" {
		t.Fatalf("--weights were not written to the registry: %v", empty.ops())
	}

	held := newSwitchStore(&registrypb.Registry{Weights: []*registrypb.Registry_Weight{{Role: proto.String("eng"), Weight: proto.Float64(5)}}}, "")
	m2 := startMaster(t, withStore(held), withWeights)
	held.set(true, "")
	waitFor(t, "the second master to be elected", m2.Leading)
	waitFor(t, "the registry's weights", func() bool {
		ws := m2.operator(callOf(masterpb.Call_GET_WEIGHTS), codec.JSON).GetGetWeights().GetWeightInfos()
		return len(ws) == 1 && ws[0].GetRole() == "eng" && ws[0].GetWeight() == 5
	})
	for _, op := range held.ops() {
		if op.GetType() == registrypb.Operation_UPDATE_WEIGHTS {
			t.Fatalf("the flag overwrote the registry's weights: %v", op)
		}
	}
}
