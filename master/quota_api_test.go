package master_test

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	masterpb "github.com/gomesos/gomesos/api/v1/master"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/api/v1/quota"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/master"
	"github.com/gomesos/gomesos/registry"
	"google.golang.org/protobuf/proto"
)

// getQuota answers GET_QUOTA.
func (m *testMaster) getQuota() *quota.QuotaStatus {
	m.t.Helper()
	return m.operator(callOf(masterpb.Call_GET_QUOTA), codec.JSON).GetGetQuota().GetStatus()
}

// updateQuota sends UPDATE_QUOTA as JSON and returns the status and body.
func (m *testMaster) updateQuota(configs string, force bool) (int, string) {
	m.t.Helper()
	f := "false"
	if force {
		f = "true"
	}
	status, body := m.operatorRaw([]byte(`{"type":"UPDATE_QUOTA","update_quota":{"force":`+f+`,"quota_configs":[`+configs+`]}}`), "application/json", "")
	return status, string(body)
}

// quotaText renders a QuotaStatus's configurations for comparison.
func quotaText(s *quota.QuotaStatus) string {
	var parts []string
	for _, c := range s.GetConfigs() {
		p := c.GetRole() + " g{"
		for _, name := range sortedKeys(c.GetGuarantees()) {
			p += name + ":" + strconv.FormatFloat(c.GetGuarantees()[name].GetValue(), 'f', -1, 64) + " "
		}
		p += "} l{"
		for _, name := range sortedKeys(c.GetLimits()) {
			p += name + ":" + strconv.FormatFloat(c.GetLimits()[name].GetValue(), 'f', -1, 64) + " "
		}
		parts = append(parts, p+"}")
	}
	return strings.Join(parts, "; ")
}

