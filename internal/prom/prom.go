// Package prom is what the master's and the agent's Prometheus endpoints
// (GET /metrics) share: the naming rule that turns a Mesos metric name into
// a Prometheus one, a collector that exposes a flat /metrics/snapshot map
// as gauges at scrape time, and the HTTP request latency histogram.
//
// Naming rule: a Mesos metric name becomes "mesos_" followed by the name
// with every character outside [a-zA-Z0-9_] replaced by "_", so
// master/tasks_running is mesos_master_tasks_running and
// allocator/mesos/allocation_run_ms/p99 is
// mesos_allocator_mesos_allocation_run_ms_p99. Every figure is a gauge
// (Mesos's counters too: a snapshot does not say which is which), and its
// help text names the Mesos metric. Should two Mesos names map to the same
// Prometheus name, the first in byte order wins and the other is left out.
//
// Each master and agent has its own prometheus.Registry (NewRegistry),
// never the global default one: tests run several in one process.
package prom

import (
	"bufio"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gomesos/gomesos/codec"
)

// Name is the Prometheus name of the Mesos metric name.
func Name(mesosName string) string {
	b := make([]byte, 0, len("mesos_")+len(mesosName))
	b = append(b, "mesos_"...)
	for i := 0; i < len(mesosName); i++ {
		c := mesosName[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_':
			b = append(b, c)
		default:
			b = append(b, '_')
		}
	}
	return string(b)
}

// NewRegistry is a registry holding the Go runtime and process collectors.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Handler serves the registry in the text exposition format (or what the
// scraper negotiates).
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg, ErrorHandling: promhttp.ContinueOnError})
}

// Flat is a collector of the figures of a /metrics/snapshot map, read at
// scrape time from Source, which also returns what adds labelled metrics
// computed from the same state (nil: none). Names for which Skip says true
// (those exposed with labels instead) are left out.
type Flat struct {
	Source func() (figures map[string]float64, extra func(ch chan<- prometheus.Metric))
	Skip   func(mesosName string) bool

	mu    sync.Mutex
	descs map[string]*prometheus.Desc // by Mesos name
}

// Describe sends nothing: the set of figures grows as the master or agent
// counts new things, so Flat is an unchecked collector.
func (f *Flat) Describe(chan<- *prometheus.Desc) {}

// Collect sends every figure as a gauge.
func (f *Flat) Collect(ch chan<- prometheus.Metric) {
	figures, extra := f.Source()
	seen := make(map[string]bool, len(figures))
	for _, name := range slices.Sorted(maps.Keys(figures)) {
		if f.Skip != nil && f.Skip(name) {
			continue
		}
		pn := Name(name)
		if seen[pn] {
			continue
		}
		seen[pn] = true
		ch <- prometheus.MustNewConstMetric(f.desc(name, pn), prometheus.GaugeValue, figures[name])
	}
	if extra != nil {
		extra(ch)
	}
}

func (f *Flat) desc(name, pn string) *prometheus.Desc {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.descs[name]
	if !ok {
		if f.descs == nil {
			f.descs = map[string]*prometheus.Desc{}
		}
		d = prometheus.NewDesc(pn, "Mesos metric "+name+" (/metrics/snapshot).", nil, nil)
		f.descs[name] = d
	}
	return d
}

// LatencyBuckets are the buckets, in seconds, of the latency histograms:
// from 100µs to 10s.
var LatencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

// HTTP is the histogram mesos_http_request_duration_seconds, by endpoint
// and status code.
type HTTP struct{ hist *prometheus.HistogramVec }

// NewHTTP makes the histogram and registers it.
func NewHTTP(reg prometheus.Registerer) *HTTP {
	h := &HTTP{hist: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "mesos_http_request_duration_seconds",
		Help: "Time to answer an HTTP request, by endpoint (the route, not the URL) and status code: " +
			"until the handler returns, or for a streaming response until its headers are flushed.",
		Buckets: LatencyBuckets,
	}, []string{"endpoint", "code"})}
	reg.MustRegister(h.hist)
	return h
}

// Unmatched is the endpoint label of requests no route took.
const Unmatched = "other"

// Wrap times every request next serves. endpoint names the route of a
// request once next has served it (or started streaming its answer);
// it must return a bounded set of values, Unmatched for anything else.
//
// A request is timed until the handler returns, or until it first
// flushes its response or hijacks the connection, whichever comes first:
// a streaming response (an event stream's SUBSCRIBE) counts the time to
// its headers, not its whole life.
func (h *HTTP) Wrap(next http.Handler, endpoint func(*http.Request) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &timedWriter{ResponseWriter: w, h: h, r: r, start: time.Now(), endpoint: endpoint}
		defer rw.observe(0)
		next.ServeHTTP(rw, r)
	})
}

// timedWriter records the request's latency once: at the first flush or
// hijack, or when the handler returns.
type timedWriter struct {
	http.ResponseWriter
	h        *HTTP
	r        *http.Request
	start    time.Time
	endpoint func(*http.Request) string
	code     int
	done     atomic.Bool
}

func (w *timedWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *timedWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// observe records the latency unless it is recorded already; code, when
// not zero, overrides the status written.
func (w *timedWriter) observe(code int) {
	if !w.done.CompareAndSwap(false, true) {
		return
	}
	if code == 0 {
		code = w.code
	}
	if code == 0 {
		code = http.StatusOK
	}
	w.h.hist.WithLabelValues(w.endpoint(w.r), strconv.Itoa(code)).Observe(time.Since(w.start).Seconds())
}

// Flush is http.Flusher's, for handlers that assert it.
func (w *timedWriter) Flush() { _ = w.FlushError() }

// FlushError is what http.ResponseController.Flush calls.
func (w *timedWriter) FlushError() error {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.observe(0)
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Hijack hands the connection over (the registry's Raft traffic); the
// request counts as answered with 101 Switching Protocols.
func (w *timedWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.observe(http.StatusSwitchingProtocols)
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController reach the server's writer (write
// deadlines).
func (w *timedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Timeout reads the 'timeout' query parameter of /metrics/snapshot, a
// Mesos duration ("5secs"): how long the figures may take. ok is false,
// with the 400 message Mesos answers, when it does not parse; d is 0
// when there is none.
func Timeout(r *http.Request) (d time.Duration, msg string, ok bool) {
	q := r.URL.Query()
	if !q.Has("timeout") {
		return 0, "", true
	}
	s := q.Get("timeout")
	d, err := codec.ParseDuration(s)
	if err != nil {
		return 0, "Invalid timeout '" + s + "': " + err.Error() + ".\n", false
	}
	return d, "", true
}
