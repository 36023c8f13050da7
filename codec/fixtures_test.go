package codec

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/gomesos/gomesos/api/agentproto"
	"github.com/gomesos/gomesos/api/v1/executor"
	"github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/api/v1/scheduler"
)

// Messages shared by the tests, fuzz seeds and benchmarks.

func fwID(s string) *mesos.FrameworkID { return &mesos.FrameworkID{Value: proto.String(s)} }
func agentID(s string) *mesos.AgentID  { return &mesos.AgentID{Value: proto.String(s)} }
func offerID(s string) *mesos.OfferID  { return &mesos.OfferID{Value: proto.String(s)} }
func taskID(s string) *mesos.TaskID    { return &mesos.TaskID{Value: proto.String(s)} }
func execID(s string) *mesos.ExecutorID {
	return &mesos.ExecutorID{Value: proto.String(s)}
}

func scalar(name string, v float64) *mesos.Resource {
	return &mesos.Resource{
		Name:   proto.String(name),
		Type:   mesos.Value_SCALAR.Enum(),
		Scalar: &mesos.Value_Scalar{Value: proto.Float64(v)},
	}
}

func ranges(name string, rs ...[2]uint64) *mesos.Resource {
	r := &mesos.Resource{Name: proto.String(name), Type: mesos.Value_RANGES.Enum(), Ranges: &mesos.Value_Ranges{}}
	for _, x := range rs {
		r.Ranges.Range = append(r.Ranges.Range, &mesos.Value_Range{Begin: proto.Uint64(x[0]), End: proto.Uint64(x[1])})
	}
	return r
}

func set(name string, items ...string) *mesos.Resource {
	return &mesos.Resource{Name: proto.String(name), Type: mesos.Value_SET.Enum(), Set: &mesos.Value_Set{Item: items}}
}

func labels(kv ...string) *mesos.Labels {
	l := &mesos.Labels{}
	for i := 0; i+1 < len(kv); i += 2 {
		l.Labels = append(l.Labels, &mesos.Label{Key: proto.String(kv[i]), Value: proto.String(kv[i+1])})
	}
	return l
}

func frameworkInfo() *mesos.FrameworkInfo {
	return &mesos.FrameworkInfo{
		User:            proto.String("root"),
		Name:            proto.String("Example \"HTTP\" Framework/ü"),
		FailoverTimeout: proto.Float64(604800),
		Checkpoint:      proto.Bool(true),
		Roles:           []string{"dev", "ops/batch"},
		Hostname:        proto.String("sched.example.com"),
		Principal:       proto.String("principal"),
		Capabilities: []*mesos.FrameworkInfo_Capability{
			{Type: mesos.FrameworkInfo_Capability_MULTI_ROLE.Enum()},
			{Type: mesos.FrameworkInfo_Capability_PARTITION_AWARE.Enum()},
		},
		Labels: labels("team", "infra", "tier", ""),
		OfferFilters: map[string]*mesos.OfferFilters{
			"dev": {MinAllocatableResources: &mesos.OfferFilters_MinAllocatableResources{
				Quantities: []*mesos.ResourceQuantities{{Quantities: map[string]*mesos.Value_Scalar{
					"cpus": {Value: proto.Float64(0.5)},
					"mem":  {Value: proto.Float64(256)},
				}}},
			}},
		},
	}
}

func subscribeCall() *scheduler.Call {
	return &scheduler.Call{
		Type: scheduler.Call_SUBSCRIBE.Enum(),
		Subscribe: &scheduler.Call_Subscribe{
			FrameworkInfo:   frameworkInfo(),
			SuppressedRoles: []string{"ops/batch"},
		},
	}
}

