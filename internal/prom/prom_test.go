package prom

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

func TestName(t *testing.T) {
	for in, want := range map[string]string{
		"master/tasks_running":                  "mesos_master_tasks_running",
		"allocator/mesos/allocation_run_ms/p99": "mesos_allocator_mesos_allocation_run_ms_p99",
		"allocator/mesos/roles/*/shares/x-y.z":  "mesos_allocator_mesos_roles___shares_x_y_z",
		"system/load_1min":                      "mesos_system_load_1min",
	} {
		if got := Name(in); got != want {
			t.Errorf("Name(%q) = %q, want %q", in, got, want)
		}
		if !model.LegacyValidation.IsValidMetricName(Name(in)) {
			t.Errorf("Name(%q) = %q is not a valid metric name", in, Name(in))
		}
	}
}

// Two Mesos names that map to one Prometheus name give one family, the
// first name's; Skip leaves names out; the exposition parses.
func TestFlatCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(&Flat{
		Source: func() (map[string]float64, func(chan<- prometheus.Metric)) {
			return map[string]float64{"a/b_c": 1, "a_b/c": 2, "skip/me": 3, "d": 4}, nil
		},
		Skip: func(name string) bool { return strings.HasPrefix(name, "skip/") },
	})
	srv := httptest.NewServer(Handler(reg))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	p := expfmt.NewTextParser(model.LegacyValidation)
	families, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	if f := families["mesos_a_b_c"]; f == nil || f.GetMetric()[0].GetGauge().GetValue() != 1 || !strings.Contains(f.GetHelp(), "a/b_c") {
		t.Errorf("mesos_a_b_c = %v", f)
	}
	mesos := 0
	for name := range families {
		if strings.HasPrefix(name, "mesos_") {
			mesos++
		}
	}
	if families["mesos_skip_me"] != nil || families["mesos_d"] == nil || mesos != 2 {
		t.Errorf("families: %v", families)
	}
}

// Wrap labels a request by the route endpoint names and its status, and
// a streaming answer is timed when it first flushes.
func TestHTTPWrap(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := NewHTTP(reg)
	release := make(chan struct{})
	flushed := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusOK)
		if err := http.NewResponseController(w).Flush(); err != nil {
			t.Errorf("flush through the wrapper: %v", err)
		}
		close(flushed)
		<-release
	})
	mux.HandleFunc("/bad", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", http.StatusBadRequest) })
	srv := httptest.NewServer(h.Wrap(mux, func(r *http.Request) string {
		if r.Pattern == "" {
			return Unmatched
		}
		return r.Pattern
	}))
	defer srv.Close()
	for _, path := range []string{"/bad", "/bad", "/nowhere"} {
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(srv.URL + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	<-flushed
	count := func(endpoint, code string) uint64 {
		families, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range families {
			for _, m := range f.GetMetric() {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				if labels["endpoint"] == endpoint && labels["code"] == code {
					return m.GetHistogram().GetSampleCount()
				}
			}
		}
		return 0
	}
	if n := count("/stream", "200"); n != 1 {
		t.Errorf("the open stream counted %d times, want 1", n)
	}
	close(release)
	resp.Body.Close()
	if count("/bad", "400") != 2 || count(Unmatched, "404") != 1 {
		t.Errorf("/bad 400: %d, unmatched 404: %d", count("/bad", "400"), count(Unmatched, "404"))
	}
}

func TestTimeout(t *testing.T) {
	for url, want := range map[string]struct {
		ok  bool
		msg string
	}{
		"/m":               {ok: true},
		"/m?timeout=5secs": {ok: true},
		"/m?timeout=":      {ok: false, msg: "Invalid timeout '': "},
		"/m?timeout=soon":  {ok: false, msg: "Invalid timeout 'soon': "},
	} {
		_, msg, ok := Timeout(httptest.NewRequest(http.MethodGet, url, nil))
		if ok != want.ok || !strings.HasPrefix(msg, want.msg) {
			t.Errorf("%s: ok %v, message %q", url, ok, msg)
		}
	}
}
