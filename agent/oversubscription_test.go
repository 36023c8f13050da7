package agent

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/agent/core"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/resources"
)

var tEst = time.Unix(1_700_000_000, 0)

func cpusIn(rs resources.Resources) float64 {
	for _, r := range rs {
		if !r.Revocable {
			return -1
		}
	}
	return rs.CPUs().Float64()
}

// The fixed estimator offers its resources as revocable, less what
// revocable executors hold, never below nothing.
func TestFixedEstimator(t *testing.T) {
	e, err := NewFixedEstimator("cpus:2;mem:512")
	if err != nil {
		t.Fatal(err)
	}
	got := e.Oversubscribable(tEst, nil)
	if cpusIn(got) != 2 || got.Mem().Float64() != 512 {
		t.Fatalf("with nothing held: %v, want revocable cpus:2;mem:512", got)
	}
	usage := []ExecutorUsage{
		{ContainerID: "a", Revocable: map[string]float64{"cpus": 0.5}, Allocated: map[string]float64{"mem": 64}},
		{ContainerID: "b", Revocable: map[string]float64{"cpus": 0.25, "mem": 600}},
	}
	got = e.Oversubscribable(tEst, usage)
	if cpusIn(got) != 1.25 || got.Mem() != 0 {
		t.Fatalf("with 0.75 cpus and 600 mem held: %v, want revocable cpus:1.25 and no mem", got)
	}
	for _, bad := range []string{"", "ports:[1-2]", "cpus(eng):1", "cpus:x"} {
		if _, err := NewFixedEstimator(bad); err == nil {
			t.Errorf("NewFixedEstimator(%q) took it", bad)
		}
	}
}

func stats(at, cpuSecs float64) *mesos.ResourceStatistics {
	return &mesos.ResourceStatistics{Timestamp: proto.Float64(at), CpusUserTimeSecs: proto.Float64(cpuSecs), CpusSystemTimeSecs: proto.Float64(0)}
}

// The idle estimator offers the allocated cpus the non-revocable executors
// leave idle, smoothed, less what revocable executors hold.
func TestIdleEstimator(t *testing.T) {
	e := NewIdleEstimator()
	round := func(at, busy float64, revHeld float64) float64 {
		usage := []ExecutorUsage{
			// 2 cpus allocated, busy cpu-seconds used in all so far.
			{ContainerID: "web", Allocated: map[string]float64{"cpus": 2}, Statistics: stats(at, busy)},
			// A revocable one: its usage is not idle capacity.
			{ContainerID: "batch", Revocable: map[string]float64{"cpus": revHeld}, Statistics: stats(at, at)},
		}
		return cpusIn(e.Oversubscribable(tEst, usage))
	}
	if got := round(100, 0, 0); got != 0 {
		t.Fatalf("first round (no rate yet): %v, want 0", got)
	}
	// 10 s later, 5 cpu-seconds used: 0.5 cpus busy, 1.5 idle.
	if got := round(110, 5, 0); got != 1.5 {
		t.Fatalf("0.5 of 2 cpus busy: %v, want 1.5", got)
	}
	// Fully busy now: the average halves towards 0.
	if got := round(120, 25, 0); got != 0.75 {
		t.Fatalf("fully busy after 1.5 idle: %v, want 0.75 (smoothed)", got)
	}
	// Idle again, 0.5 revocable cpus held: (0.75+2)/2 - 0.5.
	if got := round(130, 25, 0.5); got != 0.87 {
		t.Fatalf("idle again with 0.5 held: %v, want 0.87 (1.375-0.5 in steps of 0.01)", got)
	}
}

type fixedLoad struct {
	five, fifteen float64
	err           error
}

func (l *fixedLoad) LoadAverage() (float64, float64, float64, error) {
	return 0, l.five, l.fifteen, l.err
}