func taskInfo() *mesos.TaskInfo {
	return &mesos.TaskInfo{
		Name:    proto.String("web-1"),
		TaskId:  taskID("web-1.6a2c"),
		AgentId: agentID("e3cc0bb0-S0"),
		Resources: []*mesos.Resource{
			scalar("cpus", 0.1),
			scalar("mem", 128),
			ranges("ports", [2]uint64{31000, 31001}, [2]uint64{31005, 31005}),
			set("gpus_ids", "a", "b"),
			{
				Name:   proto.String("disk"),
				Type:   mesos.Value_SCALAR.Enum(),
				Scalar: &mesos.Value_Scalar{Value: proto.Float64(1024)},
				Reservations: []*mesos.Resource_ReservationInfo{{
					Type:      mesos.Resource_ReservationInfo_DYNAMIC.Enum(),
					Role:      proto.String("dev"),
					Principal: proto.String("ops"),
					Labels:    labels("k", "v"),
				}},
				Disk: &mesos.Resource_DiskInfo{
					Persistence: &mesos.Resource_DiskInfo_Persistence{Id: proto.String("vol-1")},
					Volume: &mesos.Volume{
						Mode:          mesos.Volume_RW.Enum(),
						ContainerPath: proto.String("data"),
					},
				},
				AllocationInfo: &mesos.Resource_AllocationInfo{Role: proto.String("dev")},
			},
		},
		Command: &mesos.CommandInfo{
			Uris: []*mesos.CommandInfo_URI{{Value: proto.String("https://example.com/app.tgz"), Executable: proto.Bool(false)}},
			Environment: &mesos.Environment{Variables: []*mesos.Environment_Variable{
				{Name: proto.String("PORT"), Value: proto.String("31000")},
			}},
			Value: proto.String("./app --port=$PORT\n"),
			User:  proto.String("nobody"),
		},
		Container: &mesos.ContainerInfo{
			Type: mesos.ContainerInfo_DOCKER.Enum(),
			Docker: &mesos.ContainerInfo_DockerInfo{
				Image:   proto.String("nginx:1.27"),
				Network: mesos.ContainerInfo_DockerInfo_BRIDGE.Enum(),
				PortMappings: []*mesos.ContainerInfo_DockerInfo_PortMapping{
					{HostPort: proto.Uint32(31000), ContainerPort: proto.Uint32(80), Protocol: proto.String("tcp")},
				},
			},
		},
		HealthCheck: &mesos.HealthCheck{
			Type: mesos.HealthCheck_HTTP.Enum(),
			Http: &mesos.HealthCheck_HTTPCheckInfo{Port: proto.Uint32(80), Path: proto.String("/health"), Statuses: []uint32{200, 204}},
		},
		KillPolicy:        &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: proto.Int64(5_000_000_000)}},
		Data:              []byte{0, 1, 2, 0xfe, 0xff, '"'},
		Labels:            labels("canary", "true"),
		MaxCompletionTime: &mesos.DurationInfo{Nanoseconds: proto.Int64(9007199254740993)}, // 2^53+1
		Limits: map[string]*mesos.Value_Scalar{
			"mem":  {Value: proto.Float64(256)},
			"cpus": {Value: proto.Float64(2)},
		},
	}
}

func acceptCall() *scheduler.Call {
	return &scheduler.Call{
		FrameworkId: fwID("e3cc0bb0-0000"),
		Type:        scheduler.Call_ACCEPT.Enum(),
		Accept: &scheduler.Call_Accept{
			OfferIds: []*mesos.OfferID{offerID("e3cc0bb0-O0"), offerID("e3cc0bb0-O1")},
			Operations: []*mesos.Offer_Operation{
				{
					Type:   mesos.Offer_Operation_LAUNCH.Enum(),
					Launch: &mesos.Offer_Operation_Launch{TaskInfos: []*mesos.TaskInfo{taskInfo()}},
				},
				{
					Type: mesos.Offer_Operation_RESERVE.Enum(),
					Id:   &mesos.OperationID{Value: proto.String("op-1")},
					Reserve: &mesos.Offer_Operation_Reserve{
						Resources: []*mesos.Resource{scalar("cpus", 1)},
					},
				},
			},
			Filters: &mesos.Filters{RefuseSeconds: proto.Float64(0.25)},
		},
	}
}

