package agent

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/gomesos/gomesos/agent/core"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/internal/prom"
)

// The agent's Prometheus endpoint, GET /metrics: every figure of
// /metrics/snapshot as a gauge named by prom.Name (slave/tasks_running is
// mesos_slave_tasks_running); each executor container's numeric statistics
// of /monitor/statistics as mesos_agent_executor_<field>{framework_id,
// executor_id} (mesos_agent_executor_mem_rss_bytes and so on);
// mesos_http_request_duration_seconds{endpoint,code}; and the Go runtime
// and process collectors. Each agent has its own registry.

// promMetrics is an agent's Prometheus registry.
type promMetrics struct {
	http    *prom.HTTP
	handler http.Handler
}

// usageScrapeTimeout bounds the measuring of containers in a scrape: the
// figures of the containers not measured by then are left out.
const usageScrapeTimeout = 5 * time.Second

func (a *Agent) initProm() {
	reg := prom.NewRegistry()
	a.prom = &promMetrics{http: prom.NewHTTP(reg), handler: prom.Handler(reg)}
	reg.MustRegister(&prom.Flat{Source: a.promSource})
}

// agentRoutes are the endpoint labels of the agent's routes (after the
// /slave(1) prefix is taken off).
var agentRoutes = map[string]bool{}

func init() {
	for _, p := range []string{"/api/v1", "/api/v1/executor", "/state", "/state.json", "/flags", "/health", "/version",
		"/metrics", "/metrics/snapshot", "/monitor/statistics", "/monitor/statistics.json",
		"/files/browse", "/files/browse.json", "/files/read", "/files/read.json", "/files/download", "/files/download.json"} {
		agentRoutes[p] = true
	}
}

// routePath is the path the agent routes by: the request's, without the
// /slave(1) prefix.
func routePath(r *http.Request) string {
	p := r.URL.Path
	if rest, ok := strings.CutPrefix(p, "/slave(1)"); ok && strings.HasPrefix(rest, "/") {
		p = rest
	}
	return p
}

// endpointLabel is the route a request took, prom.Unmatched for none.
func endpointLabel(r *http.Request) string {
	if p := routePath(r); agentRoutes[p] {
		return p
	}
	return prom.Unmatched
}

// servePrometheus is GET /metrics.
func (a *Agent) servePrometheus(w http.ResponseWriter, r *http.Request) {
	a.prom.handler.ServeHTTP(w, r)
}

// promSource is what a scrape reads: the figures of the latest snapshot
// and each container's statistics.
func (a *Agent) promSource() (map[string]float64, func(chan<- prometheus.Metric)) {
	ctx, cancel := context.WithTimeout(context.Background(), usageScrapeTimeout)
	defer cancel()
	var figures map[string]float64
	if s, ok := a.pub.latest(ctx, a.stopped); ok {
		figures = a.figures(s)
	}
	usage, err := a.Usage(ctx)
	if err != nil {
		usage = nil
	}
	return figures, func(ch chan<- prometheus.Metric) {
		for _, u := range usage {
			u.Statistics.ProtoReflect().Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
				if fd.IsList() || fd.IsMap() || fd.Name() == "timestamp" {
					return true
				}
				var x float64
				switch fd.Kind() {
				case protoreflect.DoubleKind, protoreflect.FloatKind:
					x = v.Float()
				case protoreflect.Uint32Kind, protoreflect.Uint64Kind, protoreflect.Fixed32Kind, protoreflect.Fixed64Kind:
					x = float64(v.Uint())
				case protoreflect.Int32Kind, protoreflect.Int64Kind, protoreflect.Sint32Kind, protoreflect.Sint64Kind,
					protoreflect.Sfixed32Kind, protoreflect.Sfixed64Kind:
					x = float64(v.Int())
				default:
					return true
				}
				ch <- prometheus.MustNewConstMetric(executorStatDesc(string(fd.Name())), prometheus.GaugeValue, x, u.FrameworkID, u.ExecutorID)
				return true
			})
		}
	}
}

// executorStatDescs are the descriptions of the numeric fields of
// ResourceStatistics, made the first time they are asked for: walking the
// fields unpacks the whole of mesos.proto, which every gomesos process
// (each container's supervisor among them) would otherwise do at start-up.
var executorStatDescs = sync.OnceValue(func() map[string]*prometheus.Desc {
	out := map[string]*prometheus.Desc{}
	fields := (&mesos.ResourceStatistics{}).ProtoReflect().Descriptor().Fields()
	for i := range fields.Len() {
		name := string(fields.Get(i).Name())
		out[name] = prometheus.NewDesc("mesos_agent_executor_"+name,
			"ResourceStatistics."+name+" of each executor's container (/monitor/statistics).",
			[]string{"framework_id", "executor_id"}, nil)
	}
	return out
})

func executorStatDesc(field string) *prometheus.Desc { return executorStatDescs()[field] }

// figures is /metrics/snapshot: the snapshot's slave/* figures, the
// agent's uptime and the machine's system/* figures.
func (a *Agent) figures(s *core.Snapshot) map[string]float64 {
	m := make(map[string]float64, len(s.Metrics)+8)
	for k, v := range s.Metrics {
		m[k] = v
	}
	m["slave/uptime_secs"] = time.Since(a.startTime).Seconds()
	m["containerizer/fetcher/task_fetches_succeeded"] = float64(a.ops.fetchesSucceeded.Load())
	m["containerizer/fetcher/task_fetches_failed"] = float64(a.ops.fetchesFailed.Load())
	m["containerizer/fetcher/cache_size_total_bytes"] = float64(a.cfg.FetcherCacheSize)
	m["containerizer/fetcher/cache_size_used_bytes"] = 0
	if id := a.ID(); id != "" {
		_, used := a.ops.fetch.CacheUsage(id)
		m["containerizer/fetcher/cache_size_used_bytes"] = float64(used)
	}
	m["containerizer/mesos/container_destroy_errors"] = float64(a.ops.destroyErrors.Load())
	m["gc/path_removals_pending"] = float64(a.gc.pending())
	m["gc/path_removals_succeeded"] = float64(a.gc.succeeded.Load())
	m["gc/path_removals_failed"] = float64(a.gc.failed.Load())
	m["slave/executor_directory_max_allowed_age_secs"] = time.Duration(a.gc.maxAge.Load()).Seconds()
	for k, v := range prom.System() {
		m[k] = v
	}
	return m
}
