package agent

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gomesos/gomesos/agent/core"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/resources"
)

// Oversubscription (Mesos's docs/oversubscription.md): a resource
// estimator says how much more than is allocated the agent may offer, as
// revocable resources, and a QoS controller evicts the executors holding
// revocable resources when the machine needs them back. Both run here, in
// the driver, on goroutines of their own: they read the published snapshot
// and the containers' statistics, and feed their answers to the core
// (core.Oversubscribable, core.QoSCorrection), which keeps the
// bookkeeping and talks to the master.

// Defaults of the oversubscription flags (Mesos's).
const (
	DefaultOversubscribedResourcesInterval = 15 * time.Second
	// MinQoSCorrectionInterval is the least time between two QoS
	// corrections. Mesos's --qos_correction_interval_min defaults to 0
	// (its controllers' futures pace it); Gomesos measures every container
	// for each round, so it waits at least this long.
	MinQoSCorrectionInterval = time.Second
)

// ExecutorUsage is one executor as an estimator or a controller sees it
// (an entry of Mesos's ResourceUsage): what it was allocated, scalars by
// name, non-revocable and revocable apart, and what it uses now.
type ExecutorUsage struct {
	FrameworkID string
	ExecutorID  string
	ContainerID string
	Allocated   map[string]float64
	Revocable   map[string]float64
	// Statistics is nil when the container could not be measured (or the
	// estimator did not ask).
	Statistics *mesos.ResourceStatistics
}

// ResourceEstimator is --resource_estimator: Mesos's ResourceEstimator
// module. Oversubscribable returns the revocable resources the agent may
// offer beyond what its executors hold of revocable resources already.
// It is called from one goroutine at a time.
type ResourceEstimator interface {
	Name() string
	// NeedsStatistics says whether the executors' usage must be measured.
	NeedsStatistics() bool
	Oversubscribable(now time.Time, usage []ExecutorUsage) resources.Resources
}

// QoSController is --qos_controller: Mesos's QoSController module.
// Corrections returns the executors to evict. It is called from one
// goroutine at a time.
type QoSController interface {
	Name() string
	NeedsStatistics() bool
	Corrections(now time.Time, usage []ExecutorUsage) []core.QoSKill
}

// The names --resource_estimator and --qos_controller take. Mesos names
// modules; its own are taken as aliases of ours.
const (
	EstimatorFixed         = "fixed"
	EstimatorFixedMesos    = "org_apache_mesos_FixedResourceEstimator"
	EstimatorIdle          = "idle"
	QoSControllerLoad      = "load"
	QoSControllerLoadMesos = "org_apache_mesos_LoadQoSController"
	QoSControllerUsage     = "usage"
)

// ---- fixed ----

type fixedEstimator struct{ total resources.Resources }

// NewFixedEstimator is Mesos's FixedResourceEstimator: it offers the
// scalar resources text names ("cpus:2;mem:512", its `resources`
// parameter, Gomesos's --oversubscribed_resources) as revocable, less what
// revocable executors hold.
func NewFixedEstimator(text string) (ResourceEstimator, error) {
	rs, err := resources.Parse(text)
	if err != nil {
		return nil, fmt.Errorf("--oversubscribed_resources: %w", err)
	}
	if rs.IsEmpty() {
		return nil, errors.New("--oversubscribed_resources: the fixed estimator needs resources to offer, as 'cpus:2;mem:512'")
	}
	for i := range rs {
		if rs[i].Type != resources.TypeScalar {
			return nil, fmt.Errorf("--oversubscribed_resources: %s: only scalar resources can be oversubscribed", rs[i].Name)
		}
		if rs[i].IsReserved() {
			return nil, fmt.Errorf("--oversubscribed_resources: %s: oversubscribed resources cannot be reserved", rs[i].Name)
		}
		rs[i].Revocable = true
	}
	return &fixedEstimator{total: resources.New(rs...)}, nil
}

func (*fixedEstimator) Name() string          { return EstimatorFixed }
func (*fixedEstimator) NeedsStatistics() bool { return false }

func (e *fixedEstimator) Oversubscribable(_ time.Time, usage []ExecutorUsage) resources.Resources {
	held := map[string]float64{}
	for _, u := range usage {
		for name, v := range u.Revocable {
			held[name] += v
		}
	}
	var out resources.Resources
	for _, r := range e.total {
		if v := r.Scalar - resources.ScalarFromFloat(held[r.Name]); v > 0 {
			r.Scalar = v
			out = append(out, r)
		}
	}
	return out
}

