package master_test

// GET /metrics: the Prometheus text exposition of a real master, parsed
// with the Prometheus parser.

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	masterpb "github.com/gomesos/gomesos/api/v1/master"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
)

// scrape GETs /metrics and parses it.
func (m *testMaster) scrape() map[string]*dto.MetricFamily {
	m.t.Helper()
	status, header, body := m.do(http.MethodGet, "/metrics", nil, nil)
	if status != http.StatusOK {
		m.t.Fatalf("GET /metrics: status %d, body %q", status, body)
	}
	if ct := header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		m.t.Fatalf("GET /metrics: Content-Type %q, want the text format", ct)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		m.t.Fatalf("parsing /metrics: %v\n%s", err, body)
	}
	return families
}

// sample is the metric of a family with exactly the given labels, nil if
// there is none.
func sample(families map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	f := families[name]
	if f == nil {
		return nil
	}
	for _, m := range f.GetMetric() {
		if len(m.GetLabel()) != len(labels) {
			continue
		}
		match := true
		for _, l := range m.GetLabel() {
			if v, ok := labels[l.GetName()]; !ok || v != l.GetValue() {
				match = false
			}
		}
		if match {
			return m
		}
	}
	return nil
}

// gauge is a gauge's value, failing the test when it is missing.
func gauge(t *testing.T, families map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	t.Helper()
	s := sample(families, name, labels)
	if s == nil || s.GetGauge() == nil {
		t.Fatalf("/metrics has no gauge %s%v", name, labels)
	}
	return s.GetGauge().GetValue()
}

// histogramCount is a histogram's count, failing the test when it is
// missing.
func histogramCount(t *testing.T, families map[string]*dto.MetricFamily, name string, labels map[string]string) uint64 {
	t.Helper()
	s := sample(families, name, labels)
	if s == nil || s.GetHistogram() == nil {
		var have []string
		for _, m := range families[name].GetMetric() {
			have = append(have, fmt.Sprint(m.GetLabel()))
		}
		t.Fatalf("/metrics has no histogram %s%v; it has %v", name, labels, have)
	}
	return s.GetHistogram().GetSampleCount()
}