func schedulerCalls() map[string]*scheduler.Call {
	return map[string]*scheduler.Call{
		"subscribe": subscribeCall(),
		"accept":    acceptCall(),
		"decline": {
			FrameworkId: fwID("f"), Type: scheduler.Call_DECLINE.Enum(),
			Decline: &scheduler.Call_Decline{OfferIds: []*mesos.OfferID{offerID("o")}, Filters: &mesos.Filters{}},
		},
		"acknowledge": {
			FrameworkId: fwID("f"), Type: scheduler.Call_ACKNOWLEDGE.Enum(),
			Acknowledge: &scheduler.Call_Acknowledge{AgentId: agentID("a"), TaskId: taskID("t"), Uuid: []byte("0123456789abcdef")},
		},
		"reconcile": {
			FrameworkId: fwID("f"), Type: scheduler.Call_RECONCILE.Enum(),
			Reconcile: &scheduler.Call_Reconcile{Tasks: []*scheduler.Call_Reconcile_Task{{TaskId: taskID("t"), AgentId: agentID("a")}}},
		},
		"message": {
			FrameworkId: fwID("f"), Type: scheduler.Call_MESSAGE.Enum(),
			Message: &scheduler.Call_Message{AgentId: agentID("a"), ExecutorId: execID("e"), Data: []byte("hello\x00")},
		},
		"kill": {
			FrameworkId: fwID("f"), Type: scheduler.Call_KILL.Enum(),
			Kill: &scheduler.Call_Kill{TaskId: taskID("t"), KillPolicy: &mesos.KillPolicy{}},
		},
		"revive":   {FrameworkId: fwID("f"), Type: scheduler.Call_REVIVE.Enum(), Revive: &scheduler.Call_Revive{Roles: []string{"dev"}}},
		"teardown": {FrameworkId: fwID("f"), Type: scheduler.Call_TEARDOWN.Enum()},
	}
}

// offersEvent builds an OFFERS event shaped like the ones Mesos sends; n
// offers, each with the four default resources of an agent.
func offersEvent(n int) *scheduler.Event {
	ev := &scheduler.Event{Type: scheduler.Event_OFFERS.Enum(), Offers: &scheduler.Event_Offers{}}
	const base = "e3cc0bb0-0a9e-4a88-be9e-59b508e23bbe"
	star := func(r *mesos.Resource) *mesos.Resource {
		r.Role = proto.String("*")
		r.AllocationInfo = &mesos.Resource_AllocationInfo{Role: proto.String("*")}
		return r
	}
	for i := range n {
		ev.Offers.Offers = append(ev.Offers.Offers, &mesos.Offer{
			Id:          offerID(fmt.Sprintf("%s-O%d", base, i)),
			FrameworkId: fwID(base + "-0000"),
			AgentId:     agentID(fmt.Sprintf("%s-S%d", base, i)),
			Hostname:    proto.String("localhost"),
			Url: &mesos.URL{
				Scheme:  proto.String("http"),
				Address: &mesos.Address{Hostname: proto.String("localhost"), Ip: proto.String("127.0.0.1"), Port: proto.Int32(5051)},
				Path:    proto.String("/slave(1)"),
			},
			Resources: []*mesos.Resource{
				star(ranges("ports", [2]uint64{31000, 32000})),
				star(scalar("cpus", 2)),
				star(scalar("mem", 23081)),
				star(scalar("disk", 252899)),
			},
			AllocationInfo: &mesos.Resource_AllocationInfo{Role: proto.String("*")},
		})
	}
	return ev
}

func subscribedEvent() *scheduler.Event {
	return &scheduler.Event{
		Type: scheduler.Event_SUBSCRIBED.Enum(),
		Subscribed: &scheduler.Event_Subscribed{
			FrameworkId:              fwID("e3cc0bb0-0a9e-4a88-be9e-59b508e23bbe-0000"),
			HeartbeatIntervalSeconds: proto.Float64(15),
			MasterInfo: &mesos.MasterInfo{
				Id:       proto.String("e3cc0bb0-0a9e-4a88-be9e-59b508e23bbe"),
				Ip:       proto.Uint32(16777343),
				Port:     proto.Uint32(5050),
				Pid:      proto.String("master@127.0.0.1:5050"),
				Hostname: proto.String("localhost"),
				Version:  proto.String("1.12.0"),
				Address:  &mesos.Address{Hostname: proto.String("localhost"), Ip: proto.String("127.0.0.1"), Port: proto.Int32(5050)},
				Capabilities: []*mesos.MasterInfo_Capability{
					{Type: mesos.MasterInfo_Capability_AGENT_UPDATE.Enum()},
					{Type: mesos.MasterInfo_Capability_AGENT_DRAINING.Enum()},
					{Type: mesos.MasterInfo_Capability_QUOTA_V2.Enum()},
				},
			},
		},
	}
}

