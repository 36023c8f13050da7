package master_test

// Reservations, persistent volumes, operation feedback and UPDATE_FRAMEWORK
// over the master's real HTTP APIs, with a fake agent speaking the agent
// protocol (the whole story with a real agent is in test/e2e).

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	masterpb "github.com/gomesos/gomesos/api/v1/master"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/resources"
)

// dynamic is res (a resources text) dynamically reserved to role by
// principal.
func dynamic(res, role, principal string) []*mesos.Resource {
	rv := resources.Reservation{Type: resources.ReservationDynamic, Role: role, Principal: principal}
	return resources.ToProto(resources.MustParse(res).PushReservation(rv))
}

// reservedTo sums the scalar name of the offers' resources reserved to role.
func reservedTo(role, name string, offers ...*mesos.Offer) float64 {
	var sum float64
	for _, o := range offers {
		rs, err := resources.FromProto(o.GetResources())
		if err != nil {
			panic(err)
		}
		sum += rs.Reserved(role).ScalarQuantity(name).Float64()
	}
	return sum
}

// finish answers an APPLY_OPERATION as an agent that applied it.
func (a *fakeAgent) finish(m *agentproto.MasterMessage) {
	a.t.Helper()
	a.send(&agentproto.AgentMessage{Type: agentproto.AgentMessage_OPERATION_STATUS.Enum(), OperationStatus: &agentproto.OperationStatusUpdate{
		OperationUuid: m.GetApplyOperation().GetOperationUuid(), State: mesos.OperationState_OPERATION_FINISHED.Enum(),
	}})
}

