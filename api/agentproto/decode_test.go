package agentproto

import (
	"fmt"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// reregister is a REREGISTER of an agent running n tasks, each with two
// scalar resources allocated to a role, as an agent sends it after a
// failover; with decorate, every task gets more: an executor, statuses, an
// update uuid, a user, labels, ranges and a reservation.
func reregister(n int, decorate bool) *AgentMessage {
	agentID, fwID := "5a1d2c3b-S7", "5a1d2c3b-0001"
	scalar := func(name string, v float64) *mesos.Resource {
		return &mesos.Resource{
			Name: proto.String(name), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(v)},
			AllocationInfo: &mesos.Resource_AllocationInfo{Role: proto.String("*")},
		}
	}
	reg := &AgentMessage_Register{
		AgentInfo: &mesos.AgentInfo{
			Id: &mesos.AgentID{Value: &agentID}, Hostname: proto.String("agent7.example"), Port: proto.Int32(5051),
			Resources: []*mesos.Resource{scalar("cpus", 12), scalar("mem", 1536), {
				Name: proto.String("ports"), Type: mesos.Value_RANGES.Enum(),
				Ranges: &mesos.Value_Ranges{Range: []*mesos.Value_Range{
					{Begin: proto.Uint64(31000), End: proto.Uint64(31999)}, {Begin: proto.Uint64(33000), End: proto.Uint64(33001)},
				}},
			}},
		},
		Version: proto.String("1.11.0"), Endpoint: proto.String("10.0.0.7:5051"),
		Frameworks: []*mesos.FrameworkInfo{{Id: &mesos.FrameworkID{Value: &fwID}, Name: proto.String("fw"), User: proto.String("u")}},
	}
	for i := range n {
		id := fmt.Sprintf("task-%d", i)
		t := &mesos.Task{
			Name: proto.String("task " + id), TaskId: &mesos.TaskID{Value: &id}, FrameworkId: &mesos.FrameworkID{Value: &fwID},
			AgentId: &mesos.AgentID{Value: &agentID}, State: mesos.TaskState_TASK_RUNNING.Enum(),
			Resources: []*mesos.Resource{scalar("cpus", 1), scalar("mem", 128)},
		}
		if decorate {
			t.ExecutorId = &mesos.ExecutorID{Value: proto.String("ex-" + id)}
			t.Statuses = []*mesos.TaskStatus{{TaskId: t.TaskId, State: mesos.TaskState_TASK_RUNNING.Enum(), Uuid: []byte{1, 2, 3}}}
			t.StatusUpdateState = mesos.TaskState_TASK_RUNNING.Enum()
			t.StatusUpdateUuid = []byte{1, 2, 3}
			t.User = proto.String("nobody")
			if i%2 == 0 {
				t.Labels = &mesos.Labels{Labels: []*mesos.Label{{Key: proto.String("k"), Value: proto.String("v")}}}
			}
			if i%3 == 0 {
				t.Resources = append(t.Resources, &mesos.Resource{
					Name: proto.String("ports"), Type: mesos.Value_RANGES.Enum(),
					Ranges: &mesos.Value_Ranges{Range: []*mesos.Value_Range{{Begin: proto.Uint64(31000), End: proto.Uint64(31001)}}},
					Role:   proto.String("web"),
					Reservations: []*mesos.Resource_ReservationInfo{{
						Type: mesos.Resource_ReservationInfo_STATIC.Enum(), Role: proto.String("web"),
					}},
				})
			}
		}
		reg.Tasks = append(reg.Tasks, t)
	}
	return &AgentMessage{Type: AgentMessage_REREGISTER.Enum(), Register: reg}
}

// updateAgent is an UPDATE_AGENT with revocable cpus and mem, the second
// allocated to a role (as no agent sends it, but protobuf allows).
func updateAgent() *AgentMessage {
	rev := func(name string, v float64) *mesos.Resource {
		return &mesos.Resource{
			Name: proto.String(name), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(v)},
			Revocable: &mesos.Resource_RevocableInfo{},
		}
	}
	mem := rev("mem", 512)
	mem.AllocationInfo = &mesos.Resource_AllocationInfo{Role: proto.String("*")}
	return &AgentMessage{Type: AgentMessage_UPDATE_AGENT.Enum(), UpdateAgent: &UpdateAgent{
		UpdateOversubscribedResources: proto.Bool(true),
		OversubscribedResources:       []*mesos.Resource{rev("cpus", 2), mem},
	}}
}

func mustMarshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{AllowPartial: true}.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameDecoding checks that UnmarshalAgentMessage decodes b as proto.Unmarshal
// does: the same message, or the same error.
func sameDecoding(t *testing.T, what string, b []byte) {
	t.Helper()
	want := &AgentMessage{}
	wantErr := proto.Unmarshal(b, want)
	got := &AgentMessage{Type: AgentMessage_PONG.Enum()} // reset first
	gotErr := UnmarshalAgentMessage(b, got)
	switch {
	case (wantErr == nil) != (gotErr == nil) || (wantErr != nil && wantErr.Error() != gotErr.Error()):
		t.Errorf("%s: error %v, want %v", what, gotErr, wantErr)
	case wantErr == nil && !proto.Equal(got, want):
		t.Errorf("%s: decoded\n%v\nwant\n%v", what, got, want)
	}
}

// Every message decodes as protobuf decodes it: the common tasks, tasks
// with more than the common fields, other messages, messages protobuf
// refuses (a required field missing, cut short), fields repeated,
// unknown fields and enum values.
func TestUnmarshalAgentMessageAsProtobuf(t *testing.T) {
	sameDecoding(t, "empty", nil)
	sameDecoding(t, "REREGISTER of 10 tasks", mustMarshal(t, reregister(10, false)))
	sameDecoding(t, "REREGISTER of 0 tasks", mustMarshal(t, reregister(0, false)))
	sameDecoding(t, "REREGISTER of 100 decorated tasks", mustMarshal(t, reregister(100, true)))
	sameDecoding(t, "REGISTER", mustMarshal(t, &AgentMessage{Type: AgentMessage_REGISTER.Enum(), Register: reregister(0, false).Register}))
	sameDecoding(t, "PONG", mustMarshal(t, &AgentMessage{Type: AgentMessage_PONG.Enum()}))
	sameDecoding(t, "STATUS_UPDATE", mustMarshal(t, &AgentMessage{Type: AgentMessage_STATUS_UPDATE.Enum(), StatusUpdate: &StatusUpdate{
		FrameworkId: &mesos.FrameworkID{Value: proto.String("f")},
		Status:      &mesos.TaskStatus{TaskId: &mesos.TaskID{Value: proto.String("t")}, State: mesos.TaskState_TASK_RUNNING.Enum()},
	}}))

	sameDecoding(t, "UPDATE_AGENT", mustMarshal(t, updateAgent()))
	sameDecoding(t, "UPDATE_AGENT withdrawing all", mustMarshal(t, &AgentMessage{Type: AgentMessage_UPDATE_AGENT.Enum(),
		UpdateAgent: &UpdateAgent{UpdateOversubscribedResources: proto.Bool(true)}}))
	sameDecoding(t, "UPDATE_AGENT empty", mustMarshal(t, &AgentMessage{Type: AgentMessage_UPDATE_AGENT.Enum(), UpdateAgent: &UpdateAgent{}}))
	for name, change := range map[string]func(*UpdateAgent){
		"resource name missing": func(u *UpdateAgent) { u.OversubscribedResources[0].Name = nil },
		"scalar missing":        func(u *UpdateAgent) { u.OversubscribedResources[1].Scalar = nil },
		"a range":               func(u *UpdateAgent) { u.OversubscribedResources[0].Ranges = &mesos.Value_Ranges{} },
		"a revocable with a field": func(u *UpdateAgent) {
			u.OversubscribedResources[0].Revocable.ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 5, protowire.VarintType), 1))
		},
	} {
		m := updateAgent()
		change(m.UpdateAgent)
		sameDecoding(t, "UPDATE_AGENT, "+name, mustMarshal(t, m))
	}
	// A message with both a register and an update, or an update twice
	// (protobuf merges the two).
	both := append(mustMarshal(t, updateAgent()), mustMarshal(t, &AgentMessage{Register: reregister(1, false).Register})...)
	sameDecoding(t, "UPDATE_AGENT with a register", both)
	sameDecoding(t, "UPDATE_AGENT twice", append(mustMarshal(t, updateAgent()), mustMarshal(t, updateAgent())...))
	flagTwice := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 0)
	flagTwice = protowire.AppendVarint(protowire.AppendTag(flagTwice, 1, protowire.VarintType), 1)
	sameDecoding(t, "UPDATE_AGENT, flag twice", protowire.AppendBytes(protowire.AppendTag(nil, 7, protowire.BytesType), flagTwice))
	// A task with a revocable resource takes the fast path too.
	rev := reregister(2, false)
	rev.Register.Tasks[1].Resources[0].Revocable = &mesos.Resource_RevocableInfo{}
	sameDecoding(t, "REREGISTER with a revocable task", mustMarshal(t, rev))

	// Each required field of a task, an id, a resource, a scalar missing.
	for name, drop := range map[string]func(*mesos.Task){
		"name":          func(t *mesos.Task) { t.Name = nil },
		"task_id":       func(t *mesos.Task) { t.TaskId = nil },
		"task_id.value": func(t *mesos.Task) { t.TaskId = &mesos.TaskID{} },
		"framework_id":  func(t *mesos.Task) { t.FrameworkId = nil },
		"agent_id":      func(t *mesos.Task) { t.AgentId = nil },
		"state":         func(t *mesos.Task) { t.State = nil },
		"resource name": func(t *mesos.Task) { t.Resources[1].Name = nil },
		"resource type": func(t *mesos.Task) { t.Resources[0].Type = nil },
		"scalar value":  func(t *mesos.Task) { t.Resources[0].Scalar.Value = nil },
	} {
		m := reregister(3, false)
		drop(m.Register.Tasks[2])
		sameDecoding(t, "missing "+name, mustMarshal(t, m))
	}
	m := reregister(1, false)
	m.Register.AgentInfo = nil
	sameDecoding(t, "missing agent_info", mustMarshal(t, m))

	// The AgentInfo: required fields missing, more than the common
	// fields, fields twice.
	for name, change := range map[string]func(*mesos.AgentInfo){
		"agent hostname":          func(ai *mesos.AgentInfo) { ai.Hostname = nil },
		"agent id value":          func(ai *mesos.AgentInfo) { ai.Id = &mesos.AgentID{} },
		"agent range begin":       func(ai *mesos.AgentInfo) { ai.Resources[2].Ranges.Range[1].Begin = nil },
		"agent range end":         func(ai *mesos.AgentInfo) { ai.Resources[2].Ranges.Range[0].End = nil },
		"agent resource name":     func(ai *mesos.AgentInfo) { ai.Resources[2].Name = nil },
		"agent without port, id":  func(ai *mesos.AgentInfo) { ai.Port, ai.Id = nil, nil },
		"agent without resources": func(ai *mesos.AgentInfo) { ai.Resources = nil },
		"agent with empty ranges": func(ai *mesos.AgentInfo) { ai.Resources[2].Ranges.Range = nil },
		"agent with attributes": func(ai *mesos.AgentInfo) {
			ai.Attributes = []*mesos.Attribute{{Name: proto.String("rack"), Type: mesos.Value_TEXT.Enum(), Text: &mesos.Value_Text{Value: proto.String("r1")}}}
		},
		"agent with a domain": func(ai *mesos.AgentInfo) {
			ai.Domain = &mesos.DomainInfo{FaultDomain: &mesos.DomainInfo_FaultDomain{
				Region: &mesos.DomainInfo_FaultDomain_RegionInfo{Name: proto.String("r")},
				Zone:   &mesos.DomainInfo_FaultDomain_ZoneInfo{Name: proto.String("z")},
			}}
		},
		"agent with a set": func(ai *mesos.AgentInfo) {
			ai.Resources = append(ai.Resources, &mesos.Resource{Name: proto.String("disks"), Type: mesos.Value_SET.Enum(), Set: &mesos.Value_Set{Item: []string{"a"}}})
		},
		"agent with a negative port": func(ai *mesos.AgentInfo) { ai.Port = proto.Int32(-5) },
	} {
		m := reregister(2, false)
		change(m.Register.AgentInfo)
		sameDecoding(t, name, mustMarshal(t, m))
	}
	for name, extra := range map[string]func(ai []byte) []byte{
		"agent id twice": func(ai []byte) []byte {
			return protowire.AppendBytes(protowire.AppendTag(ai, 6, protowire.BytesType), mustMarshal(t, &mesos.AgentID{Value: proto.String("again")}))
		},
		"agent ranges twice": func(ai []byte) []byte {
			r := mustMarshal(t, &mesos.Resource{Name: proto.String("ports"), Type: mesos.Value_RANGES.Enum(),
				Ranges: &mesos.Value_Ranges{Range: []*mesos.Value_Range{{Begin: proto.Uint64(1), End: proto.Uint64(2)}}}})
			r = protowire.AppendBytes(protowire.AppendTag(r, 4, protowire.BytesType),
				mustMarshal(t, &mesos.Value_Ranges{Range: []*mesos.Value_Range{{Begin: proto.Uint64(5), End: proto.Uint64(6)}}}))
			return protowire.AppendBytes(protowire.AppendTag(ai, 3, protowire.BytesType), r)
		},
		"agent range with unknown field": func(ai []byte) []byte {
			rg := protowire.AppendVarint(protowire.AppendTag(mustMarshal(t, &mesos.Value_Range{Begin: proto.Uint64(1), End: proto.Uint64(2)}), 3, protowire.VarintType), 1)
			rs := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), rg)
			var r []byte
			r = protowire.AppendBytes(protowire.AppendTag(r, 1, protowire.BytesType), []byte("ports"))
			r = protowire.AppendVarint(protowire.AppendTag(r, 2, protowire.VarintType), uint64(mesos.Value_RANGES))
			r = protowire.AppendBytes(protowire.AppendTag(r, 4, protowire.BytesType), rs)
			return protowire.AppendBytes(protowire.AppendTag(ai, 3, protowire.BytesType), r)
		},
		"agent hostname twice": func(ai []byte) []byte {
			return protowire.AppendBytes(protowire.AppendTag(ai, 1, protowire.BytesType), []byte("other.example"))
		},
		"agent unknown field": func(ai []byte) []byte {
			return protowire.AppendVarint(protowire.AppendTag(ai, 99, protowire.VarintType), 1)
		},
		"agent port as bytes": func(ai []byte) []byte {
			return protowire.AppendBytes(protowire.AppendTag(ai, 8, protowire.BytesType), []byte("x"))
		},
	} {
		reg := protowire.AppendTag(nil, 1, protowire.BytesType)
		reg = protowire.AppendBytes(reg, extra(mustMarshal(t, reregister(0, false).Register.AgentInfo)))
		for _, tk := range reregister(2, false).Register.Tasks {
			reg = protowire.AppendBytes(protowire.AppendTag(reg, 3, protowire.BytesType), mustMarshal(t, tk))
		}
		sameDecoding(t, name, wrap(reg))
	}

	// Cut short anywhere.
	b := mustMarshal(t, reregister(2, true))
	for i := range b {
		sameDecoding(t, fmt.Sprintf("cut at %d of %d", i, len(b)), b[:i])
	}

	// Two messages one after the other merge: their tasks add up, their
	// registers and agent infos merge.
	sameDecoding(t, "two REREGISTERs", append(mustMarshal(t, reregister(2, false)), mustMarshal(t, reregister(3, true))...))
	// A field of a task twice: the last string wins, ids merge.
	task := mustMarshal(t, reregister(1, false).Register.Tasks[0])
	twice := append(append([]byte{}, task...), mustMarshal(t, &mesos.Task{Name: proto.String("again"), TaskId: &mesos.TaskID{Value: proto.String("t2")}})...)
	var reg []byte
	reg = protowire.AppendTag(reg, 1, protowire.BytesType)
	reg = protowire.AppendBytes(reg, mustMarshal(t, reregister(0, false).Register.AgentInfo))
	reg = protowire.AppendTag(reg, 3, protowire.BytesType)
	reg = protowire.AppendBytes(reg, twice)
	sameDecoding(t, "a task's fields twice", wrap(reg))

	// Unknown fields, in a task, a resource, a scalar, an id; unknown enum
	// values; a known field of another wire type.
	for name, extra := range map[string]func([]byte) []byte{
		"unknown field": func(b []byte) []byte {
			return protowire.AppendVarint(protowire.AppendTag(b, 99, protowire.VarintType), 7)
		},
		"unknown state": func(b []byte) []byte {
			return protowire.AppendVarint(protowire.AppendTag(b, 6, protowire.VarintType), 77)
		},
		"name as varint": func(b []byte) []byte {
			return protowire.AppendVarint(protowire.AppendTag(b, 1, protowire.VarintType), 1)
		},
		"resource with unknown field": func(b []byte) []byte {
			r := mustMarshal(t, &mesos.Resource{Name: proto.String("gpus"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(1)}})
			r = protowire.AppendVarint(protowire.AppendTag(r, 99, protowire.VarintType), 1)
			return protowire.AppendBytes(protowire.AppendTag(b, 7, protowire.BytesType), r)
		},
		"resource of unknown type": func(b []byte) []byte {
			r := mustMarshal(t, &mesos.Resource{Name: proto.String("gpus"), Type: mesos.Value_Type(42).Enum()})
			return protowire.AppendBytes(protowire.AppendTag(b, 7, protowire.BytesType), r)
		},
		"scalar with unknown field": func(b []byte) []byte {
			s := protowire.AppendVarint(protowire.AppendTag(mustMarshal(t, &mesos.Value_Scalar{Value: proto.Float64(2)}), 5, protowire.VarintType), 1)
			var r []byte
			r = protowire.AppendBytes(protowire.AppendTag(r, 1, protowire.BytesType), []byte("disk"))
			r = protowire.AppendVarint(protowire.AppendTag(r, 2, protowire.VarintType), uint64(mesos.Value_SCALAR))
			r = protowire.AppendBytes(protowire.AppendTag(r, 3, protowire.BytesType), s)
			return protowire.AppendBytes(protowire.AppendTag(b, 7, protowire.BytesType), r)
		},
		"id with unknown field": func(b []byte) []byte {
			id := protowire.AppendVarint(protowire.AppendTag(mustMarshal(t, &mesos.ExecutorID{Value: proto.String("e")}), 2, protowire.VarintType), 1)
			return protowire.AppendBytes(protowire.AppendTag(b, 4, protowire.BytesType), id)
		},
	} {
		reg := protowire.AppendTag(nil, 1, protowire.BytesType)
		reg = protowire.AppendBytes(reg, mustMarshal(t, reregister(0, false).Register.AgentInfo))
		for i, tk := range reregister(3, false).Register.Tasks {
			b := mustMarshal(t, tk)
			if i == 1 {
				b = extra(b)
			}
			reg = protowire.AppendBytes(protowire.AppendTag(reg, 3, protowire.BytesType), b)
		}
		sameDecoding(t, name, wrap(reg))
	}
	unknownType := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), 42)
	sameDecoding(t, "unknown message type", append(unknownType, mustMarshal(t, &AgentMessage{Register: reregister(1, false).Register})...))
}