func taskStatus() *mesos.TaskStatus {
	return &mesos.TaskStatus{
		TaskId:          taskID("t"),
		State:           mesos.TaskState_TASK_RUNNING.Enum(),
		Message:         proto.String("running\ttab"),
		Source:          mesos.TaskStatus_SOURCE_EXECUTOR.Enum(),
		Reason:          mesos.TaskStatus_REASON_TASK_HEALTH_CHECK_STATUS_UPDATED.Enum(),
		Data:            []byte{0xff},
		AgentId:         agentID("a"),
		ExecutorId:      execID("e"),
		Timestamp:       proto.Float64(1732408409.123456),
		Uuid:            []byte("0123456789abcdef"),
		Healthy:         proto.Bool(true),
		ContainerStatus: &mesos.ContainerStatus{ContainerId: &mesos.ContainerID{Value: proto.String("c2"), Parent: &mesos.ContainerID{Value: proto.String("c1")}}, ExecutorPid: proto.Uint32(4242)},
		UnreachableTime: &mesos.TimeInfo{Nanoseconds: proto.Int64(-1)},
	}
}

func executorInfo() *mesos.ExecutorInfo {
	return &mesos.ExecutorInfo{
		Type:        mesos.ExecutorInfo_DEFAULT.Enum(),
		ExecutorId:  execID("default-executor"),
		FrameworkId: fwID("f"),
		Resources:   []*mesos.Resource{scalar("cpus", 0.1), scalar("mem", 32)},
		Data:        []byte{},
	}
}