// UPDATE_QUOTA sets guarantees and limits that GET_QUOTA reads back (with
// the legacy QuotaInfo of the guarantees), that the allocator holds (its
// quota metrics), and that /roles shows; a zero config removes a quota.
// The master advertises QUOTA_V2.
func TestQuotaUpdateAndGetRoundTrip(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "h1", "cpus:8;mem:4096;disk:1000")

	caps := m.operator(callOf(masterpb.Call_GET_MASTER), codec.JSON).GetGetMaster().GetMasterInfo().GetCapabilities()
	hasV2 := false
	for _, c := range caps {
		hasV2 = hasV2 || c.GetType() == mesos.MasterInfo_Capability_QUOTA_V2
	}
	if !hasV2 {
		t.Errorf("MasterInfo capabilities %v lack QUOTA_V2", caps)
	}
	if s := m.getQuota(); len(s.GetConfigs())+len(s.GetInfos()) != 0 {
		t.Fatalf("GET_QUOTA before any quota: %v", s)
	}

	status, body := m.updateQuota(`{"role":"eng","guarantees":{"cpus":{"value":2},"mem":{"value":512}},"limits":{"cpus":{"value":3}}},`+
		`{"role":"ops","limits":{"mem":{"value":1024},"gpus":{"value":0}}}`, false)
	if status != http.StatusOK {
		t.Fatalf("UPDATE_QUOTA: %d %s", status, body)
	}
	s := m.getQuota()
	if got, want := quotaText(s), "eng g{cpus:2 mem:512 } l{cpus:3 }; ops g{} l{gpus:0 mem:1024 }"; got != want {
		t.Errorf("GET_QUOTA configs %q, want %q", got, want)
	}
	if len(s.GetInfos()) != 2 || s.GetInfos()[0].GetRole() != "eng" || len(s.GetInfos()[0].GetGuarantee()) != 2 ||
		s.GetInfos()[0].GetGuarantee()[0].GetName() != "cpus" || s.GetInfos()[0].GetGuarantee()[0].GetScalar().GetValue() != 2 ||
		len(s.GetInfos()[1].GetGuarantee()) != 0 {
		t.Errorf("GET_QUOTA infos %v: want eng's guarantees, and ops with none", s.GetInfos())
	}

	// The allocator holds them: the quota metrics come from its Stats.
	m.waitMetric("allocator/mesos/quota/roles/eng/resources/cpus/guarantee", 2)
	mt := m.metrics()
	for name, want := range map[string]float64{
		"allocator/mesos/quota/roles/eng/resources/mem/guarantee":             512,
		"allocator/mesos/quota/roles/eng/resources/cpus/limit":                3,
		"allocator/mesos/quota/roles/eng/resources/cpus/offered_or_allocated": 0,
		"allocator/mesos/quota/roles/ops/resources/mem/limit":                 1024,
		"allocator/mesos/quota/roles/ops/resources/gpus/limit":                0,
	} {
		if got, ok := mt[name]; !ok || got != want {
			t.Errorf("metric %s = %v (present %v), want %v", name, got, ok, want)
		}
	}
	if _, ok := mt["allocator/mesos/quota/roles/eng/resources/mem/limit"]; ok {
		t.Errorf("eng has no mem limit, yet the metric is there")
	}

	roles := objects(m.getJSON("/master/roles")["roles"])
	var eng map[string]any
	for _, r := range roles {
		if r["name"] == "eng" {
			eng = r
		}
	}
	q, _ := eng["quota"].(map[string]any)
	g, _ := q["guarantee"].(map[string]any)
	l, _ := q["limit"].(map[string]any)
	if q["role"] != "eng" || g["cpus"] != 2.0 || g["mem"] != 512.0 || l["cpus"] != 3.0 || len(l) != 1 {
		t.Errorf("/master/roles eng quota = %v", eng["quota"])
	}

	// A sub-role's guarantee within its parent's; what the sub-role
	// consumes counts for its parent too.
	if status, body := m.updateQuota(`{"role":"eng/ml","guarantees":{"cpus":{"value":1}}}`, false); status != http.StatusOK {
		t.Fatalf("UPDATE_QUOTA eng/ml: %d %s", status, body)
	}
	fi := frameworkInfo("ml")
	fi.Role = proto.String("eng/ml")
	runTask(t, subscribe(t, m, fi, codec.JSON), a, "t1", "cpus:1;mem:128")
	m.waitMetric("allocator/mesos/quota/roles/eng/resources/cpus/consumed", 1)
	m.waitMetric("allocator/mesos/quota/roles/eng/ml/resources/cpus/consumed", 1)
	if v := m.metrics()["allocator/mesos/quota/roles/eng/ml/resources/cpus/offered_or_allocated"]; v < 1 {
		t.Errorf("eng/ml cpus offered_or_allocated = %v, want at least its task's 1", v)
	}
	for _, r := range objects(m.getJSON("/master/roles")["roles"]) {
		if r["name"] == "eng" {
			q, _ := r["quota"].(map[string]any)
			if c, _ := q["consumed"].(map[string]any); c["cpus"] != 1.0 || c["mem"] != 128.0 {
				t.Errorf("/master/roles eng consumed = %v, want its sub-role's task (cpus 1, mem 128)", q["consumed"])
			}
		}
	}
	// The Prometheus form labels the quota metrics by role and resource.
	got := m.scrape()
	if v := gauge(t, got, "mesos_allocator_mesos_quota_guarantee", map[string]string{"role": "eng/ml", "resource": "cpus"}); v != 1 {
		t.Errorf("mesos_allocator_mesos_quota_guarantee{eng/ml,cpus} = %v, want 1", v)
	}
	if v := gauge(t, got, "mesos_allocator_mesos_quota_limit", map[string]string{"role": "eng", "resource": "cpus"}); v != 3 {
		t.Errorf("mesos_allocator_mesos_quota_limit{eng,cpus} = %v, want 3", v)
	}
	if v := gauge(t, got, "mesos_allocator_mesos_quota_consumed", map[string]string{"role": "eng", "resource": "cpus"}); v != 1 {
		t.Errorf("mesos_allocator_mesos_quota_consumed{eng,cpus} = %v, want 1", v)
	}
	for name := range got {
		if strings.HasPrefix(name, "mesos_allocator_mesos_quota_roles") {
			t.Errorf("the flat form %s is exported besides the labelled one", name)
		}
	}

	// A config with neither guarantees nor limits removes the quota.
	if status, body := m.updateQuota(`{"role":"ops"}`, false); status != http.StatusOK {
		t.Fatalf("UPDATE_QUOTA removing ops: %d %s", status, body)
	}
	if got, want := quotaText(m.getQuota()), "eng g{cpus:2 mem:512 } l{cpus:3 }; eng/ml g{cpus:1 } l{}"; got != want {
		t.Errorf("GET_QUOTA after removing ops: %q, want %q", got, want)
	}
	waitFor(t, "ops's quota metrics to go", func() bool {
		_, ok := m.metrics()["allocator/mesos/quota/roles/ops/resources/mem/limit"]
		return !ok
	})
}