// ---- measured cpu ----

// cpuMeter turns the executors' cumulative cpu times into rates: cpus in
// use, over the time between two measurements of the same container.
type cpuMeter struct {
	last map[string]cpuSample // by container ID
}

type cpuSample struct{ at, secs float64 }

// rates returns the cpus each measured container used since its last
// measurement; a container measured for the first time has none yet.
func (m *cpuMeter) rates(usage []ExecutorUsage) map[string]float64 {
	if m.last == nil {
		m.last = map[string]cpuSample{}
	}
	out := map[string]float64{}
	seen := map[string]bool{}
	for _, u := range usage {
		st := u.Statistics
		if st == nil {
			continue
		}
		s := cpuSample{at: st.GetTimestamp(), secs: st.GetCpusUserTimeSecs() + st.GetCpusSystemTimeSecs()}
		seen[u.ContainerID] = true
		if p, ok := m.last[u.ContainerID]; ok && s.at > p.at && s.secs >= p.secs {
			out[u.ContainerID] = (s.secs - p.secs) / (s.at - p.at)
		}
		m.last[u.ContainerID] = s
	}
	for id := range m.last {
		if !seen[id] {
			delete(m.last, id)
		}
	}
	return out
}

// ---- idle ----

// IdleSmoothing is the weight of the newest measurement in the idle
// estimator's moving average.
const IdleSmoothing = 0.5

type idleEstimator struct {
	meter    cpuMeter
	smoothed float64
	started  bool
}

// NewIdleEstimator is Gomesos's own estimator: it offers as revocable cpus
// what the non-revocable executors were allocated and leave idle (their
// allocated cpus less the cpus they were measured to use), as an
// exponential moving average (IdleSmoothing), less what revocable
// executors hold, in steps of 0.01 cpu.
func NewIdleEstimator() ResourceEstimator { return &idleEstimator{} }

func (*idleEstimator) Name() string          { return EstimatorIdle }
func (*idleEstimator) NeedsStatistics() bool { return true }

func (e *idleEstimator) Oversubscribable(_ time.Time, usage []ExecutorUsage) resources.Resources {
	rates := e.meter.rates(usage)
	var idle, held float64
	measured := false
	for _, u := range usage {
		held += u.Revocable["cpus"]
		if len(u.Revocable) > 0 {
			continue
		}
		rate, ok := rates[u.ContainerID]
		if !ok {
			continue
		}
		measured = true
		idle += max(u.Allocated["cpus"]-rate, 0)
	}
	if measured || e.started {
		if !e.started {
			e.smoothed, e.started = idle, true
		} else {
			e.smoothed = IdleSmoothing*idle + (1-IdleSmoothing)*e.smoothed
		}
	}
	v := math.Floor((e.smoothed-held)*100) / 100
	if v <= 0 {
		return nil
	}
	r := resources.Resource{Name: "cpus", Type: resources.TypeScalar, Scalar: resources.ScalarFromFloat(v), Revocable: true}
	return resources.New(r)
}

// ---- load ----

// LoadSource reads the machine's load averages (1, 5 and 15 minutes).
type LoadSource interface {
	LoadAverage() (one, five, fifteen float64, err error)
}

// LoadSourceFunc adapts a function to LoadSource.
type LoadSourceFunc func() (one, five, fifteen float64, err error)

// LoadAverage implements LoadSource.
func (f LoadSourceFunc) LoadAverage() (float64, float64, float64, error) { return f() }

// ProcLoadAvg reads /proc/loadavg (Linux); elsewhere it fails, and the
// load controller then evicts nothing.
var ProcLoadAvg LoadSource = LoadSourceFunc(func() (float64, float64, float64, error) {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0, 0, 0, err
	}
	return parseLoadAvg(string(b))
})

func parseLoadAvg(s string) (one, five, fifteen float64, err error) {
	f := strings.Fields(s)
	if len(f) < 3 {
		return 0, 0, 0, fmt.Errorf("unexpected /proc/loadavg %q", s)
	}
	var v [3]float64
	for i := range v {
		if v[i], err = strconv.ParseFloat(f[i], 64); err != nil {
			return 0, 0, 0, fmt.Errorf("unexpected /proc/loadavg %q: %w", s, err)
		}
	}
	return v[0], v[1], v[2], nil
}

type loadController struct {
	five, fifteen float64 // NaN: not set
	src           LoadSource
	log           func(msg string, args ...any)
}

