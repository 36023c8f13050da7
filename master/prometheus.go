package master

import (
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gomesos/gomesos/internal/prom"
	"github.com/gomesos/gomesos/master/core"
)

// The master's Prometheus endpoint, GET /metrics. Every figure of
// /metrics/snapshot is there as a gauge named by prom.Name (master/tasks_running
// is mesos_master_tasks_running), read from the latest published snapshot at
// scrape time, so nothing is counted twice. Besides them:
//
//   - mesos_master_allocation_run_seconds: a histogram of allocation passes,
//     timed at the driver's edge (timedAllocator), and
//     mesos_master_registrar_state_store_seconds of registry commits;
//   - mesos_master_framework_tasks{framework_id,role,state} and
//     mesos_master_framework_offers_outstanding{framework_id,role};
//   - Mesos's per-framework master/frameworks/<name>/<id>/<metric> as
//     mesos_master_frameworks_<metric>{framework_id,framework_name}
//     (mesos_master_frameworks_calls_accept and so on), roles/<role>/suppressed
//     as mesos_master_frameworks_roles_suppressed{framework_id,framework_name,role};
//   - mesos_master_stream_queue_records and _bytes{kind,id}: what waits in
//     each framework event stream's, agent connection's and operator event
//     stream's queue (kind "framework", "agent" or "operator", id the
//     framework's, the agent's or the operator stream's); the loop's own
//     queue is mesos_master_event_queue_http_requests;
//   - mesos_http_request_duration_seconds{endpoint,code} (prom.HTTP), by
//     route pattern;
//   - the Go runtime and process collectors.
//
// Each master has its own registry: tests run several in one process.

// promMetrics is a master's Prometheus registry and the figures only it
// keeps.
type promMetrics struct {
	reg     *prometheus.Registry
	http    *prom.HTTP
	handler http.Handler
}

var (
	frameworkTasksDesc = prometheus.NewDesc("mesos_master_framework_tasks",
		"Tasks of each active framework by role and state: those the master tracks (terminal ones not yet acknowledged too) and the unreachable ones.",
		[]string{"framework_id", "role", "state"}, nil)
	frameworkOffersDesc = prometheus.NewDesc("mesos_master_framework_offers_outstanding",
		"Offers each active framework holds, by role.", []string{"framework_id", "role"}, nil)
	streamRecordsDesc = prometheus.NewDesc("mesos_master_stream_queue_records",
		"Records waiting to be written to a framework's or the operator API's event stream or an agent's connection (taken by the writer and not yet written too).",
		[]string{"kind", "id"}, nil)
	streamBytesDesc = prometheus.NewDesc("mesos_master_stream_queue_bytes",
		"Bytes waiting to be written to a framework's or the operator API's event stream or an agent's connection.", []string{"kind", "id"}, nil)
)

// initProm makes the master's registry. It runs before anything is timed.
func (m *Master) initProm() {
	reg := prom.NewRegistry()
	p := &promMetrics{reg: reg, http: prom.NewHTTP(reg), handler: prom.Handler(reg)}
	allocRun := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "mesos_master_allocation_run_seconds",
		Help:    "Time the allocator takes for one allocation pass.",
		Buckets: prom.LatencyBuckets,
	})
	storeRun := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "mesos_master_registrar_state_store_seconds",
		Help:    "Time a registry commit takes.",
		Buckets: prom.LatencyBuckets,
	})
	reg.MustRegister(allocRun, storeRun, &prom.Flat{Source: m.promSource, Skip: isLabelled})
	m.allocRuns.observe = allocRun.Observe
	m.storeRuns.observe = storeRun.Observe
	m.prom = p
}

// instrument times the requests mux serves by route pattern.
func (m *Master) instrument(mux *http.ServeMux) http.Handler {
	return m.prom.http.Wrap(mux, func(r *http.Request) string {
		// ServeMux sets the pattern that matched on the request.
		if r.Pattern == "" {
			return prom.Unmatched
		}
		return r.Pattern
	})
}

// handlePrometheus is GET /metrics.
func (m *Master) handlePrometheus(w http.ResponseWriter, r *http.Request) {
	m.prom.handler.ServeHTTP(w, r)
}

// figures is /metrics/snapshot: the core's figures from the snapshot and
// those the driver keeps.
func (m *Master) figures(latest *core.Snapshot) map[string]float64 {
	m.encoders.acquire()
	out := latest.Metrics()
	m.encoders.release()
	m.allocRuns.put(out, "allocator/mesos/allocation_run_ms")
	m.registrarMetrics(out)
	// Every input of the loop is an HTTP request (of schedulers, agents
	// and readers).
	out["master/event_queue_http_requests"] = float64(m.queued.Load())
	out["master/operator_event_stream_subscribers"] = float64(m.operatorSubscribers.Load())
	// Ours: a follower's reserve of heap for a takeover (standby.go).
	out["master/standby_reserve_bytes"] = float64(m.standby.ready.Load())
	for k, v := range prom.System() {
		out[k] = v
	}
	return out
}