// Bad UPDATE_QUOTA, SET_QUOTA and REMOVE_QUOTA calls answer 400 with what
// is wrong, and change nothing: not even the valid configs of the same
// call.
func TestQuotaBadInputIsRefusedAndChangesNothing(t *testing.T) {
	m := startMaster(t)
	startAgent(t, m, "h1", "cpus:4;mem:2048")
	if status, body := m.updateQuota(`{"role":"eng","guarantees":{"cpus":{"value":1}}}`, false); status != http.StatusOK {
		t.Fatalf("UPDATE_QUOTA: %d %s", status, body)
	}
	before := quotaText(m.getQuota())
	ok := `{"role":"web","limits":{"cpus":{"value":1}}},`
	cases := []struct{ configs, text string }{
		{ok + `{"role":"a b","limits":{"cpus":{"value":1}}}`, "Invalid 'QuotaConfig.role'"},
		{ok + `{"role":"*","limits":{"cpus":{"value":1}}}`, "default role '*'"},
		{ok + `{"role":"x","limits":{"cpus":{"value":-1}}}`, "Invalid limit configuration {'cpus': -1}: Negative values not supported"},
		{ok + `{"role":"x","guarantees":{"mem":{"value":-5}}}`, "Negative values not supported"},
		{ok + `{"role":"x","guarantees":{"cpus":{"value":2}},"limits":{"cpus":{"value":1}}}`, "'QuotaConfig.guarantees' {'cpus': 2} is not contained within the 'QuotaConfig.limits' {'cpus': 1}"},
		{ok + `{"role":"x","limits":{"ports":{"value":10}}}`, "scalar resources only"},
		{ok + `{"role":"x","limits":{"cpus":{"value":2e12}}}`, "values greater than 1 trillion"},
		{ok + `{"role":"x","limits":{"mem":{"value":2e12}}}`, "values greater than 1 exabyte"},
		{ok + `{"role":"x","limits":{"cpus":{"value":1}}},{"role":"x","limits":{"cpus":{"value":2}}}`, "appears more than once"},
		// A child's guarantees must be within its parent's.
		{ok + `{"role":"eng/ml","guarantees":{"cpus":{"value":2}}}`, "Parent role 'eng' with guarantees (cpus:1) does not contain the sum of its children's guarantees (cpus:2)"},
		{ok + `{"role":"data/etl","guarantees":{"cpus":{"value":1}}}`, "Parent role 'data' with guarantees ({}) does not contain"},
		// More guaranteed than the cluster has, without force.
		{ok + `{"role":"big","guarantees":{"cpus":{"value":4}}}`, "total quota guarantees 'cpus:5' exceed cluster capacity 'cpus:4; mem:2048' (use 'force' flag to bypass this check)"},
		{ok + `{"role":"gpu","guarantees":{"gpus":{"value":1}}}`, "exceed cluster capacity"},
	}
	for _, c := range cases {
		status, body := m.updateQuota(c.configs, false)
		if status != http.StatusBadRequest || !strings.Contains(body, c.text) {
			t.Errorf("UPDATE_QUOTA %s: %d %q, want 400 with %q", c.configs, status, body, c.text)
		}
	}
	legacy := []struct {
		call   string
		status int
		text   string
	}{
		{`{"type":"SET_QUOTA","set_quota":{"quota_request":{"role":"eng","guarantee":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}}]}}}`, 400, "Cannot set quota for role 'eng' which already has quota"},
		{`{"type":"SET_QUOTA","set_quota":{"quota_request":{"role":"x","guarantee":[]}}}`, 400, "QuotaInfo with empty 'guarantee'"},
		{`{"type":"SET_QUOTA","set_quota":{"quota_request":{"role":"x","guarantee":[{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":1,"end":2}]}}]}}}`, 400, "QuotaInfo must not include non-scalar resources"},
		{`{"type":"SET_QUOTA","set_quota":{"quota_request":{"role":"x","guarantee":[{"name":"cpus","type":"SCALAR","scalar":{"value":1}},{"name":"cpus","type":"SCALAR","scalar":{"value":1}}]}}}`, 400, "duplicate resource name 'cpus'"},
		{`{"type":"SET_QUOTA","set_quota":{"quota_request":{"role":"x","guarantee":[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"reservations":[{"type":"STATIC","role":"x"}]}]}}}`, 400, "must not contain any ReservationInfo"},
		{`{"type":"SET_QUOTA","set_quota":{"quota_request":{"role":"x","guarantee":[{"name":"cpus","type":"SCALAR","scalar":{"value":10}}]}}}`, 409, "Quota guarantees overcommit the cluster (use 'force' to bypass this check)"},
		{`{"type":"REMOVE_QUOTA","remove_quota":{"role":"nobody"}}`, 400, "Role 'nobody' has no quota set"},
	}
	for _, c := range legacy {
		status, body := m.operatorRaw([]byte(c.call), "application/json", "")
		if status != c.status || !strings.Contains(string(body), c.text) {
			t.Errorf("%s: %d %q, want %d with %q", c.call, status, body, c.status, c.text)
		}
	}
	if after := quotaText(m.getQuota()); after != before {
		t.Fatalf("refused calls changed the quotas: %q, was %q", after, before)
	}

	// force bypasses the overcommit check, and only it.
	if status, body := m.updateQuota(`{"role":"big","guarantees":{"cpus":{"value":4}}}`, true); status != http.StatusOK {
		t.Fatalf("UPDATE_QUOTA with force: %d %s", status, body)
	}
	if got := quotaText(m.getQuota()); !strings.Contains(got, "big g{cpus:4 }") {
		t.Errorf("GET_QUOTA after a forced update: %q", got)
	}
}

