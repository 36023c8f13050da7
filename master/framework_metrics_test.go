package master_test

import (
	"slices"
	"strings"
	"testing"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
)

// frameworkMetrics is the master/frameworks/<name>/<id>/* figures of
// /metrics/snapshot, by the name below that prefix.
func frameworkMetrics(all map[string]float64, prefix string) map[string]float64 {
	out := map[string]float64{}
	for k, v := range all {
		if rest, ok := strings.CutPrefix(k, prefix); ok {
			out[rest] = v
		}
	}
	return out
}

// A framework's master/frameworks/<name>/<id>/* metrics have the names of
// Mesos's (the sample's) and count its calls, events, offers, operations
// and tasks, and say which of its roles are suppressed; the name is
// percent-encoded; the figures stay once the framework is torn down, with
// subscribed 0.
func TestPerFrameworkMetrics(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1", "cpus:4;mem:1024")
	s := subscribe(t, m, frameworkInfo("a b/c"), codec.JSON)
	prefix := "master/frameworks/a%20b%2Fc/" + s.FrameworkID + "/"

	var want []string
	for k := range loadSample(t, "master_metrics_snapshot_after_subscribe.json") {
		if _, rest, ok := strings.Cut(k, "master/frameworks/"); ok {
			// <name>/<id>/<metric>
			want = append(want, strings.SplitN(rest, "/", 3)[2])
		}
	}
	if len(want) == 0 {
		t.Fatal("the sample has no per-framework metrics")
	}
	slices.Sort(want)

	runTask(t, s, a, "t1", "cpus:1;mem:128")
	o := s.nextOffers()[0]
	s.decline(offerIDs(o), 0)
	st := s.nextUpdateAfter(a, "t1", mesos.TaskState_TASK_FAILED)
	s.acknowledge(st)
	m.waitMetric("master/tasks_failed", 1)
	if got := frameworkMetrics(m.metrics(), prefix)["roles/*/suppressed"]; got != 0 {
		t.Errorf("roles/*/suppressed = %v before SUPPRESS", got)
	}
	s.call(&schedpb.Call{FrameworkId: &mesos.FrameworkID{Value: &s.FrameworkID}, Type: schedpb.Call_SUPPRESS.Enum()})
	m.waitMetric(prefix+"roles/*/suppressed", 1)

	got := frameworkMetrics(m.metrics(), prefix)
	var names []string
	for k := range got {
		names = append(names, k)
	}
	slices.Sort(names)
	if !slices.Equal(names, want) {
		t.Errorf("per-framework metrics under %s:\n got %v\nwant %v", prefix, names, want)
	}
	for name, v := range map[string]float64{
		"subscribed":                 1,
		"calls/subscribe":            1,
		"calls/accept":               1,
		"calls/decline":              1,
		"calls/acknowledge":          2,
		"calls/suppress":             1,
		"calls":                      6,
		"events/subscribed":          1,
		"events/update":              2,
		"offers/accepted":            1,
		"offers/declined":            1,
		"operations/launch":          1,
		"operations":                 1,
		"tasks/terminal/task_failed": 1,
		"tasks/active/task_running":  0,
	} {
		if got[name] != v {
			t.Errorf("%s%s = %v, want %v", prefix, name, got[name], v)
		}
	}
	if got["offers/sent"] < 2 || got["events/offers"] < 2 || got["events/heartbeat"] < 1 {
		t.Errorf("offers/sent %v, events/offers %v, events/heartbeat %v", got["offers/sent"], got["events/offers"], got["events/heartbeat"])
	}
	sum := 0.0
	for k, v := range got {
		if strings.HasPrefix(k, "events/") {
			sum += v
		}
	}
	if sum != got["events"] {
		t.Errorf("events = %v, the events by type add up to %v", got["events"], sum)
	}

	s.call(&schedpb.Call{FrameworkId: &mesos.FrameworkID{Value: &s.FrameworkID}, Type: schedpb.Call_REVIVE.Enum()})
	m.waitMetric(prefix+"roles/*/suppressed", 0)

	s.call(&schedpb.Call{FrameworkId: &mesos.FrameworkID{Value: &s.FrameworkID}, Type: schedpb.Call_TEARDOWN.Enum()})
	m.waitMetric("master/frameworks_active", 0)
	got = frameworkMetrics(m.metrics(), prefix)
	if got["subscribed"] != 0 || got["calls/teardown"] != 1 || got["tasks/terminal/task_failed"] != 1 {
		t.Errorf("after the teardown: subscribed %v, calls/teardown %v, tasks/terminal/task_failed %v",
			got["subscribed"], got["calls/teardown"], got["tasks/terminal/task_failed"])
	}
}