// promSource is what a scrape reads: the figures and the labelled
// metrics, from one snapshot.
func (m *Master) promSource() (map[string]float64, func(chan<- prometheus.Metric)) {
	latest := m.latest()
	figures := m.figures(latest)
	tasks, offers := latest.FrameworkCounts()
	type queue struct{ kind, id string }
	depths := map[queue]queueStats{}
	m.tryDo(freshWait, func() {
		for kind, sinks := range map[string]map[string]*sink{"framework": m.frameworkSinks, "agent": m.agentSinks, "operator": m.operatorSinks} {
			for _, s := range sinks {
				st := s.stats()
				d := depths[queue{kind, s.id}]
				d.Records += st.Records
				d.Bytes += st.Bytes
				depths[queue{kind, s.id}] = d
			}
		}
	})
	return figures, func(ch chan<- prometheus.Metric) {
		for name, v := range figures {
			if desc, labels, ok := perFramework(name); ok {
				ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
			}
			if desc, labels, ok := perQuota(name); ok {
				ch <- prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
			}
		}
		for _, t := range tasks {
			ch <- prometheus.MustNewConstMetric(frameworkTasksDesc, prometheus.GaugeValue, float64(t.Tasks),
				t.FrameworkID, t.Role, t.State.String())
		}
		for _, o := range offers {
			ch <- prometheus.MustNewConstMetric(frameworkOffersDesc, prometheus.GaugeValue, float64(o.Offers), o.FrameworkID, o.Role)
		}
		for q, d := range depths {
			ch <- prometheus.MustNewConstMetric(streamRecordsDesc, prometheus.GaugeValue, float64(d.Records), q.kind, q.id)
			ch <- prometheus.MustNewConstMetric(streamBytesDesc, prometheus.GaugeValue, float64(d.Bytes), q.kind, q.id)
		}
	}
}

// tryDo runs fn on the loop unless the loop does not take it within wait
// (or has stopped); it reports whether fn ran. A scrape does not wait on
// a busy loop for what it can do without.
func (m *Master) tryDo(wait time.Duration, fn func()) bool {
	r := request{fn: fn, done: make(chan struct{})}
	t := time.NewTimer(wait)
	defer t.Stop()
	m.queued.Add(1)
	select {
	case m.reqs <- r:
		m.queued.Add(-1)
	case <-t.C:
		m.queued.Add(-1)
		return false
	case <-m.stopped:
		m.queued.Add(-1)
		return false
	}
	<-r.done
	return true
}

// isPerFramework reports a per-framework Mesos name, shown with labels
// instead.
func isPerFramework(name string) bool { return strings.HasPrefix(name, perFrameworkPrefix) }

// isLabelled reports a Mesos name shown with labels instead: per
// framework, or per role's quota.
func isLabelled(name string) bool {
	return isPerFramework(name) || strings.HasPrefix(name, perQuotaPrefix)
}

const perQuotaPrefix = "allocator/mesos/quota/roles/"

// perQuotaDescs are the families of the per-role quota metrics, by kind.
var perQuotaDescs = map[string]*prometheus.Desc{}

func init() {
	for _, kind := range []string{"guarantee", "limit", "offered_or_allocated", "consumed"} {
		perQuotaDescs[kind] = prometheus.NewDesc(prom.Name("allocator/mesos/quota/"+kind),
			"Mesos metric allocator/mesos/quota/roles/<role>/resources/<resource>/"+kind+" (/metrics/snapshot), by role and resource.",
			[]string{"role", "resource"}, nil)
	}
}

// perQuota splits allocator/mesos/quota/roles/<role>/resources/<name>/<kind>
// (a role may hold slashes) into the family mesos_allocator_mesos_quota_<kind>
// and its labels role and resource.
func perQuota(name string) (desc *prometheus.Desc, labels []string, ok bool) {
	rest, ok := strings.CutPrefix(name, perQuotaPrefix)
	if !ok {
		return nil, nil, false
	}
	i := strings.LastIndexByte(rest, '/')
	if i < 0 {
		return nil, nil, false
	}
	desc = perQuotaDescs[rest[i+1:]]
	rest = rest[:i]
	j := strings.LastIndex(rest, "/resources/")
	if desc == nil || j <= 0 {
		return nil, nil, false
	}
	return desc, []string{rest[:j], rest[j+len("/resources/"):]}, true
}

const perFrameworkPrefix = "master/frameworks/"

// perFrameworkDescs are the descriptions of the per-framework families, by
// the name below the framework's prefix.
var perFrameworkDescs sync.Map

// perFramework splits master/frameworks/<name>/<id>/<metric> into the
// family mesos_master_frameworks_<metric> (prom.Name's rule) and its labels
// framework_id and framework_name (decoded); roles/<role>/suppressed is
// mesos_master_frameworks_roles_suppressed with the label role too.
func perFramework(name string) (desc *prometheus.Desc, labels []string, ok bool) {
	rest, ok := strings.CutPrefix(name, perFrameworkPrefix)
	if !ok {
		return nil, nil, false
	}
	parts := strings.SplitN(rest, "/", 3)
	if len(parts) != 3 {
		return nil, nil, false
	}
	framework, err := url.PathUnescape(parts[0])
	if err != nil {
		framework = parts[0]
	}
	metric, labelNames, labels := parts[2], []string{"framework_id", "framework_name"}, []string{parts[1], framework}
	if role, ok := strings.CutPrefix(metric, "roles/"); ok {
		if role, ok := strings.CutSuffix(role, "/suppressed"); ok {
			metric, labelNames, labels = "roles/suppressed", append(labelNames, "role"), append(labels, role)
		}
	}
	d, ok := perFrameworkDescs.Load(metric)
	if !ok {
		help := "Mesos metric master/frameworks/<name>/<id>/" + metric + " (/metrics/snapshot), by framework."
		if metric == "roles/suppressed" {
			help = "Mesos metric master/frameworks/<name>/<id>/roles/<role>/suppressed (/metrics/snapshot), by framework and role."
		}
		d, _ = perFrameworkDescs.LoadOrStore(metric, prometheus.NewDesc(prom.Name("master/frameworks/"+metric), help, labelNames, nil))
	}
	return d.(*prometheus.Desc), labels, true
}