// The legacy /quota endpoint: POST sets a guarantee (the limit too),
// GET lists the QuotaStatus as JSON, DELETE /quota/ROLE removes it.
func TestLegacyQuotaEndpoint(t *testing.T) {
	m := startMaster(t)
	startAgent(t, m, "h1", "cpus:4;mem:2048")
	set := `{"role":"eng","guarantee":[{"name":"cpus","type":"SCALAR","scalar":{"value":1.5}},{"name":"mem","type":"SCALAR","scalar":{"value":256}}]}`
	if status, _, body := m.do(http.MethodPost, "/master/quota", nil, []byte(set)); status != http.StatusOK {
		t.Fatalf("POST /master/quota: %d %s", status, body)
	}
	if status, _, body := m.do(http.MethodPost, "/quota", nil, []byte(set)); status != http.StatusBadRequest || !strings.Contains(body, "already has quota") {
		t.Errorf("POST /quota again: %d %q, want 400 'already has quota'", status, body)
	}
	if status, _, body := m.do(http.MethodPost, "/quota", nil, []byte(`{"role":`)); status != http.StatusBadRequest || !strings.Contains(body, "Failed to validate set quota request JSON") {
		t.Errorf("POST /quota with bad JSON: %d %q", status, body)
	}
	big := `{"role":"big","guarantee":[{"name":"cpus","type":"SCALAR","scalar":{"value":100}}]}`
	if status, _, body := m.do(http.MethodPost, "/quota", nil, []byte(big)); status != http.StatusConflict || !strings.Contains(body, "overcommit") {
		t.Errorf("POST /quota overcommitting: %d %q, want 409", status, body)
	}
	var st struct {
		Infos []struct {
			Role      string `json:"role"`
			Guarantee []struct {
				Name   string `json:"name"`
				Type   string `json:"type"`
				Scalar struct {
					Value float64 `json:"value"`
				} `json:"scalar"`
			} `json:"guarantee"`
		} `json:"infos"`
		Configs []struct {
			Role       string                        `json:"role"`
			Guarantees map[string]map[string]float64 `json:"guarantees"`
			Limits     map[string]map[string]float64 `json:"limits"`
		} `json:"configs"`
	}
	status, _, body := m.do(http.MethodGet, "/quota", nil, nil)
	if status != http.StatusOK {
		t.Fatalf("GET /quota: %d %s", status, body)
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("GET /quota: %v in %s", err, body)
	}
	if len(st.Infos) != 1 || st.Infos[0].Role != "eng" || len(st.Infos[0].Guarantee) != 2 || st.Infos[0].Guarantee[0].Type != "SCALAR" ||
		st.Infos[0].Guarantee[0].Scalar.Value != 1.5 || len(st.Configs) != 1 ||
		st.Configs[0].Guarantees["cpus"]["value"] != 1.5 || st.Configs[0].Limits["mem"]["value"] != 256 {
		t.Errorf("GET /quota: %s", body)
	}
	if status, _, body := m.do(http.MethodDelete, "/quota/eng", nil, nil); status != http.StatusOK {
		t.Fatalf("DELETE /quota/eng: %d %s", status, body)
	}
	if status, _, body := m.do(http.MethodDelete, "/master/quota/eng", nil, nil); status != http.StatusBadRequest || !strings.Contains(body, "Role 'eng' has no quota set") {
		t.Errorf("DELETE /master/quota/eng again: %d %q", status, body)
	}
	if status, _, body := m.do(http.MethodDelete, "/quota", nil, nil); status != http.StatusBadRequest {
		t.Errorf("DELETE /quota without a role: %d %q", status, body)
	}
	if status, _, _ := m.do(http.MethodPut, "/quota", nil, nil); status != http.StatusMethodNotAllowed {
		t.Errorf("PUT /quota: %d, want 405", status)
	}
	if s := m.getQuota(); len(s.GetConfigs()) != 0 {
		t.Errorf("GET_QUOTA after DELETE: %v", s)
	}
}