// The operator reserves an agent's unallocated resources for a role
// (RESERVE_RESOURCES, 202 as in Mesos): the agent is sent its new
// checkpointed resources, the operation is listed by GET_OPERATIONS until
// the agent applied it, and only frameworks of the role are offered the
// reserved resources. More than the agent has is 409 Conflict; a bad
// request is 400 and changes nothing. UNRESERVE_RESOURCES takes back
// outstanding offers of the reserved resources and gives them to all.
func TestOperatorReserveAndUnreserve(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1.example.com", "cpus:4;mem:1024;disk:1024")
	reserve := func(res []*mesos.Resource) (int, string) {
		status, body := m.operatorCall(&masterpb.Call{Type: masterpb.Call_RESERVE_RESOURCES.Enum(), ReserveResources: &masterpb.Call_ReserveResources{
			AgentId: &mesos.AgentID{Value: proto.String(a.ID)}, Resources: res,
		}}, codec.JSON)
		return status, string(body)
	}
	for _, c := range []struct {
		res    []*mesos.Resource
		status int
		text   string
	}{
		{resourcesProto("cpus:1"), 400, "is not dynamically reserved"},
		{dynamic("cpus:1", "*", ""), 400, "Invalid resources"},
		{dynamic("cpus:10", "eng", "ops"), 409, "not available"},
	} {
		if status, body := reserve(c.res); status != c.status || !strings.Contains(body, c.text) {
			t.Errorf("RESERVE_RESOURCES %v: %d %q, want %d with %q", c.res, status, body, c.status, c.text)
		}
	}
	status, body := m.operatorCall(&masterpb.Call{Type: masterpb.Call_RESERVE_RESOURCES.Enum(), ReserveResources: &masterpb.Call_ReserveResources{
		AgentId: &mesos.AgentID{Value: proto.String("no-such-agent")}, Resources: dynamic("cpus:1", "eng", ""),
	}}, codec.JSON)
	if status != http.StatusBadRequest || !strings.Contains(string(body), "No agent found") {
		t.Errorf("RESERVE_RESOURCES on an unknown agent: %d %q", status, body)
	}
	status, body = m.operatorCall(&masterpb.Call{Type: masterpb.Call_RESERVE_RESOURCES.Enum(), ReserveResources: &masterpb.Call_ReserveResources{
		AgentId: &mesos.AgentID{Value: proto.String(a.ID)}, Resources: dynamic("cpus:1", "eng", ""), Source: dynamic("cpus:1", "ops", ""),
	}}, codec.JSON)
	if status != http.StatusBadRequest || !strings.Contains(string(body), "('reserve.source') is not supported") {
		t.Errorf("RESERVE_RESOURCES with a source: %d %q", status, body)
	}
	a.none(agentproto.MasterMessage_APPLY_OPERATION, 100*time.Millisecond)

	if status, body := reserve(dynamic("cpus:2", "eng", "ops")); status != http.StatusAccepted {
		t.Fatalf("RESERVE_RESOURCES: %d %q, want 202", status, body)
	}
	apply := a.next(agentproto.MasterMessage_APPLY_OPERATION)
	ckpt, err := resources.FromProto(apply.GetApplyOperation().GetResources())
	if err != nil || ckpt.Reserved("eng").CPUs() != resources.ScalarFromInt(2) || len(ckpt) != 1 {
		t.Fatalf("APPLY_OPERATION checkpointed resources %v (%v), want cpus:2 reserved to eng", ckpt, err)
	}
	ops := m.operator(&masterpb.Call{Type: masterpb.Call_GET_OPERATIONS.Enum()}, codec.JSON).GetGetOperations().GetOperations()
	if len(ops) != 1 || ops[0].GetLatestStatus().GetState() != mesos.OperationState_OPERATION_PENDING || ops[0].GetInfo().GetType() != mesos.Offer_Operation_RESERVE {
		t.Fatalf("GET_OPERATIONS before the agent answered: %v, want one pending RESERVE", ops)
	}
	a.finish(apply)
	m.waitMetric("master/valid_operation_status_updates", 1)
	waitFor(t, "the finished operator operation to leave GET_OPERATIONS", func() bool {
		return len(m.operator(&masterpb.Call{Type: masterpb.Call_GET_OPERATIONS.Enum()}, codec.JSON).GetGetOperations().GetOperations()) == 0
	})

	// Only role eng is offered the reservation.
	other := subscribe(t, m, frameworkInfo("other"), codec.JSON)
	offers := other.nextOffers()
	if got, want := offeredScalar("cpus", offers...), 2.0; got != want || reservedTo("eng", "cpus", offers...) != 0 {
		t.Fatalf("framework of role * offered %v cpus (%v reserved to eng), want the %v unreserved", got, reservedTo("eng", "cpus", offers...), want)
	}
	other.call(&schedpb.Call{Type: schedpb.Call_TEARDOWN.Enum()})
	fi := frameworkInfo("eng")
	fi.Role = proto.String("eng")
	eng := subscribe(t, m, fi, codec.JSON)
	offers = eng.nextOffers()
	for reservedTo("eng", "cpus", offers...) == 0 {
		offers = eng.nextOffers()
	}
	if got := reservedTo("eng", "cpus", offers...); got != 2 {
		t.Fatalf("framework of role eng offered %v cpus reserved to eng, want 2", got)
	}

	// UNRESERVE while eng holds the offer: the offer is rescinded.
	status, body = m.operatorCall(&masterpb.Call{Type: masterpb.Call_UNRESERVE_RESOURCES.Enum(), UnreserveResources: &masterpb.Call_UnreserveResources{
		AgentId: &mesos.AgentID{Value: proto.String(a.ID)}, Resources: dynamic("cpus:2", "eng", "ops"),
	}}, codec.JSON)
	if status != http.StatusAccepted {
		t.Fatalf("UNRESERVE_RESOURCES: %d %q", status, body)
	}
	eng.next(schedpb.Event_RESCIND)
	apply = a.next(agentproto.MasterMessage_APPLY_OPERATION)
	if rs := apply.GetApplyOperation().GetResources(); len(rs) != 0 {
		t.Errorf("APPLY_OPERATION after UNRESERVE holds %v, want no checkpointed resources", rs)
	}
	a.finish(apply)
	for {
		offers = eng.nextOffers()
		if offeredScalar("cpus", offers...) == 4 {
			break
		}
		eng.decline(offerIDs(offers...), 0)
	}
	if got := reservedTo("eng", "cpus", offers...); got != 0 {
		t.Errorf("after UNRESERVE eng is offered %v reserved cpus, want none", got)
	}
}