// wrap is a REREGISTER of the register reg (its encoded fields).
func wrap(reg []byte) []byte {
	b := protowire.AppendVarint(protowire.AppendTag(nil, 1, protowire.VarintType), uint64(AgentMessage_REREGISTER))
	return protowire.AppendBytes(protowire.AppendTag(b, 2, protowire.BytesType), reg)
}

// The decoded message is the caller's: its strings and scalars are its own
// (changing one changes no other), and the bytes it was decoded from may
// be reused.
func TestUnmarshalAgentMessageOwnsItsFields(t *testing.T) {
	b := mustMarshal(t, reregister(3, true))
	m := &AgentMessage{}
	if err := UnmarshalAgentMessage(b, m); err != nil {
		t.Fatal(err)
	}
	clear(b)
	want := reregister(3, true)
	if !proto.Equal(m, want) {
		t.Fatalf("after its bytes were overwritten the message is\n%v\nwant\n%v", m, want)
	}
	tasks := m.GetRegister().GetTasks()
	*tasks[0].Resources[0].Scalar.Value = 99
	tasks[0].Resources = append(tasks[0].Resources, tasks[0].Resources[0])
	*tasks[0].TaskId.Value = "changed"
	if tasks[1].GetResources()[0].GetScalar().GetValue() != 1 || tasks[1].GetTaskId().GetValue() != "task-1" || len(tasks[1].GetResources()) != 2 {
		t.Fatalf("changing the first task changed the second: %v", tasks[1])
	}
}