// After a framework subscribes and runs a task, /metrics parses and shows
// the snapshot's figures under their Prometheus names, the task by
// framework, role and state, the framework's outstanding offer, the queues
// of its stream and of the agent's connection, allocation runs and the
// requests by endpoint. The subscription's request is counted while its
// stream is still open: a stream is timed to its headers.
func TestPrometheusMetrics(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1", "cpus:4;mem:1024")
	s := subscribe(t, m, frameworkInfo("prom"), codec.JSON)
	runTask(t, s, a, "t1", "cpus:1;mem:128")
	offers := s.nextOffers() // the rest of the agent, offered again
	fw := s.FrameworkID

	got := m.scrape()
	if v := gauge(t, got, "mesos_master_tasks_running", nil); v != 1 {
		t.Errorf("mesos_master_tasks_running = %v, want 1", v)
	}
	if h := got["mesos_master_tasks_running"].GetHelp(); !strings.Contains(h, "master/tasks_running") {
		t.Errorf("mesos_master_tasks_running help %q does not name the Mesos metric", h)
	}
	if v := gauge(t, got, "mesos_master_slaves_active", nil); v != 1 {
		t.Errorf("mesos_master_slaves_active = %v, want 1", v)
	}
	if v := gauge(t, got, "mesos_master_cpus_used", nil); v != 1 {
		t.Errorf("mesos_master_cpus_used = %v, want 1", v)
	}
	if v := gauge(t, got, "mesos_system_cpus_total", nil); v < 1 {
		t.Errorf("mesos_system_cpus_total = %v", v)
	}
	if v := gauge(t, got, "mesos_master_framework_tasks", map[string]string{"framework_id": fw, "role": "*", "state": "TASK_RUNNING"}); v != 1 {
		t.Errorf("mesos_master_framework_tasks{TASK_RUNNING} = %v, want 1", v)
	}
	if v := gauge(t, got, "mesos_master_framework_offers_outstanding", map[string]string{"framework_id": fw, "role": "*"}); v != float64(len(offers)) {
		t.Errorf("mesos_master_framework_offers_outstanding = %v, want %d", v, len(offers))
	}
	if v := gauge(t, got, "mesos_master_outstanding_offers", nil); v != float64(len(offers)) {
		t.Errorf("mesos_master_outstanding_offers = %v, want %d", v, len(offers))
	}
	gauge(t, got, "mesos_master_stream_queue_records", map[string]string{"kind": "framework", "id": fw})
	gauge(t, got, "mesos_master_stream_queue_bytes", map[string]string{"kind": "agent", "id": a.ID})
	gauge(t, got, "mesos_master_event_queue_http_requests", nil)
	if n := histogramCount(t, got, "mesos_master_allocation_run_seconds", nil); n == 0 {
		t.Error("mesos_master_allocation_run_seconds counts no allocation run")
	}
	if runs := gauge(t, got, "mesos_allocator_mesos_allocation_runs", nil); runs == 0 {
		t.Error("mesos_allocator_mesos_allocation_runs is 0")
	}
	// The SUBSCRIBE is counted although its stream is open.
	if n := histogramCount(t, got, "mesos_http_request_duration_seconds", map[string]string{"endpoint": "/api/v1/scheduler", "code": "200"}); n != 1 {
		t.Errorf("SUBSCRIBE requests counted: %d, want 1", n)
	}
	if n := histogramCount(t, got, "mesos_http_request_duration_seconds", map[string]string{"endpoint": "/api/v1/scheduler", "code": "202"}); n < 2 {
		t.Errorf("ACCEPT and ACKNOWLEDGE requests counted: %d, want at least 2", n)
	}
	if v := gauge(t, got, "mesos_master_frameworks_calls_subscribe", map[string]string{"framework_id": fw, "framework_name": "prom"}); v != 1 {
		t.Errorf("mesos_master_frameworks_calls_subscribe = %v, want 1", v)
	}
	if v := gauge(t, got, "mesos_master_frameworks_tasks_active_task_running", map[string]string{"framework_id": fw, "framework_name": "prom"}); v != 1 {
		t.Errorf("mesos_master_frameworks_tasks_active_task_running = %v, want 1", v)
	}
	if v := gauge(t, got, "mesos_master_frameworks_roles_suppressed", map[string]string{"framework_id": fw, "framework_name": "prom", "role": "*"}); v != 0 {
		t.Errorf("mesos_master_frameworks_roles_suppressed = %v, want 0", v)
	}
	for name := range got {
		if strings.Contains(name, fw) || strings.Contains(name, "mesos_master_frameworks_prom") {
			t.Errorf("family %s names a framework", name)
		}
	}
	if got["go_goroutines"] == nil || got["process_cpu_seconds_total"] == nil && got["process_start_time_seconds"] == nil {
		t.Error("/metrics lacks the Go runtime or process collectors")
	}

	// Requests are labelled by route, not by URL.
	m.do(http.MethodGet, "/master/state?jsonp=x", nil, nil)
	m.do(http.MethodGet, "/no/such/path/"+fw, nil, nil)
	got = m.scrape()
	if n := histogramCount(t, got, "mesos_http_request_duration_seconds", map[string]string{"endpoint": "/master/state", "code": "200"}); n != 1 {
		t.Errorf("/master/state requests counted: %d, want 1", n)
	}
	// "/" is the web UI's catch-all route, which answers 404.
	if n := histogramCount(t, got, "mesos_http_request_duration_seconds", map[string]string{"endpoint": "/", "code": "404"}); n != 1 {
		t.Errorf("requests to no page counted: %d, want 1", n)
	}
	for _, mf := range got {
		for _, sm := range mf.GetMetric() {
			for _, l := range sm.GetLabel() {
				if l.GetName() == "endpoint" && strings.Contains(l.GetValue(), "no/such") {
					t.Errorf("endpoint label %q is a raw URL", l.GetValue())
				}
			}
		}
	}

	// The task finishes: it leaves the running gauges.
	st := s.nextUpdateAfter(a, "t1", mesos.TaskState_TASK_FINISHED)
	s.acknowledge(st)
	m.waitMetric("master/tasks_finished", 1)
	got = m.scrape()
	if v := gauge(t, got, "mesos_master_tasks_running", nil); v != 0 {
		t.Errorf("mesos_master_tasks_running = %v after the task finished, want 0", v)
	}
	if v := gauge(t, got, "mesos_master_tasks_finished", nil); v != 1 {
		t.Errorf("mesos_master_tasks_finished = %v, want 1", v)
	}
	if s := sample(got, "mesos_master_framework_tasks", map[string]string{"framework_id": fw, "role": "*", "state": "TASK_RUNNING"}); s != nil {
		t.Errorf("mesos_master_framework_tasks{TASK_RUNNING} = %v after the task finished", s.GetGauge().GetValue())
	}
}