// A framework's RESERVE is validated as Mesos validates it: the role must
// be the framework's and the one the resources were offered to, and the
// principal the framework's; a refused one is answered OPERATION_ERROR
// with Mesos's reason and changes nothing.
func TestFrameworkReserveValidation(t *testing.T) {
	m := startMaster(t)
	startAgent(t, m, "agent1.example.com", "cpus:4;mem:1024;disk:1024")
	fi := frameworkInfo("eng")
	fi.Role = proto.String("eng")
	fi.Principal = proto.String("p1")
	s := subscribe(t, m, fi, codec.JSON)
	cases := []struct {
		res  []*mesos.Resource
		text string
	}{
		{dynamic("cpus:1", "ops", "p1"), "but the resource was allocated to role 'eng'"},
		{dynamic("cpus:1", "eng", "p2"), "which does not match a reserved resource in the request with principal 'p2'"},
		{dynamic("cpus:1", "eng", ""), "with no principal set"},
		{dynamic("cpus:100", "eng", "p1"), "does not contain"},
	}
	for i, c := range cases {
		o := s.nextOffers()[0]
		id := "op-" + string(rune('a'+i))
		s.accept(offerIDs(o), 0, &mesos.Offer_Operation{Type: mesos.Offer_Operation_RESERVE.Enum(),
			Id: &mesos.OperationID{Value: proto.String(id)}, Reserve: &mesos.Offer_Operation_Reserve{Resources: c.res}})
		st := s.next(schedpb.Event_UPDATE_OPERATION_STATUS).GetUpdateOperationStatus().GetStatus()
		if st.GetOperationId().GetValue() != id || st.GetState() != mesos.OperationState_OPERATION_ERROR || !strings.Contains(st.GetMessage(), c.text) {
			t.Errorf("RESERVE %v: status %v, want OPERATION_ERROR with %q", c.res, st, c.text)
		}
	}
	if got := reservedTo("eng", "cpus", s.nextOffers()...); got != 0 {
		t.Errorf("after refused RESERVEs eng is offered %v reserved cpus, want none", got)
	}
}