// NewLoadController is Mesos's LoadQoSController: when the machine's 5 or
// 15 minute load average exceeds its threshold (load_threshold_5min,
// load_threshold_15min; NaN leaves one unset, one at least must be set),
// every executor holding revocable resources is evicted. src reads the
// load (ProcLoadAvg when nil).
func NewLoadController(five, fifteen float64, src LoadSource) (QoSController, error) {
	if math.IsNaN(five) && math.IsNaN(fifteen) {
		return nil, errors.New("the load QoS controller needs --qos_load_threshold_5min or --qos_load_threshold_15min")
	}
	if src == nil {
		src = ProcLoadAvg
	}
	return &loadController{five: five, fifteen: fifteen, src: src}, nil
}

func (*loadController) Name() string          { return QoSControllerLoad }
func (*loadController) NeedsStatistics() bool { return false }

func (c *loadController) Corrections(_ time.Time, usage []ExecutorUsage) []core.QoSKill {
	_, five, fifteen, err := c.src.LoadAverage()
	if err != nil {
		if c.log != nil {
			c.log("failed to read the system load", "err", err)
		}
		return nil
	}
	over := (!math.IsNaN(c.five) && five > c.five) || (!math.IsNaN(c.fifteen) && fifteen > c.fifteen)
	if !over {
		return nil
	}
	if c.log != nil {
		c.log("system load exceeds the QoS threshold; evicting revocable executors", "load5", five, "load15", fifteen)
	}
	return revocableKills(usage)
}

// revocableKills names every executor holding revocable resources.
func revocableKills(usage []ExecutorUsage) []core.QoSKill {
	var out []core.QoSKill
	for _, u := range usage {
		if len(u.Revocable) > 0 {
			out = append(out, core.QoSKill{FrameworkID: u.FrameworkID, ExecutorID: u.ExecutorID, ContainerID: u.ContainerID})
		}
	}
	return out
}

// ---- usage ----

// DefaultUsageThreshold is the usage controller's default threshold.
const DefaultUsageThreshold = 0.9

type usageController struct {
	threshold float64
	meter     cpuMeter
}

// NewUsageController is Gomesos's own QoS controller: when the
// non-revocable executors together use more than threshold of the cpus
// they were allocated (measured between two rounds), the idle capacity the
// revocable executors run on is wanted back, and every executor holding
// revocable resources is evicted.
func NewUsageController(threshold float64) (QoSController, error) {
	if !(threshold > 0) {
		return nil, fmt.Errorf("--qos_usage_threshold must be positive, not %v", threshold)
	}
	return &usageController{threshold: threshold}, nil
}

func (*usageController) Name() string          { return QoSControllerUsage }
func (*usageController) NeedsStatistics() bool { return true }

func (c *usageController) Corrections(_ time.Time, usage []ExecutorUsage) []core.QoSKill {
	rates := c.meter.rates(usage)
	var used, allocated float64
	for _, u := range usage {
		if len(u.Revocable) > 0 {
			continue
		}
		if rate, ok := rates[u.ContainerID]; ok {
			used += rate
			allocated += u.Allocated["cpus"]
		}
	}
	if allocated <= 0 || used <= c.threshold*allocated {
		return nil
	}
	return revocableKills(usage)
}

// ---- the loops ----

// executorUsage lists the executors of the latest snapshot with their
// allocations, measured when stats is set.
func (a *Agent) executorUsage(ctx context.Context, stats bool) ([]ExecutorUsage, bool) {
	s, ok := a.pub.latest(ctx, a.stopped)
	if !ok {
		return nil, false
	}
	var out []ExecutorUsage
	for _, fw := range s.State.Frameworks {
		for _, ex := range fw.Executors {
			if ex.Container == "" {
				continue
			}
			u := ExecutorUsage{FrameworkID: fw.ID, ExecutorID: ex.ID, ContainerID: ex.Container,
				Allocated: map[string]float64{}, Revocable: map[string]float64{}}
			for _, f := range ex.Resources {
				if f.IsText || f.Number == 0 {
					continue
				}
				if name, ok := strings.CutSuffix(f.Key, "_revocable"); ok {
					u.Revocable[name] += f.Number
				} else {
					u.Allocated[f.Key] += f.Number
				}
			}
			out = append(out, u)
		}
	}
	if stats && len(out) > 0 {
		measured, err := a.usageIn(ctx, s)
		if err != nil {
			return nil, false
		}
		for _, m := range measured {
			for i := range out {
				if out[i].ContainerID == m.ContainerID {
					out[i].Statistics = m.Statistics
				}
			}
		}
	}
	slices.SortFunc(out, func(x, y ExecutorUsage) int { return strings.Compare(x.ContainerID, y.ContainerID) })
	return out, true
}

