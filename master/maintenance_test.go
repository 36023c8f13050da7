package master_test

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	"github.com/gomesos/gomesos/api/v1/maintenance"
	masterpb "github.com/gomesos/gomesos/api/v1/master"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/master/core"
)

// Maintenance primitives through the operator API, as Mesos's
// docs/maintenance.md describes them.

func machineID(hostname string) *mesos.MachineID {
	return &mesos.MachineID{Hostname: proto.String(hostname)}
}

// oneWindow is a schedule of one window starting an hour from now.
func oneWindow(machines ...*mesos.MachineID) *maintenance.Schedule {
	return &maintenance.Schedule{Windows: []*maintenance.Window{{
		MachineIds: machines,
		Unavailability: &mesos.Unavailability{
			Start:    &mesos.TimeInfo{Nanoseconds: proto.Int64(time.Now().Add(time.Hour).UnixNano())},
			Duration: &mesos.DurationInfo{Nanoseconds: proto.Int64(int64(time.Hour))},
		},
	}}}
}

func scheduleCall(s *maintenance.Schedule) *masterpb.Call {
	c := callOf(masterpb.Call_UPDATE_MAINTENANCE_SCHEDULE)
	c.UpdateMaintenanceSchedule = &masterpb.Call_UpdateMaintenanceSchedule{Schedule: s}
	return c
}

func machinesCall(typ masterpb.Call_Type, ids ...*mesos.MachineID) *masterpb.Call {
	c := callOf(typ)
	if typ == masterpb.Call_START_MAINTENANCE {
		c.StartMaintenance = &masterpb.Call_StartMaintenance{Machines: ids}
	} else {
		c.StopMaintenance = &masterpb.Call_StopMaintenance{Machines: ids}
	}
	return c
}

func (m *testMaster) maintenanceStatus() *maintenance.ClusterStatus {
	m.t.Helper()
	return m.operator(callOf(masterpb.Call_GET_MAINTENANCE_STATUS), codec.Protobuf).GetGetMaintenanceStatus().GetStatus()
}

func (m *testMaster) maintenanceSchedule() *maintenance.Schedule {
	m.t.Helper()
	return m.operator(callOf(masterpb.Call_GET_MAINTENANCE_SCHEDULE), codec.Protobuf).GetGetMaintenanceSchedule().GetSchedule()
}

// registerRefused registers an agent on hostname and returns the first
// message the master sends it, which must not be REGISTERED.
func registerRefused(t *testing.T, m *testMaster, hostname string) *agentproto.MasterMessage {
	t.Helper()
	body, _ := proto.Marshal(&agentproto.AgentMessage{
		Type: agentproto.AgentMessage_REGISTER.Enum(),
		Register: &agentproto.AgentMessage_Register{AgentInfo: &mesos.AgentInfo{
			Hostname: proto.String(hostname), Port: proto.Int32(5051), Resources: resourcesProto(agentResources),
		}, Version: proto.String(core.Version)},
	})
	req, _ := http.NewRequest(http.MethodPost, m.URL()+"/internal/agent/subscribe", bytes.NewReader(body))
	req.Header.Set("Content-Type", codec.MediaProtobuf)
	resp, err := m.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rec, err := codec.NewRecordReader(resp.Body, 0).ReadRecord()
	if err != nil {
		t.Fatalf("reading the master's answer: status %d, %v", resp.StatusCode, err)
	}
	msg := &agentproto.MasterMessage{}
	if err := proto.Unmarshal(rec, msg); err != nil {
		t.Fatal(err)
	}
	return msg
}