// UPDATE_FRAMEWORK changes a subscribed framework's FrameworkInfo: a new
// role is followed by the allocator (the framework is offered the role's
// reserved resources), the new name shows in GET_FRAMEWORKS, and what
// Mesos refuses to change, or an invalid FrameworkInfo, is 400 with the
// reason and changes nothing.
func TestUpdateFramework(t *testing.T) {
	m := startMaster(t)
	startAgent(t, m, "agent1.example.com", "cpus:2;mem:1024;cpus(eng):1")
	s := subscribe(t, m, frameworkInfo("before"), codec.JSON)
	if got := reservedTo("eng", "cpus", s.nextOffers()...); got != 0 {
		t.Fatalf("framework of role * offered %v cpus reserved to eng", got)
	}
	update := func(mut func(fi *mesos.FrameworkInfo)) (int, string) {
		fi := frameworkInfo("before")
		fi.Id = &mesos.FrameworkID{Value: proto.String(s.FrameworkID)}
		mut(fi)
		return s.post(&schedpb.Call{Type: schedpb.Call_UPDATE_FRAMEWORK.Enum(), UpdateFramework: &schedpb.Call_UpdateFramework{FrameworkInfo: fi}})
	}
	for _, c := range []struct {
		mut  func(fi *mesos.FrameworkInfo)
		text string
	}{
		{func(fi *mesos.FrameworkInfo) { fi.User = proto.String("someone-else") }, "Updating 'FrameworkInfo.user' is unsupported"},
		{func(fi *mesos.FrameworkInfo) { fi.Checkpoint = proto.Bool(true) }, "Updating 'FrameworkInfo.checkpoint' is unsupported"},
		{func(fi *mesos.FrameworkInfo) { fi.Id = &mesos.FrameworkID{Value: proto.String("other")} }, "does not match"},
		{func(fi *mesos.FrameworkInfo) { fi.Role = proto.String("a b") }, "Role component 'a b' is invalid because it contains backspace or whitespace"},
	} {
		if status, body := update(c.mut); status != http.StatusBadRequest || !strings.Contains(body, c.text) {
			t.Errorf("bad UPDATE_FRAMEWORK: %d %q, want 400 with %q", status, body, c.text)
		}
	}
	ops := subscribeOperator(t, m, codec.JSON)
	ops.expect(masterpb.Event_SUBSCRIBED)
	status, body := update(func(fi *mesos.FrameworkInfo) {
		fi.Role = proto.String("eng")
		fi.Name = proto.String("after")
		fi.FailoverTimeout = proto.Float64(60)
	})
	if status != http.StatusOK {
		t.Fatalf("UPDATE_FRAMEWORK: %d %q, want 200", status, body)
	}
	if ev := ops.expect(masterpb.Event_FRAMEWORK_UPDATED); ev.GetFrameworkUpdated().GetFramework().GetFrameworkInfo().GetName() != "after" {
		t.Errorf("FRAMEWORK_UPDATED: %v, want the new name", ev)
	}
	for {
		offers := s.nextOffers()
		if reservedTo("eng", "cpus", offers...) == 1 {
			break
		}
		s.decline(offerIDs(offers...), 0)
	}
	// offer_filters: a minimum no agent meets stops the offers; without
	// it they come again. A filter for a role not subscribed is 400.
	minCPUs := func(cpus float64) func(fi *mesos.FrameworkInfo) {
		return func(fi *mesos.FrameworkInfo) {
			fi.Role = proto.String("eng")
			fi.Name = proto.String("after")
			fi.FailoverTimeout = proto.Float64(60)
			fi.OfferFilters = map[string]*mesos.OfferFilters{"eng": {MinAllocatableResources: &mesos.OfferFilters_MinAllocatableResources{
				Quantities: []*mesos.ResourceQuantities{{Quantities: map[string]*mesos.Value_Scalar{"cpus": {Value: proto.Float64(cpus)}}}},
			}}}
		}
	}
	if status, body := update(func(fi *mesos.FrameworkInfo) { minCPUs(1)(fi); fi.Role = proto.String("ops") }); status != http.StatusBadRequest || !strings.Contains(body, "not subscribed to this role") {
		t.Errorf("UPDATE_FRAMEWORK with offer filters of another role: %d %q", status, body)
	}
	if status, body := update(minCPUs(100)); status != http.StatusOK {
		t.Fatalf("UPDATE_FRAMEWORK with offer filters: %d %q", status, body)
	}
	s.next(schedpb.Event_RESCIND)
	s.none(schedpb.Event_OFFERS, 300*time.Millisecond)
	if status, body := update(minCPUs(1)); status != http.StatusOK {
		t.Fatalf("UPDATE_FRAMEWORK with offer filters: %d %q", status, body)
	}
	s.nextOffers()
	waitFor(t, "GET_FRAMEWORKS to show the new name and role", func() bool {
		fws := m.operator(&masterpb.Call{Type: masterpb.Call_GET_FRAMEWORKS.Enum()}, codec.JSON).GetGetFrameworks().GetFrameworks()
		return len(fws) == 1 && fws[0].GetFrameworkInfo().GetName() == "after" && fws[0].GetFrameworkInfo().GetRole() == "eng" &&
			fws[0].GetFrameworkInfo().GetFailoverTimeout() == 60
	})
}

