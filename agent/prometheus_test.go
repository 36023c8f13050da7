package agent

import (
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/gomesos/gomesos/agent/containerizer"
	"github.com/gomesos/gomesos/agent/internal/agenttest"
)

// scrape GETs the agent's /metrics and parses it.
func scrape(t *testing.T, a *testAgent, path string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get("http://" + a.Addr() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing %s: %v", path, err)
	}
	return families
}

// value is the gauge or the histogram count of name with exactly labels;
// ok is false when there is none.
func value(families map[string]*dto.MetricFamily, name string, labels map[string]string) (float64, bool) {
	for _, m := range families[name].GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		match := true
		for _, l := range m.GetLabel() {
			if labels[l.GetName()] != l.GetValue() {
				match = false
			}
		}
		if !match {
			continue
		}
		if h := m.GetHistogram(); h != nil {
			return float64(h.GetSampleCount()), true
		}
		return m.GetGauge().GetValue(), m.GetGauge() != nil
	}
	return 0, false
}

// The agent's /metrics (also under /slave(1)) parses and has the
// /metrics/snapshot figures, a running task's container statistics by
// framework and executor, request latencies by route and the Go
// collectors.
func TestPrometheusMetrics(t *testing.T) {
	checkLeaks(t)
	isolators, resolved, err := containerizer.IsolatorsFor("posix/cpu,posix/mem", containerizer.CgroupsOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fm := newFakeMaster(t)
	a := startAgent(t, fm, func(c *Config) { c.Isolators, c.Isolation = isolators, resolved })
	agentID := a.registered(t)
	task := commandTask("sleeper", agentID, "exec sleep 1000")
	task.Resources = append(task.Resources[:0:0], scalar("cpus", 0.5), scalar("mem", 64))
	fm.send(runTask(task))
	waitRunning(t, fm, "sleeper")
	fw := agenttest.Framework.GetId().GetValue()

	var got map[string]*dto.MetricFamily
	exLabels := map[string]string{"framework_id": fw, "executor_id": "sleeper"}
	eventually(t, "the sleeper's container statistics in /metrics", func() bool {
		got = scrape(t, a, "/metrics")
		// A task process measured the instant it starts may not have
		// resident pages yet: the figure is present, and then positive.
		v, ok := value(got, "mesos_agent_executor_mem_rss_bytes", exLabels)
		return ok && v > 0
	})
	for name, want := range map[string]float64{
		"mesos_slave_tasks_running": 1, "mesos_slave_registered": 1, "mesos_slave_executors_running": 1,
	} {
		if v, ok := value(got, name, nil); !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", name, v, ok, want)
		}
	}
	if v, ok := value(got, "mesos_system_cpus_total", nil); !ok || v < 1 {
		t.Errorf("mesos_system_cpus_total = %v (present %v)", v, ok)
	}
	// The task's cpus and the command executor's, as
	// /monitor/statistics says.
	if v, _ := value(got, "mesos_agent_executor_cpus_limit", exLabels); v < 0.5 || v != statisticsOf(t, a)["sleeper"]["cpus_limit"] {
		t.Errorf("mesos_agent_executor_cpus_limit = %v, /monitor/statistics says %v", v, statisticsOf(t, a)["sleeper"]["cpus_limit"])
	}
	if v, _ := value(got, "mesos_agent_executor_mem_rss_bytes", exLabels); v <= 0 {
		t.Errorf("mesos_agent_executor_mem_rss_bytes = %v", v)
	}
	if _, ok := value(got, "mesos_agent_executor_timestamp", exLabels); ok {
		t.Error("the statistics' timestamp is exposed as a figure")
	}
	if got["go_goroutines"] == nil {
		t.Error("/metrics lacks the Go collector")
	}

	// Requests are counted by route, with and without /slave(1); the
	// executor's subscription is counted while its stream is open.
	getBody(t, a, "/slave(1)/state")
	getBody(t, a, "/state?jsonp=x")
	getBody(t, a, "/no/such/thing")
	got = scrape(t, a, "/slave(1)/metrics")
	for _, c := range []struct {
		endpoint, code string
		want           float64
	}{
		{"/state", "200", 2},
		{"other", "404", 1},
		{"/api/v1/executor", "200", 1},
	} {
		if n, _ := value(got, "mesos_http_request_duration_seconds", map[string]string{"endpoint": c.endpoint, "code": c.code}); n < c.want {
			t.Errorf("requests to %s answered %s: %v, want %v", c.endpoint, c.code, n, c.want)
		}
	}
	for _, m := range got["mesos_http_request_duration_seconds"].GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == "endpoint" && strings.Contains(l.GetValue(), "no/such") {
				t.Errorf("endpoint label %q is a raw URL", l.GetValue())
			}
		}
	}
}

// /metrics/snapshot takes ?timeout= as a Mesos duration and refuses one
// that does not parse.
func TestMetricsSnapshotTimeout(t *testing.T) {
	checkLeaks(t)
	fm := newFakeMaster(t)
	a := startAgent(t, fm, nil)
	a.registered(t)
	if code, body := getBody(t, a, "/metrics/snapshot?timeout=later"); code != http.StatusBadRequest || !strings.HasPrefix(body, "Invalid timeout 'later': ") {
		t.Errorf("?timeout=later: %d %q", code, body)
	}
	if code, body := getBody(t, a, "/metrics/snapshot?timeout=1secs"); code != http.StatusOK || !strings.Contains(body, `"slave/registered":1.0`) {
		t.Errorf("?timeout=1secs: %d %q", code, body)
	}
}