// A schedule makes its machines DRAINING: their agents' offers carry the
// unavailability, frameworks with tasks there get inverse offers, and
// their answers show in the maintenance status. START_MAINTENANCE takes a
// machine DOWN: its agents are removed, their tasks lost, and agents on it
// refused; STOP_MAINTENANCE brings it UP and out of the schedule.
func TestOperatorMaintenanceScheduleDrainDownUp(t *testing.T) {
	m := startMaster(t)
	a1 := startAgent(t, m, "m1", agentResources)
	a2 := startAgent(t, m, "m2", agentResources)
	s := subscribe(t, m, frameworkInfo("fw"), codec.JSON)
	runTaskOn(t, s, a1, "t1", "cpus:1;mem:128")

	sched := oneWindow(machineID("M1")) // hostnames are not case-sensitive
	m.mustOK(scheduleCall(sched))
	if got := m.maintenanceSchedule(); !proto.Equal(got, sched) {
		t.Fatalf("GET_MAINTENANCE_SCHEDULE = %v, want %v", got, sched)
	}
	io := s.next(schedpb.Event_INVERSE_OFFERS).GetInverseOffers().GetInverseOffers()
	if len(io) != 1 || io[0].GetAgentId().GetValue() != a1.ID || io[0].GetFrameworkId().GetValue() != s.FrameworkID ||
		!proto.Equal(io[0].GetUnavailability(), sched.Windows[0].Unavailability) {
		t.Fatalf("INVERSE_OFFERS = %v, want one for agent %s with the window's unavailability", io, a1.ID)
	}
	heldInverse := func() []*mesos.InverseOffer {
		return m.operator(callOf(masterpb.Call_GET_FRAMEWORKS), codec.Protobuf).GetGetFrameworks().GetFrameworks()[0].GetInverseOffers()
	}
	if held := heldInverse(); len(held) != 1 || held[0].GetId().GetValue() != io[0].GetId().GetValue() {
		t.Fatalf("GET_FRAMEWORKS inverse_offers = %v, want %s", held, io[0].GetId().GetValue())
	}
	var tagged *mesos.Offer
	for tagged == nil {
		for _, o := range s.nextOffers() {
			switch o.GetAgentId().GetValue() {
			case a1.ID:
				if o.Unavailability != nil {
					tagged = o
				}
			case a2.ID:
				if o.Unavailability != nil {
					t.Fatalf("an offer of an agent not in maintenance carries unavailability: %v", o)
				}
			}
		}
	}
	if !proto.Equal(tagged.GetUnavailability(), sched.Windows[0].Unavailability) {
		t.Fatalf("offer unavailability = %v, want %v", tagged.GetUnavailability(), sched.Windows[0].Unavailability)
	}
	st := m.maintenanceStatus()
	if len(st.GetDrainingMachines()) != 1 || len(st.GetDownMachines()) != 0 {
		t.Fatalf("GET_MAINTENANCE_STATUS = %v, want one draining machine", st)
	}
	if ss := st.GetDrainingMachines()[0].GetStatuses(); len(ss) != 1 || ss[0].GetStatus() != maintenance.InverseOfferStatus_UNKNOWN {
		t.Fatalf("inverse offer statuses before an answer: %v, want UNKNOWN", ss)
	}

	if status, body := s.post(&schedpb.Call{Type: schedpb.Call_ACCEPT_INVERSE_OFFERS.Enum(),
		AcceptInverseOffers: &schedpb.Call_AcceptInverseOffers{InverseOfferIds: []*mesos.OfferID{io[0].GetId()}}}); status != http.StatusAccepted {
		t.Fatalf("ACCEPT_INVERSE_OFFERS: %d %s", status, body)
	}
	waitFor(t, "the accepted inverse offer in the status", func() bool {
		ss := m.maintenanceStatus().GetDrainingMachines()[0].GetStatuses()
		return len(ss) == 1 && ss[0].GetStatus() == maintenance.InverseOfferStatus_ACCEPT && ss[0].GetFrameworkId().GetValue() == s.FrameworkID
	})
	if held := heldInverse(); len(held) != 0 {
		t.Fatalf("GET_FRAMEWORKS inverse_offers after the answer = %v, want none", held)
	}

	// Bad machine lists and schedules change nothing.
	for _, c := range []*masterpb.Call{
		machinesCall(masterpb.Call_START_MAINTENANCE),
		machinesCall(masterpb.Call_START_MAINTENANCE, machineID("m2")),
		machinesCall(masterpb.Call_STOP_MAINTENANCE, machineID("m1")),
		scheduleCall(oneWindow(machineID("m1"), machineID("M1"))),
		scheduleCall(oneWindow(&mesos.MachineID{})),
		scheduleCall(oneWindow(&mesos.MachineID{Hostname: proto.String("m1"), Ip: proto.String("not-an-ip")})),
		scheduleCall(oneWindow()),
	} {
		if status, body := m.operatorCall(c, codec.Protobuf); status != http.StatusBadRequest {
			t.Errorf("%v: status %d %s, want 400", c, status, body)
		}
	}
	if got := m.maintenanceSchedule(); !proto.Equal(got, sched) {
		t.Fatalf("refused calls changed the schedule: %v", got)
	}

	m.mustOK(machinesCall(masterpb.Call_START_MAINTENANCE, machineID("m1")))
	a1.next(agentproto.MasterMessage_SHUTDOWN)
	if up := s.nextUpdate(); up.GetTaskId().GetValue() != "t1" || up.GetState() != mesos.TaskState_TASK_LOST {
		t.Fatalf("UPDATE after START_MAINTENANCE = %v, want t1 TASK_LOST", up)
	}
	if m.agentView(a1.ID) != nil || m.agentView(a2.ID) == nil {
		t.Fatalf("GET_AGENTS after START_MAINTENANCE should list only %s", a2.ID)
	}
	st = m.maintenanceStatus()
	if len(st.GetDrainingMachines()) != 0 || len(st.GetDownMachines()) != 1 || st.GetDownMachines()[0].GetHostname() != "M1" {
		t.Fatalf("GET_MAINTENANCE_STATUS after START_MAINTENANCE = %v", st)
	}
	if msg := registerRefused(t, m, "m1"); msg.GetType() != agentproto.MasterMessage_SHUTDOWN || !strings.Contains(msg.GetMessage(), "maintenance") {
		t.Fatalf("an agent on a DOWN machine was answered %v, want SHUTDOWN", msg)
	}
	// A DOWN machine must stay in the schedule, and cannot go down again.
	for _, c := range []*masterpb.Call{scheduleCall(oneWindow(machineID("m2"))), machinesCall(masterpb.Call_START_MAINTENANCE, machineID("m1"))} {
		if status, body := m.operatorCall(c, codec.Protobuf); status != http.StatusBadRequest {
			t.Errorf("%v: status %d %s, want 400", c, status, body)
		}
	}

	m.mustOK(machinesCall(masterpb.Call_STOP_MAINTENANCE, machineID("m1")))
	if got := m.maintenanceSchedule(); len(got.GetWindows()) != 0 {
		t.Fatalf("schedule after STOP_MAINTENANCE = %v, want empty", got)
	}
	if st := m.maintenanceStatus(); len(st.GetDrainingMachines())+len(st.GetDownMachines()) != 0 {
		t.Fatalf("status after STOP_MAINTENANCE = %v, want empty", st)
	}
	startAgent(t, m, "m1", agentResources) // registers again
}