// An operation still pending when its agent's connection breaks is
// settled when the agent re-registers: finished when the agent comes back
// with the resources the operation made (it applied it, its answer was
// lost), dropped when it comes back without them (its resources stand).
// Either way the framework that asked for feedback is told.
func TestPendingOperationSettledOnReregistration(t *testing.T) {
	for _, applied := range []bool{false, true} {
		m := startMaster(t)
		a := startAgent(t, m, "agent1.example.com", "cpus:4;mem:1024")
		fi := frameworkInfo("eng")
		fi.Role = proto.String("eng")
		s := subscribe(t, m, fi, codec.JSON)
		o := s.nextOffers()[0]
		// A long filter: no offer comes before the agent is back (REVIVE
		// below), so none predates what the test checks.
		s.accept(offerIDs(o), 3600, &mesos.Offer_Operation{Type: mesos.Offer_Operation_RESERVE.Enum(),
			Id: &mesos.OperationID{Value: proto.String("r1")}, Reserve: &mesos.Offer_Operation_Reserve{Resources: dynamic("cpus:1", "eng", "")}})
		apply := a.next(agentproto.MasterMessage_APPLY_OPERATION)
		a.disconnect()
		if applied {
			base := resources.MustParse("cpus:4;mem:1024")
			ckpt, err := resources.FromProto(apply.GetApplyOperation().GetResources())
			if err != nil {
				t.Fatal(err)
			}
			total, err := resources.ApplyCheckpointed(base, ckpt)
			if err != nil {
				t.Fatal(err)
			}
			a.Info.Resources = resources.ToProto(total)
		}
		a.reregister()
		want := mesos.OperationState_OPERATION_DROPPED
		if applied {
			want = mesos.OperationState_OPERATION_FINISHED
		}
		st := s.next(schedpb.Event_UPDATE_OPERATION_STATUS).GetUpdateOperationStatus().GetStatus()
		if st.GetOperationId().GetValue() != "r1" || st.GetState() != want {
			t.Errorf("applied=%v: status %v, want %s", applied, st, want)
		}
		s.call(&schedpb.Call{Type: schedpb.Call_REVIVE.Enum()})
		var reserved float64
		for reserved == 0 {
			offers := s.nextOffers()
			reserved = reservedTo("eng", "cpus", offers...)
			if !applied {
				if got := offeredScalar("cpus", offers...); got == 4 {
					break
				}
			}
			s.decline(offerIDs(offers...), 0)
		}
		if applied && reserved != 1 {
			t.Errorf("applied: offered %v cpus reserved to eng, want 1", reserved)
		}
		if !applied && reserved != 0 {
			t.Errorf("dropped: offered %v cpus reserved to eng, want none", reserved)
		}
	}
}

// volumeProto is a persistent volume of mb reserved disk for role.
func volumeProto(role string, mb float64, id, containerPath string) *mesos.Resource {
	r := dynamic("disk:1", role, "")[0]
	r.Scalar.Value = proto.Float64(mb)
	r.Disk = &mesos.Resource_DiskInfo{
		Persistence: &mesos.Resource_DiskInfo_Persistence{Id: proto.String(id)},
		Volume:      &mesos.Volume{ContainerPath: proto.String(containerPath), Mode: mesos.Volume_RW.Enum()},
	}
	return r
}