// replicatedMaster runs a master on a replicated-log registry in dir; stop
// stops it (and is called at the end of the test if not before).
func replicatedMaster(t *testing.T, dir string) (m *testMaster, stop func()) {
	t.Helper()
	cfg := master.Config{Port: 0, Options: testOptions(), TickInterval: 10 * time.Millisecond, IP: "127.0.0.1"}
	cfg.Logger = testLogger(t)
	cfg.OpenRegistry = func(self string) (registry.Store, http.Handler, error) {
		layer := registry.NewStreamLayer(self)
		s, err := registry.NewReplicated(registry.ReplicatedConfig{
			Dir: dir, Self: self, Peers: []string{self}, StreamLayer: layer,
			HeartbeatTimeout: 200 * time.Millisecond, ElectionTimeout: 200 * time.Millisecond, LeaderLeaseTimeout: 200 * time.Millisecond,
			Logger: testLogger(t),
		})
		if err != nil {
			return nil, nil, err
		}
		return s, layer, nil
	}
	mm, err := master.New(cfg)
	if err != nil {
		t.Fatalf("master.New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mm.Run(ctx) }()
	tr := &http.Transport{}
	m = &testMaster{Master: mm, t: t, tr: tr, client: &http.Client{Transport: tr}}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("master.Run: %v", err)
			}
		case <-time.After(waitTimeout):
			t.Errorf("master did not stop within %v", waitTimeout)
		}
		tr.CloseIdleConnections()
	}
	t.Cleanup(stop)
	waitFor(t, "the master to lead", mm.Leading)
	return m, stop
}

