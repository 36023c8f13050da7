package master_test

// Shared persistent volumes (SHARED_RESOURCES, Mesos's
// docs/shared-resources.md) over the master's real HTTP APIs, with a fake
// agent (the story with a real agent and real tasks is in test/e2e).

import (
	"net/http"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	masterpb "github.com/gomesos/gomesos/api/v1/master"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/resources"
)

// sharedVolumeProto is a shared persistent volume of role eng.
func sharedVolumeProto(mb float64, id, containerPath string) *mesos.Resource {
	r := volumeProto("eng", mb, id, containerPath)
	r.Shared = &mesos.Resource_SharedInfo{}
	return r
}

// volumeOf returns the offer's resource that is the volume id, nil when
// the offer lacks it.
func volumeOf(o *mesos.Offer, id string) *mesos.Resource {
	for _, r := range o.GetResources() {
		if r.GetDisk().GetPersistence().GetId() == id {
			return r
		}
	}
	return nil
}

// offerWith waits for an offer to s that holds the volume id.
func offerWith(s *scheduler, id string) (*mesos.Offer, *mesos.Resource) {
	s.t.Helper()
	for {
		for _, o := range s.nextOffers() {
			if vol := volumeOf(o, id); vol != nil {
				return o, vol
			}
			s.decline(offerIDs(o), 0)
		}
	}
}