// The operator creates a persistent volume on reserved disk
// (CREATE_VOLUMES, 202) and destroys it (DESTROY_VOLUMES) once no task
// uses it: a duplicate persistence id, a container path outside the
// sandbox, and destroying a volume a task uses are 400 with Mesos's
// reason, and change nothing.
func TestOperatorVolumes(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1.example.com", "cpus:4;mem:1024;disk:1024")
	agentID := &mesos.AgentID{Value: proto.String(a.ID)}
	op := func(call *masterpb.Call) (int, string) {
		status, body := m.operatorCall(call, codec.JSON)
		return status, string(body)
	}
	create := func(vol *mesos.Resource) (int, string) {
		return op(&masterpb.Call{Type: masterpb.Call_CREATE_VOLUMES.Enum(), CreateVolumes: &masterpb.Call_CreateVolumes{AgentId: agentID, Volumes: []*mesos.Resource{vol}}})
	}
	destroy := func(vol *mesos.Resource) (int, string) {
		return op(&masterpb.Call{Type: masterpb.Call_DESTROY_VOLUMES.Enum(), DestroyVolumes: &masterpb.Call_DestroyVolumes{AgentId: agentID, Volumes: []*mesos.Resource{vol}}})
	}
	if status, body := op(&masterpb.Call{Type: masterpb.Call_RESERVE_RESOURCES.Enum(), ReserveResources: &masterpb.Call_ReserveResources{
		AgentId: agentID, Resources: dynamic("disk:200", "eng", ""),
	}}); status != http.StatusAccepted {
		t.Fatalf("RESERVE_RESOURCES: %d %q", status, body)
	}
	a.finish(a.next(agentproto.MasterMessage_APPLY_OPERATION))
	if status, body := create(volumeProto("eng", 100, "v1", "data")); status != http.StatusAccepted {
		t.Fatalf("CREATE_VOLUMES: %d %q", status, body)
	}
	apply := a.next(agentproto.MasterMessage_APPLY_OPERATION)
	ckpt, _ := resources.FromProto(apply.GetApplyOperation().GetResources())
	if vols := ckpt.PersistentVolumes(); len(vols) != 1 || vols[0].Disk.PersistenceID != "v1" || ckpt.Disk() != resources.ScalarFromInt(200) {
		t.Fatalf("checkpointed resources after CREATE_VOLUMES: %v", ckpt)
	}
	a.finish(apply)
	for _, c := range []struct {
		vol  *mesos.Resource
		text string
	}{
		{volumeProto("eng", 50, "v1", "other"), "Persistence ID 'v1' is not unique"},
		{volumeProto("eng", 50, "v2", "/abs"), "must be a relative path"},
		{volumeProto("eng", 50, "v2", "../out"), "must be a relative path"},
		{volumeProto("eng", 500, "v2", "data"), "not available"},
	} {
		if status, body := create(c.vol); status/100 != 4 || !strings.Contains(body, c.text) {
			t.Errorf("CREATE_VOLUMES %v: %d %q, want 4xx with %q", c.vol, status, body, c.text)
		}
	}

	// A task uses the volume: it cannot be destroyed.
	fi := frameworkInfo("eng")
	fi.Role = proto.String("eng")
	s := subscribe(t, m, fi, codec.JSON)
	var o *mesos.Offer
	var vol *mesos.Resource
	for vol == nil {
		o = s.nextOffers()[0]
		for _, r := range o.GetResources() {
			if r.GetDisk().GetPersistence().GetId() == "v1" {
				vol = r
			}
		}
	}
	task := commandTask("t1", "cpus:1;mem:64", o)
	task.Resources = append(task.Resources, vol)
	s.accept(offerIDs(o), 0, launchOp(task))
	a.next(agentproto.MasterMessage_RUN_TASK)
	if status, body := destroy(volumeProto("eng", 100, "v1", "data")); status != http.StatusBadRequest || !strings.Contains(body, "Persistent volumes in use") {
		t.Errorf("DESTROY_VOLUMES of a volume in use: %d %q", status, body)
	}
	a.none(agentproto.MasterMessage_APPLY_OPERATION, 100*time.Millisecond)
	a.update(s.FrameworkID, "t1", mesos.TaskState_TASK_FINISHED)
	waitFor(t, "DESTROY_VOLUMES once the task ended", func() bool {
		status, _ := destroy(volumeProto("eng", 100, "v1", "data"))
		return status == http.StatusAccepted
	})
	apply = a.next(agentproto.MasterMessage_APPLY_OPERATION)
	ckpt, _ = resources.FromProto(apply.GetApplyOperation().GetResources())
	if len(ckpt.PersistentVolumes()) != 0 || ckpt.Disk() != resources.ScalarFromInt(200) {
		t.Errorf("checkpointed resources after DESTROY_VOLUMES: %v, want the reserved disk:200 alone", ckpt)
	}
}