// runEstimator asks the resource estimator every interval and hands its
// estimate to the core, until the agent stops.
func (a *Agent) runEstimator(ctx context.Context, e ResourceEstimator, interval time.Duration) {
	for {
		usage, ok := a.executorUsage(ctx, e.NeedsStatistics())
		if !ok {
			return
		}
		est := e.Oversubscribable(time.Now(), usage)
		if !a.deliver(core.Oversubscribable{Resources: resources.ToProto(est)}) {
			return
		}
		if !a.sleep(ctx, interval) {
			return
		}
	}
}

// runQoS asks the QoS controller for corrections every interval.
func (a *Agent) runQoS(ctx context.Context, c QoSController, interval time.Duration) {
	for {
		if !a.sleep(ctx, interval) {
			return
		}
		usage, ok := a.executorUsage(ctx, c.NeedsStatistics())
		if !ok {
			return
		}
		if kills := c.Corrections(time.Now(), usage); len(kills) > 0 {
			if !a.deliver(core.QoSCorrection{Kills: kills}) {
				return
			}
		}
	}
}

// sleep waits d, or reports false when the agent stops first.
func (a *Agent) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-a.stopped:
		return false
	}
}

// startOversubscription starts the estimator's and the controller's loops.
func (a *Agent) startOversubscription(ctx context.Context) {
	if e := a.cfg.ResourceEstimator; e != nil {
		go a.runEstimator(ctx, e, a.cfg.OversubscribedResourcesInterval)
	}
	if c := a.cfg.QoSController; c != nil {
		if lc, ok := c.(*loadController); ok && lc.log == nil {
			lc.log = a.log.Warn
		}
		go a.runQoS(ctx, c, max(a.cfg.QoSCorrectionIntervalMin, MinQoSCorrectionInterval))
	}
}

// resolveOversubscription builds the estimator and the controller the
// configuration names (unless it gives them).
func (c *Config) resolveOversubscription() error {
	if c.ResourceEstimator == nil {
		switch c.ResourceEstimatorName {
		case "":
			if c.OversubscribedResources != "" {
				return errors.New("--oversubscribed_resources needs --resource_estimator=fixed")
			}
		case EstimatorFixed, EstimatorFixedMesos:
			e, err := NewFixedEstimator(c.OversubscribedResources)
			if err != nil {
				return err
			}
			c.ResourceEstimator = e
		case EstimatorIdle:
			c.ResourceEstimator = NewIdleEstimator()
		default:
			return fmt.Errorf("--resource_estimator must be %q, %q or %q, not %q", EstimatorFixed, EstimatorFixedMesos, EstimatorIdle, c.ResourceEstimatorName)
		}
	}
	if c.QoSController == nil {
		switch c.QoSControllerName {
		case "":
		case QoSControllerLoad, QoSControllerLoadMesos:
			five, err := threshold("--qos_load_threshold_5min", c.QoSLoadThreshold5Min)
			if err != nil {
				return err
			}
			fifteen, err := threshold("--qos_load_threshold_15min", c.QoSLoadThreshold15Min)
			if err != nil {
				return err
			}
			qc, err := NewLoadController(five, fifteen, c.QoSLoadSource)
			if err != nil {
				return err
			}
			c.QoSController = qc
		case QoSControllerUsage:
			if c.QoSUsageThreshold == 0 {
				c.QoSUsageThreshold = DefaultUsageThreshold
			}
			qc, err := NewUsageController(c.QoSUsageThreshold)
			if err != nil {
				return err
			}
			c.QoSController = qc
		default:
			return fmt.Errorf("--qos_controller must be %q, %q or %q, not %q", QoSControllerLoad, QoSControllerLoadMesos, QoSControllerUsage, c.QoSControllerName)
		}
	}
	return nil
}

// threshold parses a load threshold flag; "" is NaN (unset).
func threshold(flag, v string) (float64, error) {
	if v == "" {
		return math.NaN(), nil
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || math.IsNaN(f) || f < 0 {
		return 0, fmt.Errorf("%s must be a non-negative number, not %q", flag, v)
	}
	return f, nil
}