// The load controller evicts every executor holding revocable resources
// when either load average is above its threshold, and nothing when the
// load cannot be read.
func TestLoadController(t *testing.T) {
	usage := []ExecutorUsage{
		{FrameworkID: "f", ExecutorID: "rev", ContainerID: "c1", Revocable: map[string]float64{"cpus": 1}},
		{FrameworkID: "f", ExecutorID: "plain", ContainerID: "c2", Allocated: map[string]float64{"cpus": 1}},
	}
	load := &fixedLoad{}
	c, err := NewLoadController(4, math.NaN(), load)
	if err != nil {
		t.Fatal(err)
	}
	if k := c.Corrections(tEst, usage); len(k) != 0 {
		t.Fatalf("under the threshold: %v", k)
	}
	load.five, load.fifteen = 4.5, 100 // 15min unset: only 5min counts
	want := []core.QoSKill{{FrameworkID: "f", ExecutorID: "rev", ContainerID: "c1"}}
	if k := c.Corrections(tEst, usage); len(k) != 1 || k[0] != want[0] {
		t.Fatalf("over the 5 minute threshold: %v, want %v", k, want)
	}
	load.err = errors.New("no /proc")
	if k := c.Corrections(tEst, usage); len(k) != 0 {
		t.Fatalf("load unreadable: %v", k)
	}
	c15, _ := NewLoadController(math.NaN(), 2, &fixedLoad{five: 100, fifteen: 3})
	if k := c15.Corrections(tEst, usage); len(k) != 1 {
		t.Fatalf("over the 15 minute threshold: %v", k)
	}
	if _, err := NewLoadController(math.NaN(), math.NaN(), nil); err == nil {
		t.Fatal("a load controller without thresholds was made")
	}
}

// The usage controller evicts the revocable executors when the
// non-revocable ones use more than the threshold of their cpus.
func TestUsageController(t *testing.T) {
	c, err := NewUsageController(0.8)
	if err != nil {
		t.Fatal(err)
	}
	round := func(at, busy float64) int {
		return len(c.Corrections(tEst, []ExecutorUsage{
			{FrameworkID: "f", ExecutorID: "web", ContainerID: "w", Allocated: map[string]float64{"cpus": 1}, Statistics: stats(at, busy)},
			{FrameworkID: "f", ExecutorID: "batch", ContainerID: "b", Revocable: map[string]float64{"cpus": 1}, Statistics: stats(at, 0)},
		}))
	}
	if n := round(0, 0); n != 0 {
		t.Fatalf("first round: %d kills", n)
	}
	if n := round(10, 7); n != 0 {
		t.Fatalf("0.7 of 1 cpu used: %d kills, want none", n)
	}
	if n := round(20, 16); n != 1 {
		t.Fatalf("0.9 of 1 cpu used: %d kills, want the revocable executor", n)
	}
	if _, err := NewUsageController(0); err == nil {
		t.Fatal("threshold 0 taken")
	}
}

func TestParseLoadAvg(t *testing.T) {
	one, five, fifteen, err := parseLoadAvg("0.52 1.25 3.00 2/345 6789\n")
	if err != nil || one != 0.52 || five != 1.25 || fifteen != 3 {
		t.Fatalf("got %v %v %v %v", one, five, fifteen, err)
	}
	if _, _, _, err := parseLoadAvg("1 2"); err == nil {
		t.Fatal("short line taken")
	}
	if _, _, _, err := parseLoadAvg("a b c"); err == nil {
		t.Fatal("junk taken")
	}
}

// The flags name the estimator and controller; bad names and parameters
// are refused with a message naming the flag.
func TestResolveOversubscription(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string // error text; "" for none
	}{
		{Config{ResourceEstimatorName: "fixed", OversubscribedResources: "cpus:2"}, ""},
		{Config{ResourceEstimatorName: EstimatorFixedMesos, OversubscribedResources: "cpus:2"}, ""},
		{Config{ResourceEstimatorName: "idle"}, ""},
		{Config{ResourceEstimatorName: "magic"}, "--resource_estimator"},
		{Config{OversubscribedResources: "cpus:2"}, "--resource_estimator=fixed"},
		{Config{ResourceEstimatorName: "fixed"}, "--oversubscribed_resources"},
		{Config{QoSControllerName: "load", QoSLoadThreshold5Min: "2"}, ""},
		{Config{QoSControllerName: QoSControllerLoadMesos, QoSLoadThreshold15Min: "2"}, ""},
		{Config{QoSControllerName: "load"}, "--qos_load_threshold_5min"},
		{Config{QoSControllerName: "load", QoSLoadThreshold5Min: "-1"}, "--qos_load_threshold_5min"},
		{Config{QoSControllerName: "usage"}, ""},
		{Config{QoSControllerName: "usage", QoSUsageThreshold: -1}, "--qos_usage_threshold"},
		{Config{QoSControllerName: "other"}, "--qos_controller"},
	} {
		err := c.cfg.resolveOversubscription()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%+v: %v", c.cfg, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%+v: error %v, want one naming %s", c.cfg, err, c.want)
		}
	}
}