// GROW_VOLUME takes reserved disk into a volume and SHRINK_VOLUME gives
// some back, as Mesos's operator calls do; a shrink to nothing is 400.
func TestOperatorGrowAndShrinkVolume(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1.example.com", "cpus:1;mem:256;disk:1024")
	agentID := &mesos.AgentID{Value: proto.String(a.ID)}
	call := func(c *masterpb.Call) {
		t.Helper()
		if status, body := m.operatorCall(c, codec.JSON); status != http.StatusAccepted {
			t.Fatalf("%s: %d %q", c.GetType(), status, body)
		}
	}
	checkpointed := func() resources.Resources {
		t.Helper()
		apply := a.next(agentproto.MasterMessage_APPLY_OPERATION)
		a.finish(apply)
		rs, err := resources.FromProto(apply.GetApplyOperation().GetResources())
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	volumeSize := func(rs resources.Resources) float64 {
		for _, v := range rs.PersistentVolumes() {
			return v.Scalar.Float64()
		}
		return 0
	}
	call(&masterpb.Call{Type: masterpb.Call_RESERVE_RESOURCES.Enum(), ReserveResources: &masterpb.Call_ReserveResources{AgentId: agentID, Resources: dynamic("disk:300", "eng", "")}})
	checkpointed()
	call(&masterpb.Call{Type: masterpb.Call_CREATE_VOLUMES.Enum(), CreateVolumes: &masterpb.Call_CreateVolumes{AgentId: agentID, Volumes: []*mesos.Resource{volumeProto("eng", 100, "v1", "data")}}})
	checkpointed()
	call(&masterpb.Call{Type: masterpb.Call_GROW_VOLUME.Enum(), GrowVolume: &masterpb.Call_GrowVolume{
		AgentId: agentID, Volume: volumeProto("eng", 100, "v1", "data"), Addition: dynamic("disk:50", "eng", "")[0]}})
	if rs := checkpointed(); volumeSize(rs) != 150 || rs.Disk() != resources.ScalarFromInt(300) {
		t.Fatalf("after GROW_VOLUME: %v, want a 150 MB volume in the 300 reserved", rs)
	}
	call(&masterpb.Call{Type: masterpb.Call_SHRINK_VOLUME.Enum(), ShrinkVolume: &masterpb.Call_ShrinkVolume{
		AgentId: agentID, Volume: volumeProto("eng", 150, "v1", "data"), Subtract: &mesos.Value_Scalar{Value: proto.Float64(100)}}})
	if rs := checkpointed(); volumeSize(rs) != 50 || rs.Disk() != resources.ScalarFromInt(300) {
		t.Fatalf("after SHRINK_VOLUME: %v, want a 50 MB volume in the 300 reserved", rs)
	}
	status, body := m.operatorCall(&masterpb.Call{Type: masterpb.Call_SHRINK_VOLUME.Enum(), ShrinkVolume: &masterpb.Call_ShrinkVolume{
		AgentId: agentID, Volume: volumeProto("eng", 50, "v1", "data"), Subtract: &mesos.Value_Scalar{Value: proto.Float64(50)}}}, codec.JSON)
	if status != http.StatusBadRequest || !strings.Contains(string(body), "must be smaller than the size") {
		t.Errorf("SHRINK_VOLUME to nothing: %d %q", status, body)
	}
}

// A reservation's labels are part of it, as in Mesos: unreserving without
// them names other resources (409), with them it succeeds.
func TestReservationLabels(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1.example.com", "cpus:4;mem:1024")
	agentID := &mesos.AgentID{Value: proto.String(a.ID)}
	labelled := func() []*mesos.Resource {
		rv := resources.Reservation{Type: resources.ReservationDynamic, Role: "eng", Principal: "ops",
			Labels: resources.EncodeLabels([]resources.Label{{Key: "owner", Value: "db"}})}
		return resources.ToProto(resources.MustParse("cpus:1").PushReservation(rv))
	}
	unreserve := func(rs []*mesos.Resource) int {
		status, _ := m.operatorCall(&masterpb.Call{Type: masterpb.Call_UNRESERVE_RESOURCES.Enum(), UnreserveResources: &masterpb.Call_UnreserveResources{AgentId: agentID, Resources: rs}}, codec.JSON)
		return status
	}
	if status, body := m.operatorCall(&masterpb.Call{Type: masterpb.Call_RESERVE_RESOURCES.Enum(), ReserveResources: &masterpb.Call_ReserveResources{AgentId: agentID, Resources: labelled()}}, codec.JSON); status != http.StatusAccepted {
		t.Fatalf("RESERVE_RESOURCES with labels: %d %q", status, body)
	}
	apply := a.next(agentproto.MasterMessage_APPLY_OPERATION)
	if l := apply.GetApplyOperation().GetResources()[0].GetReservations()[0].GetLabels().GetLabels(); len(l) != 1 || l[0].GetKey() != "owner" {
		t.Fatalf("the agent was sent the reservation without its labels: %v", apply.GetApplyOperation().GetResources())
	}
	a.finish(apply)
	if status := unreserve(dynamic("cpus:1", "eng", "ops")); status != http.StatusConflict {
		t.Errorf("UNRESERVE_RESOURCES without the labels: %d, want 409", status)
	}
	if status := unreserve(labelled()); status != http.StatusAccepted {
		t.Errorf("UNRESERVE_RESOURCES with the labels: %d, want 202", status)
	}
}

// A framework of a sub-role refines (stacks) a reservation of its parent
// role when it has RESERVATION_REFINEMENT, as Mesos allows; without the
// capability the refinement is refused.
func TestReservationRefinement(t *testing.T) {
	for _, capable := range []bool{true, false} {
		m := startMaster(t)
		a := startAgent(t, m, "agent1.example.com", "cpus:1;mem:256;cpus(eng):2")
		var caps []mesos.FrameworkInfo_Capability_Type
		if capable {
			caps = append(caps, mesos.FrameworkInfo_Capability_RESERVATION_REFINEMENT)
		}
		fi := frameworkInfo("ml", caps...)
		fi.Role = proto.String("eng/ml")
		s := subscribe(t, m, fi, codec.JSON)
		o := s.nextOffers()[0]
		if got := reservedTo("eng", "cpus", o); got != 2 {
			t.Fatalf("a framework of eng/ml is offered %v cpus reserved to eng, want 2", got)
		}
		refined := resources.MustParse("cpus(eng):1").PushReservation(resources.Reservation{Type: resources.ReservationDynamic, Role: "eng/ml"})
		s.accept(offerIDs(o), 0, &mesos.Offer_Operation{Type: mesos.Offer_Operation_RESERVE.Enum(),
			Id: &mesos.OperationID{Value: proto.String("refine")}, Reserve: &mesos.Offer_Operation_Reserve{Resources: resources.ToProto(refined)}})
		if !capable {
			st := s.next(schedpb.Event_UPDATE_OPERATION_STATUS).GetUpdateOperationStatus().GetStatus()
			if st.GetState() != mesos.OperationState_OPERATION_ERROR || !strings.Contains(st.GetMessage(), "RESERVATION_REFINEMENT") {
				t.Errorf("refinement without the capability: %v, want OPERATION_ERROR naming RESERVATION_REFINEMENT", st)
			}
			continue
		}
		a.finish(a.next(agentproto.MasterMessage_APPLY_OPERATION))
		if st := s.next(schedpb.Event_UPDATE_OPERATION_STATUS).GetUpdateOperationStatus().GetStatus(); st.GetState() != mesos.OperationState_OPERATION_FINISHED {
			t.Fatalf("refinement: %v, want OPERATION_FINISHED", st)
		}
		if got := reservedTo("eng/ml", "cpus", s.nextOffers()...); got != 1 {
			t.Errorf("after the refinement eng/ml is offered %v cpus reserved to it, want 1", got)
		}
	}
}
