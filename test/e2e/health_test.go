package e2e

import (
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// Through a real master and agent: a task whose HTTP health check passes is
// reported healthy (to the scheduler and in the master's /state), its TCP
// check's result reaches the scheduler, and a task failing its COMMAND
// health check is killed with healthy=false.
func TestHealthChecksAndChecks(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	port := uint32(srv.Listener.Addr().(*net.TCPAddr).Port)

	c := startCluster(t, clusterOptions{agents: 1})
	fw := startFramework(t, c, frameworkOptions{capabilities: []mesos.FrameworkInfo_Capability_Type{mesos.FrameworkInfo_Capability_TASK_KILLING_STATE}})
	o := fw.nextOffer()

	good := commandTask("good", o, "cpus:0.1;mem:32", "sleep 1000")
	good.HealthCheck = &mesos.HealthCheck{
		Type:            mesos.HealthCheck_HTTP.Enum(),
		Http:            &mesos.HealthCheck_HTTPCheckInfo{Port: ptr(port), Path: ptr("/health")},
		DelaySeconds:    ptr(0.0),
		IntervalSeconds: ptr(0.1),
	}
	good.Check = &mesos.CheckInfo{
		Type:            mesos.CheckInfo_TCP.Enum(),
		Tcp:             &mesos.CheckInfo_Tcp{Port: ptr(port)},
		DelaySeconds:    ptr(0.0),
		IntervalSeconds: ptr(0.1),
	}
	sick := commandTask("sick", o, "cpus:0.1;mem:32", "sleep 1000")
	sick.HealthCheck = &mesos.HealthCheck{
		Type:                mesos.HealthCheck_COMMAND.Enum(),
		Command:             &mesos.CommandInfo{Value: ptr("exit 1")},
		DelaySeconds:        ptr(0.0),
		IntervalSeconds:     ptr(0.1),
		GracePeriodSeconds:  ptr(0.0),
		ConsecutiveFailures: ptr(uint32(2)),
	}
	if err := fw.client.Launch(ctxT(t), ids(o), []*mesos.TaskInfo{good, sick}, nil); err != nil {
		t.Fatal(err)
	}

	var goodHealthy, goodChecked bool
	var sickEnd *mesos.TaskStatus
	sickUnhealthy := 0
	for !goodHealthy || !goodChecked || sickEnd == nil {
		s := fw.nextUpdate()
		switch id := s.GetTaskId().GetValue(); {
		case id == "good" && s.GetReason() == mesos.TaskStatus_REASON_TASK_HEALTH_CHECK_STATUS_UPDATED:
			if !s.GetHealthy() || s.GetState() != mesos.TaskState_TASK_RUNNING {
				t.Fatalf("good: health update %v", s)
			}
			goodHealthy = true
		case id == "good" && s.GetReason() == mesos.TaskStatus_REASON_TASK_CHECK_STATUS_UPDATED:
			if !s.GetCheckStatus().GetTcp().GetSucceeded() {
				t.Fatalf("good: check update %v", s)
			}
			goodChecked = true
		case id == "good" && s.GetState().IsTerminal():
			t.Fatalf("good ended: %v", s)
		case id == "sick" && s.GetReason() == mesos.TaskStatus_REASON_TASK_HEALTH_CHECK_STATUS_UPDATED:
			if s.Healthy == nil || s.GetHealthy() {
				t.Fatalf("sick: health update %v", s)
			}
			sickUnhealthy++
		case id == "sick" && s.GetState().IsTerminal():
			sickEnd = s
		}
	}
	if sickEnd.GetState() != mesos.TaskState_TASK_KILLED || sickEnd.Healthy == nil || sickEnd.GetHealthy() {
		t.Errorf("sick ended %s healthy=%v; want TASK_KILLED healthy=false", sickEnd.GetState(), sickEnd.Healthy)
	}
	if sickUnhealthy != 2 {
		t.Errorf("sick: %d unhealthy updates, want 2 (consecutive_failures)", sickUnhealthy)
	}

	waitFor(t, "the master's /state to show good healthy", func() bool {
		var st struct {
			Frameworks []struct {
				Tasks []struct {
					ID       string `json:"id"`
					Statuses []struct {
						State   string `json:"state"`
						Healthy *bool  `json:"healthy"`
					} `json:"statuses"`
				} `json:"tasks"`
			} `json:"frameworks"`
		}
		c.getJSON("/master/state", &st)
		for _, f := range st.Frameworks {
			for _, task := range f.Tasks {
				if task.ID != "good" {
					continue
				}
				for _, s := range task.Statuses {
					if s.State == "TASK_RUNNING" && s.Healthy != nil && *s.Healthy {
						return true
					}
				}
			}
		}
		return false
	})
	if err := fw.client.Kill(ctxT(t), &mesos.TaskID{Value: ptr("good")}, o.GetAgentId()); err != nil {
		t.Fatal(err)
	}
	for {
		s := fw.nextUpdate()
		if s.GetTaskId().GetValue() == "good" && s.GetState().IsTerminal() {
			if s.GetState() != mesos.TaskState_TASK_KILLED || s.Healthy != nil {
				t.Errorf("good ended %s healthy=%v; want TASK_KILLED without healthy", s.GetState(), s.Healthy)
			}
			if cs := s.GetCheckStatus(); cs.GetType() != mesos.CheckInfo_TCP || cs.GetTcp() == nil || cs.GetTcp().Succeeded != nil {
				t.Errorf("good's TASK_KILLED check status %v; want an empty TCP result", cs)
			}
			break
		}
	}
}