// A shared volume is offered only to frameworks with SHARED_RESOURCES, and
// only such a framework may create one (Mesos's message). It stays on offer
// while tasks use it, to the same framework and to others; one ACCEPT
// may launch two tasks on it. DESTROY is refused while any task uses it,
// by the operator and by a framework, and taken once they all ended; the
// other framework's outstanding offer of it is rescinded then.
func TestSharedVolumes(t *testing.T) {
	m := startMaster(t)
	a := startAgent(t, m, "agent1.example.com", "cpus:4;mem:1024;disk:1024")
	agentID := &mesos.AgentID{Value: proto.String(a.ID)}
	if status, body := m.operatorCall(&masterpb.Call{Type: masterpb.Call_RESERVE_RESOURCES.Enum(), ReserveResources: &masterpb.Call_ReserveResources{
		AgentId: agentID, Resources: dynamic("disk:300", "eng", ""),
	}}, codec.JSON); status != http.StatusAccepted {
		t.Fatalf("RESERVE_RESOURCES: %d %q", status, body)
	}
	a.finish(a.next(agentproto.MasterMessage_APPLY_OPERATION))
	if status, body := m.operatorCall(&masterpb.Call{Type: masterpb.Call_CREATE_VOLUMES.Enum(), CreateVolumes: &masterpb.Call_CreateVolumes{
		AgentId: agentID, Volumes: []*mesos.Resource{sharedVolumeProto(100, "v1", "data")},
	}}, codec.JSON); status != http.StatusAccepted {
		t.Fatalf("CREATE_VOLUMES of a shared volume: %d %q", status, body)
	}
	a.finish(a.next(agentproto.MasterMessage_APPLY_OPERATION))

	// A framework without the capability is not offered the volume and
	// may not create a shared one.
	plainInfo := frameworkInfo("plain")
	plainInfo.Roles = []string{"eng"}
	plainInfo.Capabilities = append(plainInfo.Capabilities, &mesos.FrameworkInfo_Capability{Type: mesos.FrameworkInfo_Capability_MULTI_ROLE.Enum()})
	plain := subscribe(t, m, plainInfo, codec.JSON)
	po := plain.nextOffers()[0]
	for _, r := range po.GetResources() {
		if r.Shared != nil {
			t.Fatalf("framework without SHARED_RESOURCES offered shared %v", r)
		}
	}
	if po.GetResources() == nil || offeredScalar("cpus", po) != 4 {
		t.Fatalf("framework without SHARED_RESOURCES offered %v, want the agent's other resources", po.GetResources())
	}
	plainVol := sharedVolumeProto(50, "v2", "data")
	plainVol.AllocationInfo = &mesos.Resource_AllocationInfo{Role: proto.String("eng")}
	plain.accept(offerIDs(po), 3600, &mesos.Offer_Operation{
		Type: mesos.Offer_Operation_CREATE.Enum(), Id: &mesos.OperationID{Value: proto.String("create-v2")},
		Create: &mesos.Offer_Operation_Create{Volumes: []*mesos.Resource{plainVol}},
	})
	st := plain.next(schedpb.Event_UPDATE_OPERATION_STATUS).GetUpdateOperationStatus().GetStatus()
	named, _ := resources.ResourceFromProto(plainVol)
	if want := "Create volume operation for '" + named.String() + "' has been attempted by framework '" +
		plain.FrameworkID + "' with no SHARED_RESOURCES capability"; st.GetState() != mesos.OperationState_OPERATION_ERROR || !strings.HasSuffix(st.GetMessage(), want) {
		t.Fatalf("CREATE of a shared volume without the capability: %v %q, want OPERATION_ERROR %q", st.GetState(), st.GetMessage(), want)
	}

	// f1 launches two tasks on the volume in one ACCEPT.
	info := func(name string) *mesos.FrameworkInfo {
		fi := frameworkInfo(name, mesos.FrameworkInfo_Capability_SHARED_RESOURCES)
		fi.Role = proto.String("eng")
		return fi
	}
	f1 := subscribe(t, m, info("f1"), codec.JSON)
	o1, vol := offerWith(f1, "v1")
	if vol.Shared == nil {
		t.Fatalf("volume v1 offered without 'shared': %v", vol)
	}
	t1, t2 := commandTask("t1", "cpus:1;mem:64", o1), commandTask("t2", "cpus:1;mem:64", o1)
	t1.Resources = append(t1.Resources, vol)
	t2.Resources = append(t2.Resources, vol)
	f1.accept(offerIDs(o1), 0, launchOp(t1, t2))
	for range 2 {
		a.next(agentproto.MasterMessage_RUN_TASK)
	}

	// The volume is offered again while both tasks use it; f1 holds that
	// offer.
	o2, _ := offerWith(f1, "v1")
	if status, body := m.operatorCall(&masterpb.Call{Type: masterpb.Call_DESTROY_VOLUMES.Enum(), DestroyVolumes: &masterpb.Call_DestroyVolumes{
		AgentId: agentID, Volumes: []*mesos.Resource{sharedVolumeProto(100, "v1", "data")},
	}}, codec.JSON); status != http.StatusBadRequest || !strings.Contains(string(body), "Persistent volumes in use") {
		t.Fatalf("DESTROY_VOLUMES of a shared volume in use: %d %q", status, body)
	}

	// t1 ends: its resources and the volume go to f2, another framework,
	// while t2 uses the volume and f1 holds an offer of it.
	f2 := subscribe(t, m, info("f2"), codec.JSON)
	a.update(f1.FrameworkID, "t1", mesos.TaskState_TASK_FINISHED)
	o3, vol3 := offerWith(f2, "v1")
	destroy := func(o *mesos.Offer, vol *mesos.Resource, id string) *mesos.OperationStatus {
		f2.accept(offerIDs(o), 0, &mesos.Offer_Operation{
			Type: mesos.Offer_Operation_DESTROY.Enum(), Id: &mesos.OperationID{Value: proto.String(id)},
			Destroy: &mesos.Offer_Operation_Destroy{Volumes: []*mesos.Resource{vol}},
		})
		return f2.next(schedpb.Event_UPDATE_OPERATION_STATUS).GetUpdateOperationStatus().GetStatus()
	}
	if st := destroy(o3, vol3, "destroy-1"); st.GetState() != mesos.OperationState_OPERATION_ERROR || !strings.Contains(st.GetMessage(), "Persistent volumes in use") {
		t.Fatalf("DESTROY of a shared volume a task uses: %v %q", st.GetState(), st.GetMessage())
	}
	a.none(agentproto.MasterMessage_APPLY_OPERATION, 0)

	// t2 ends: the volume is destroyed, and f1's offer of it rescinded.
	a.update(f1.FrameworkID, "t2", mesos.TaskState_TASK_FINISHED)
	o4, vol4 := offerWith(f2, "v1")
	f2.accept(offerIDs(o4), 0, &mesos.Offer_Operation{
		Type: mesos.Offer_Operation_DESTROY.Enum(), Id: &mesos.OperationID{Value: proto.String("destroy-2")},
		Destroy: &mesos.Offer_Operation_Destroy{Volumes: []*mesos.Resource{vol4}},
	})
	if got := f1.next(schedpb.Event_RESCIND).GetRescind().GetOfferId().GetValue(); got != o2.GetId().GetValue() {
		t.Fatalf("rescinded offer %s, want f1's offer %s of the volume", got, o2.GetId().GetValue())
	}
	a.finish(a.next(agentproto.MasterMessage_APPLY_OPERATION))
	if st := f2.next(schedpb.Event_UPDATE_OPERATION_STATUS).GetUpdateOperationStatus().GetStatus(); st.GetState() != mesos.OperationState_OPERATION_FINISHED {
		t.Fatalf("DESTROY of an unused shared volume: %v %q", st.GetState(), st.GetMessage())
	}
}
