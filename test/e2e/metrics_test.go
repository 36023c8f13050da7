package e2e

import (
	"bytes"
	"net/http"
	"os/exec"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrapeProm GETs a Prometheus endpoint and parses it.
func scrapeProm(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("GET %s does not parse: %v", url, err)
	}
	return families
}

// promSum adds up a family's gauges, or its histograms' counts, over the
// samples whose labels include match.
func promSum(families map[string]*dto.MetricFamily, name string, match map[string]string) float64 {
	sum := 0.0
	for _, m := range families[name].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		ok := true
		for k, v := range match {
			if labels[k] != v {
				ok = false
			}
		}
		if !ok {
			continue
		}
		if h := m.GetHistogram(); h != nil {
			sum += float64(h.GetSampleCount())
		} else {
			sum += m.GetGauge().GetValue()
		}
	}
	return sum
}

// The gomesos binaries' GET /metrics parse as Prometheus's text format and
// tell what a task run through `gomesos execute` did, on the master and on
// the agent.
func TestPrometheusMetricsOfTheBinaries(t *testing.T) {
	local := startProc(t, "local", "--port=0", "--work_dir="+t.TempDir(), "--num_agents=1")
	masterURL := local.expect(t, `master (http://\S+) with 1 agent`)[1]
	exe := exec.Command(gomesosBin, "execute", "--master="+strings.TrimPrefix(masterURL, "http://"), "--name=prom", "--command=true")
	var out bytes.Buffer
	exe.Stdout, exe.Stderr = &out, &out
	if err := exe.Run(); err != nil {
		t.Fatalf("gomesos execute: %v\n%s", err, out.String())
	}

	var master map[string]*dto.MetricFamily
	waitFor(t, "the master to count the finished task", func() bool {
		master = scrapeProm(t, masterURL+"/metrics")
		return promSum(master, "mesos_master_tasks_finished", nil) == 1
	})
	for name, atLeast := range map[string]float64{
		"mesos_master_allocation_run_seconds":                  1,
		"mesos_master_frameworks_calls_subscribe":              1,
		"mesos_master_frameworks_tasks_terminal_task_finished": 1,
		"mesos_master_slaves_active":                           1,
		"go_goroutines":                                        1,
		"mesos_allocator_mesos_allocation_runs":                1,
		"mesos_master_frameworks_offers_accepted":              1,
		"mesos_master_messages_launch_tasks":                   1,
		"mesos_master_frameworks_events_update":                2,
		"mesos_master_frameworks_events_subscribed":            1,
		"mesos_master_frameworks_operations_launch":            1,
		"mesos_master_frameworks_calls_acknowledge":            1,
		"mesos_master_frameworks_calls_accept":                 1,
		"mesos_master_frameworks_offers_sent":                  1,
		"mesos_master_frameworks_events_offers":                1,
		"mesos_master_frameworks_events_heartbeat":             1,
		"mesos_master_frameworks_calls":                        3,
		"mesos_master_frameworks_events":                       4,
		"mesos_master_frameworks_operations":                   1,
		"mesos_master_frameworks_tasks_terminal_task_failed":   0,
		"mesos_master_registrar_state_store_seconds":           0,
		"mesos_system_cpus_total":                              1,
	} {
		if got := promSum(master, name, nil); got < atLeast || master[name] == nil {
			t.Errorf("master %s = %v (present %v), want at least %v", name, got, master[name] != nil, atLeast)
		}
	}
	if n := promSum(master, "mesos_http_request_duration_seconds", map[string]string{"endpoint": "/api/v1/scheduler", "code": "200"}); n < 1 {
		t.Errorf("no SUBSCRIBE counted by mesos_http_request_duration_seconds")
	}

	var slaves struct {
		Slaves []struct {
			PID string `json:"pid"`
		} `json:"slaves"`
	}
	getJSON(t, masterURL+"/master/slaves", &slaves)
	if len(slaves.Slaves) != 1 {
		t.Fatalf("slaves: %+v", slaves)
	}
	agentURL := "http://" + strings.TrimPrefix(slaves.Slaves[0].PID, "slave(1)@")
	var agent map[string]*dto.MetricFamily
	waitFor(t, "the agent to count the finished task", func() bool {
		agent = scrapeProm(t, agentURL+"/slave(1)/metrics")
		return promSum(agent, "mesos_slave_tasks_finished", nil) == 1
	})
	if promSum(agent, "mesos_slave_registered", nil) != 1 || agent["mesos_system_load_1min"] == nil || agent["process_cpu_seconds_total"] == nil {
		t.Errorf("the agent's /metrics lacks figures: registered %v", promSum(agent, "mesos_slave_registered", nil))
	}
	if n := promSum(agent, "mesos_http_request_duration_seconds", map[string]string{"endpoint": "/api/v1/executor"}); n < 1 {
		t.Errorf("the executor's calls are not counted by the agent's mesos_http_request_duration_seconds")
	}
}