// An empty schedule cancels maintenance: offers lose their unavailability
// and outstanding inverse offers are rescinded.
func TestOperatorEmptyScheduleCancelsDraining(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "m1", agentResources)
	s := subscribe(t, m, frameworkInfo("fw"), codec.JSON)
	runTaskOn(t, s, a, "t1", "cpus:1;mem:128")
	m.mustOK(scheduleCall(oneWindow(machineID("m1"))))
	io := s.next(schedpb.Event_INVERSE_OFFERS).GetInverseOffers().GetInverseOffers()[0]

	m.mustOK(scheduleCall(&maintenance.Schedule{}))
	if got := s.next(schedpb.Event_RESCIND_INVERSE_OFFER).GetRescindInverseOffer().GetInverseOfferId().GetValue(); got != io.GetId().GetValue() {
		t.Fatalf("RESCIND_INVERSE_OFFER of %s, want %s", got, io.GetId().GetValue())
	}
	if st := m.maintenanceStatus(); len(st.GetDrainingMachines()) != 0 {
		t.Fatalf("status after an empty schedule = %v", st)
	}
	// The next offer of the agent carries no unavailability.
	for {
		offers := s.offersOf(a.ID, 1)
		if offers[0].Unavailability == nil {
			break
		}
		s.decline(offerIDs(offers...), 0)
	}
}