// representativeMessages covers every package's top-level messages.
func representativeMessages() map[string]proto.Message {
	out := map[string]proto.Message{}
	for k, c := range schedulerCalls() {
		out["scheduler.Call/"+k] = c
	}
	out["scheduler.Event/SUBSCRIBED"] = subscribedEvent()
	out["scheduler.Event/OFFERS"] = offersEvent(3)
	out["scheduler.Event/UPDATE"] = &scheduler.Event{Type: scheduler.Event_UPDATE.Enum(), Update: &scheduler.Event_Update{Status: taskStatus()}}
	out["scheduler.Event/FAILURE"] = &scheduler.Event{Type: scheduler.Event_FAILURE.Enum(), Failure: &scheduler.Event_Failure{AgentId: agentID("a"), Status: proto.Int32(-9)}}
	out["executor.Call/SUBSCRIBE"] = &executor.Call{
		ExecutorId: execID("e"), FrameworkId: fwID("f"), Type: executor.Call_SUBSCRIBE.Enum(),
		Subscribe: &executor.Call_Subscribe{
			UnacknowledgedTasks:   []*mesos.TaskInfo{taskInfo()},
			UnacknowledgedUpdates: []*executor.Call_Update{{Status: taskStatus()}},
		},
	}
	out["executor.Call/MESSAGE"] = &executor.Call{
		ExecutorId: execID("e"), FrameworkId: fwID("f"), Type: executor.Call_MESSAGE.Enum(),
		Message: &executor.Call_Message{Data: []byte("t+Wonz5fRFKMzCnEptlv5A==")},
	}
	out["executor.Event/SUBSCRIBED"] = &executor.Event{
		Type: executor.Event_SUBSCRIBED.Enum(),
		Subscribed: &executor.Event_Subscribed{
			ExecutorInfo:  executorInfo(),
			FrameworkInfo: frameworkInfo(),
			AgentInfo: &mesos.AgentInfo{
				Hostname:   proto.String("agent-1"),
				Resources:  []*mesos.Resource{scalar("cpus", 8)},
				Attributes: []*mesos.Attribute{{Name: proto.String("rack"), Type: mesos.Value_TEXT.Enum(), Text: &mesos.Value_Text{Value: proto.String("r1")}}},
				Id:         agentID("a"),
				Domain: &mesos.DomainInfo{FaultDomain: &mesos.DomainInfo_FaultDomain{
					Region: &mesos.DomainInfo_FaultDomain_RegionInfo{Name: proto.String("eu")},
					Zone:   &mesos.DomainInfo_FaultDomain_ZoneInfo{Name: proto.String("eu-1a")},
				}},
			},
			ContainerId: &mesos.ContainerID{Value: proto.String("c")},
		},
	}
	out["executor.Event/LAUNCH_GROUP"] = &executor.Event{
		Type:        executor.Event_LAUNCH_GROUP.Enum(),
		LaunchGroup: &executor.Event_LaunchGroup{TaskGroup: &mesos.TaskGroupInfo{Tasks: []*mesos.TaskInfo{taskInfo(), taskInfo()}}},
	}
	out["agentproto.AgentMessage/REREGISTER"] = &agentproto.AgentMessage{
		Type: agentproto.AgentMessage_REREGISTER.Enum(),
		Register: &agentproto.AgentMessage_Register{
			AgentInfo: &mesos.AgentInfo{Hostname: proto.String("agent-1"), Port: proto.Int32(5052)},
			Version:   proto.String("0.1.0"),
			Tasks: []*mesos.Task{{
				Name: proto.String("t"), TaskId: taskID("t"), FrameworkId: fwID("f"), AgentId: agentID("a"),
				State: mesos.TaskState_TASK_STAGING.Enum(), Statuses: []*mesos.TaskStatus{taskStatus()},
				StatusUpdateState: mesos.TaskState_TASK_RUNNING.Enum(), StatusUpdateUuid: []byte{1, 2, 3},
				Limits: map[string]*mesos.Value_Scalar{"cpus": {Value: proto.Float64(1e-7)}},
			}},
			Executors:  []*agentproto.ExecutorRecord{{Info: executorInfo(), ContainerId: &mesos.ContainerID{Value: proto.String("c")}}},
			Frameworks: []*mesos.FrameworkInfo{frameworkInfo()},
		},
	}
	out["agentproto.MasterMessage/RUN_TASK"] = &agentproto.MasterMessage{
		Type:    agentproto.MasterMessage_RUN_TASK.Enum(),
		RunTask: &agentproto.MasterMessage_RunTask{FrameworkInfo: frameworkInfo(), Task: taskInfo()},
	}
	out["agentproto.MasterMessage/REGISTERED"] = &agentproto.MasterMessage{
		Type: agentproto.MasterMessage_REGISTERED.Enum(),
		Registered: &agentproto.MasterMessage_Registered{
			AgentId:             agentID("a"),
			MasterInfo:          &mesos.MasterInfo{Id: proto.String("m"), Ip: proto.Uint32(0xffffffff)},
			PingIntervalSeconds: proto.Float64(15),
			PingTimeoutSeconds:  proto.Float64(75.5),
		},
	}
	return out
}

// withDefaults returns a copy of m in which every unset singular field that
// MarshalJSON renders with its default (explicit default, not deprecated) is
// set to that default, in m and every message nested in it. That is what
// a JSON round trip gives back.
func withDefaults(m proto.Message) proto.Message {
	c := proto.Clone(m)
	fillDefaults(c.ProtoReflect())
	return c
}

func fillDefaults(m protoreflect.Message) {
	p := planFor(m.Descriptor())
	for i := range p.fields {
		f := &p.fields[i]
		if f.renderDefault && !m.Has(f.fd) {
			m.Set(f.fd, m.Get(f.fd))
		}
	}
	for _, fd := range p.nested {
		if !m.Has(fd) {
			continue
		}
		v := m.Get(fd)
		switch {
		case fd.IsMap():
			v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
				fillDefaults(mv.Message())
				return true
			})
		case fd.IsList():
			for i := range v.List().Len() {
				fillDefaults(v.List().Get(i).Message())
			}
		default:
			fillDefaults(m.Mutable(fd).Message())
		}
	}
}

// discardUnknown drops unknown fields everywhere in m (JSON has no place
// for them).
func discardUnknown(m protoreflect.Message) {
	m.SetUnknown(nil)
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap():
			if isMessageKind(fd.MapValue().Kind()) {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					discardUnknown(mv.Message())
					return true
				})
			}
		case isMessageKind(fd.Kind()):
			if fd.IsList() {
				for i := range v.List().Len() {
					discardUnknown(v.List().Get(i).Message())
				}
			} else {
				discardUnknown(v.Message())
			}
		}
		return true
	})
}