// Quotas are committed to the registry before UPDATE_QUOTA answers: a
// master restarted on the same replicated log reads them back, and gives
// them to its allocator (the quota metrics report what it holds).
func TestQuotaSurvivesAMasterRestart(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "registry")
	m, stop := replicatedMaster(t, dir)
	startAgent(t, m, "h1", "cpus:4;mem:2048")
	if status, body := m.updateQuota(`{"role":"eng","guarantees":{"cpus":{"value":2}},"limits":{"cpus":{"value":3},"mem":{"value":1024}}}`, false); status != http.StatusOK {
		t.Fatalf("UPDATE_QUOTA: %d %s", status, body)
	}
	want := quotaText(m.getQuota())
	stop()

	m2, _ := replicatedMaster(t, dir)
	if got := quotaText(m2.getQuota()); got != want || got == "" {
		t.Fatalf("GET_QUOTA after the restart: %q, want %q", got, want)
	}
	m2.waitMetric("allocator/mesos/quota/roles/eng/resources/cpus/guarantee", 2)
	mt := m2.metrics()
	if mt["allocator/mesos/quota/roles/eng/resources/cpus/limit"] != 3 || mt["allocator/mesos/quota/roles/eng/resources/mem/limit"] != 1024 {
		t.Errorf("the restarted master's allocator holds eng's limits as %v and %v, want 3 and 1024",
			mt["allocator/mesos/quota/roles/eng/resources/cpus/limit"], mt["allocator/mesos/quota/roles/eng/resources/mem/limit"])
	}
	// Removing it is durable too.
	if status, body := m2.updateQuota(`{"role":"eng","guarantees":{"cpus":{"value":0}}}`, false); status != http.StatusOK {
		t.Fatalf("UPDATE_QUOTA removing eng: %d %s", status, body)
	}
	if s := m2.getQuota(); len(s.GetConfigs()) != 0 {
		t.Errorf("GET_QUOTA after removing: %v", s)
	}
}

// A guarantee set or raised rescinds outstanding offers (Mesos's rule for
// SET_QUOTA: every offer of an agent, agent by agent, until what is taken
// back holds the guarantee), so that the allocator can meet it at once; a
// quota that guarantees nothing more rescinds nothing.
func TestQuotaGuaranteeRescindsOutstandingOffers(t *testing.T) {
	m := startMaster(t)
	startAgent(t, m, "h1", "cpus:4;mem:4096")
	startAgent(t, m, "h2", "cpus:4;mem:4096")
	fi := frameworkInfo("web")
	fi.Role = proto.String("web")
	web := subscribe(t, m, fi, codec.JSON)
	held := map[string]bool{}
	for len(held) < 2 {
		for _, o := range web.nextOffers() {
			held[o.GetId().GetValue()] = true
		}
	}

	// Limits only, and a lower guarantee: nothing is rescinded.
	if status, body := m.updateQuota(`{"role":"data","limits":{"cpus":{"value":1}}}`, false); status != http.StatusOK {
		t.Fatalf("UPDATE_QUOTA: %d %s", status, body)
	}
	web.none(schedpb.Event_RESCIND, 200*time.Millisecond)

	// A guarantee of 3 cpus: one agent's offer (4 cpus) holds it.
	if status, body := m.updateQuota(`{"role":"data","guarantees":{"cpus":{"value":3}},"limits":{"cpus":{"value":3}}}`, false); status != http.StatusOK {
		t.Fatalf("UPDATE_QUOTA: %d %s", status, body)
	}
	ev := web.next(schedpb.Event_RESCIND)
	if !held[ev.GetRescind().GetOfferId().GetValue()] {
		t.Fatalf("RESCIND of an offer web does not hold: %v", ev)
	}
	web.none(schedpb.Event_RESCIND, 200*time.Millisecond)

	// Lowering it rescinds nothing.
	if status, body := m.updateQuota(`{"role":"data","guarantees":{"cpus":{"value":1}}}`, false); status != http.StatusOK {
		t.Fatalf("UPDATE_QUOTA: %d %s", status, body)
	}
	web.none(schedpb.Event_RESCIND, 200*time.Millisecond)
}