// /metrics/snapshot takes ?timeout= as a Mesos duration and refuses one
// that does not parse.
func TestMetricsSnapshotTimeout(t *testing.T) {
	m := startMaster(t)
	status, _, body := m.do(http.MethodGet, "/metrics/snapshot?timeout=soon", nil, nil)
	if status != http.StatusBadRequest || !strings.HasPrefix(body, "Invalid timeout 'soon': ") {
		t.Errorf("?timeout=soon: %d %q, want 400 Invalid timeout", status, body)
	}
	status, _, body = m.do(http.MethodGet, "/metrics/snapshot?timeout=5secs", nil, nil)
	if status != http.StatusOK || !strings.Contains(body, `"master/elected":1.0`) {
		t.Errorf("?timeout=5secs: %d %q", status, body)
	}
}

// An operator API subscriber shows on /metrics: the subscriber count, its
// stream's queue and its request, counted while the stream is open.
func TestPrometheusOperatorStream(t *testing.T) {
	m := startMaster(t)
	ops := subscribeOperator(t, m, codec.JSON)
	ops.expect(masterpb.Event_SUBSCRIBED)
	got := m.scrape()
	if v := gauge(t, got, "mesos_master_operator_event_stream_subscribers", nil); v != 1 {
		t.Errorf("mesos_master_operator_event_stream_subscribers = %v, want 1", v)
	}
	queues := 0
	for _, s := range got["mesos_master_stream_queue_records"].GetMetric() {
		for _, l := range s.GetLabel() {
			if l.GetName() == "kind" && l.GetValue() == "operator" {
				queues++
			}
		}
	}
	if queues != 1 {
		t.Errorf("%d operator stream queues on /metrics, want 1", queues)
	}
	if n := histogramCount(t, got, "mesos_http_request_duration_seconds", map[string]string{"endpoint": "/api/v1", "code": "200"}); n != 1 {
		t.Errorf("operator SUBSCRIBE requests counted: %d, want 1", n)
	}
	ops.resp.Body.Close()
	<-ops.done
}

// Each master has its own registry: two in one process count their own
// requests only.
func TestPrometheusRegistryPerMaster(t *testing.T) {
	m1, m2 := startMaster(t), startMaster(t)
	for range 3 {
		m1.do(http.MethodGet, "/master/flags", nil, nil)
	}
	m2.do(http.MethodGet, "/master/flags", nil, nil)
	labels := map[string]string{"endpoint": "/master/flags", "code": "200"}
	if n := histogramCount(t, m1.scrape(), "mesos_http_request_duration_seconds", labels); n != 3 {
		t.Errorf("the first master counted %d requests, want 3", n)
	}
	if n := histogramCount(t, m2.scrape(), "mesos_http_request_duration_seconds", labels); n != 1 {
		t.Errorf("the second master counted %d requests, want 1", n)
	}
}