// An UPDATE_AGENT is decoded by the fast path: fewer allocations than
// protobuf's.
func TestUnmarshalAgentMessageUpdateAgentAllocations(t *testing.T) {
	b := mustMarshal(t, updateAgent())
	plain := testing.AllocsPerRun(20, func() {
		if err := proto.Unmarshal(b, &AgentMessage{}); err != nil {
			t.Fatal(err)
		}
	})
	fast := testing.AllocsPerRun(20, func() {
		if err := UnmarshalAgentMessage(b, &AgentMessage{}); err != nil {
			t.Fatal(err)
		}
	})
	if fast >= plain {
		t.Errorf("decoding an UPDATE_AGENT: %v allocations, protobuf %v; want fewer", fast, plain)
	}
	t.Logf("decoding an UPDATE_AGENT: %v allocations, protobuf %v", fast, plain)
}

// A REREGISTER's tasks cost a few allocations, not dozens each.
func TestUnmarshalAgentMessageAllocations(t *testing.T) {
	b := mustMarshal(t, reregister(10, false))
	plain := testing.AllocsPerRun(20, func() {
		if err := proto.Unmarshal(b, &AgentMessage{}); err != nil {
			t.Fatal(err)
		}
	})
	fast := testing.AllocsPerRun(20, func() {
		if err := UnmarshalAgentMessage(b, &AgentMessage{}); err != nil {
			t.Fatal(err)
		}
	})
	if fast > plain/3 {
		t.Errorf("decoding a REREGISTER of 10 tasks: %v allocations, protobuf %v; want at most a third", fast, plain)
	}
	t.Logf("decoding a REREGISTER of 10 tasks: %v allocations, protobuf %v", fast, plain)

	// A REGISTER: the AgentInfo, its resources and their ranges.
	reg := reregister(0, false).Register
	reg.Frameworks = nil
	b = mustMarshal(t, &AgentMessage{Type: AgentMessage_REGISTER.Enum(), Register: reg})
	plain = testing.AllocsPerRun(20, func() {
		if err := proto.Unmarshal(b, &AgentMessage{}); err != nil {
			t.Fatal(err)
		}
	})
	fast = testing.AllocsPerRun(20, func() {
		if err := UnmarshalAgentMessage(b, &AgentMessage{}); err != nil {
			t.Fatal(err)
		}
	})
	if fast > plain/2 {
		t.Errorf("decoding a REGISTER: %v allocations, protobuf %v; want at most half", fast, plain)
	}
	t.Logf("decoding a REGISTER: %v allocations, protobuf %v", fast, plain)
}

func FuzzUnmarshalAgentMessage(f *testing.F) {
	f.Add(mustMarshal(f, reregister(2, false)))
	f.Add(mustMarshal(f, reregister(2, true)))
	f.Add(mustMarshal(f, &AgentMessage{Type: AgentMessage_PONG.Enum()}))
	f.Add(mustMarshal(f, updateAgent()))
	f.Fuzz(func(t *testing.T, b []byte) {
		sameDecoding(t, "fuzzed", b)
	})
}

// BenchmarkUnmarshalAgentMessage decodes a REREGISTER of 10 tasks, with
// protobuf and with UnmarshalAgentMessage.
func BenchmarkUnmarshalAgentMessage(b *testing.B) {
	body := mustMarshal(b, reregister(10, false))
	for _, c := range []struct {
		name      string
		unmarshal func([]byte, *AgentMessage) error
	}{
		{"protobuf", func(b []byte, m *AgentMessage) error { return proto.Unmarshal(b, m) }},
		{"agentproto", UnmarshalAgentMessage},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if err := c.unmarshal(body, &AgentMessage{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