// The legacy endpoints serve the same maintenance as JSON: the schedule
// POSTed and read back as Mesos's docs show it, machines taken down and up
// with JSON arrays of machine ids, the status, and 400s for bad input that
// change nothing.
func TestLegacyMaintenanceEndpoints(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "machine1", agentResources)
	post := func(path, body string) (int, string) {
		status, _, text := m.do(http.MethodPost, path, http.Header{"Content-Type": {"application/json"}}, []byte(body))
		return status, text
	}
	if got := m.getJSON("/master/maintenance/schedule"); len(got) != 0 {
		t.Fatalf("schedule before any: %v, want {}", got)
	}
	schedule := `{"windows":[{"machine_ids":[{"hostname":"machine1","ip":"10.0.0.1"},{"hostname":"machine2"}],` +
		`"unavailability":{"start":{"nanoseconds":1443830400000000000},"duration":{"nanoseconds":3600000000000}}}]}`
	if status, text := post("/master/maintenance/schedule", schedule); status != http.StatusOK {
		t.Fatalf("POST /master/maintenance/schedule: %d %s", status, text)
	}
	got := m.getJSON("/maintenance/schedule")
	windows := objects(got["windows"])
	if len(windows) != 1 || len(objects(windows[0]["machine_ids"])) != 2 ||
		windows[0]["unavailability"].(map[string]any)["start"].(map[string]any)["nanoseconds"] != 1443830400000000000.0 {
		t.Fatalf("GET /maintenance/schedule = %v", got)
	}
	status := m.getJSON("/master/maintenance/status")
	if draining := objects(status["draining_machines"]); len(draining) != 2 {
		t.Fatalf("/master/maintenance/status = %v, want two draining machines", status)
	}

	for _, c := range []struct{ path, body, text string }{
		{"/master/maintenance/schedule", `{"windows":`, "Failed to parse"},
		{"/master/maintenance/schedule", `{"windows":[{"machine_ids":[{}],"unavailability":{"start":{"nanoseconds":1}}}]}`, "Both 'hostname' and 'ip'"},
		{"/master/machine/down", `{"hostname":"machine1"}`, "JSON array"},
		{"/master/machine/down", `[]`, "List of machines is empty"},
		{"/master/machine/down", `[{"hostname":"elsewhere"}]`, "not part of a maintenance schedule"},
		{"/master/machine/up", `[{"hostname":"machine2"}]`, "is DRAINING, not DOWN"},
	} {
		if st, text := post(c.path, c.body); st != http.StatusBadRequest || !strings.Contains(text, c.text) {
			t.Errorf("POST %s %s: %d %q, want 400 with %q", c.path, c.body, st, text, c.text)
		}
	}
	if again := m.getJSON("/maintenance/schedule"); len(objects(again["windows"])) != 1 {
		t.Fatalf("bad input changed the schedule: %v", again)
	}
	if st, _, _ := m.do(http.MethodDelete, "/master/machine/down", nil, nil); st != http.StatusMethodNotAllowed {
		t.Errorf("DELETE /master/machine/down: %d, want 405", st)
	}

	// The machine of the agent is known by hostname and IP: the agent
	// serves at no IP here, so the machine with an IP does not match it,
	// and machine2 has no agent.
	if st, text := post("/master/machine/down", `[{"hostname":"MACHINE2"}]`); st != http.StatusOK {
		t.Fatalf("POST /master/machine/down: %d %s", st, text)
	}
	status = m.getJSON("/master/maintenance/status")
	if down := objects(status["down_machines"]); len(down) != 1 || down[0]["hostname"] != "machine2" {
		t.Fatalf("status after machine/down: %v", status)
	}
	if m.agentView(a.ID) == nil {
		t.Fatalf("an agent of another machine was removed")
	}
	if st, text := post("/machine/up", `[{"hostname":"machine2"}]`); st != http.StatusOK {
		t.Fatalf("POST /machine/up: %d %s", st, text)
	}
	got = m.getJSON("/maintenance/schedule")
	if ids := objects(objects(got["windows"])[0]["machine_ids"]); len(ids) != 1 || ids[0]["hostname"] != "machine1" {
		t.Fatalf("schedule after machine/up: %v, want only machine1 left", got)
	}
}
