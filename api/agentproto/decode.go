package agentproto

import (
	"math"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// UnmarshalAgentMessage decodes b into m as proto.Unmarshal does, with the
// same result and the same errors, but decodes the tasks of a REGISTER or
// REREGISTER with far fewer allocations: a master that takes back ten
// thousand agents after a failover decodes a hundred thousand tasks at
// once, and protobuf's decoder allocates every message, every string and
// every pointer to a scalar on its own (about forty allocations for a task
// with two resources). Here a message's strings are copied into a few
// buffers, and its tasks, their ids and resources come from a few arrays
// (so they are collected together: one task kept keeps its message's).
//
// An UPDATE_AGENT (the oversubscribed resources every agent sends on
// registering and whenever its estimate changes) is decoded here too, its
// resources as a task's are.
//
// The agent's AgentInfo (hostname, port, id, resources) and the tasks'
// common fields are decoded here (ids, name, state, resources of a scalar,
// ranges, a role or revocable, the update state and uuid, the user); an
// AgentInfo or a task with any other field (attributes, statuses, labels,
// a container, ...) is decoded by protobuf, as is the rest of the message
// (the frameworks, the executors), and any message this does not
// know field for field (another type, an unknown field, a field twice, a
// required field missing) is decoded by protobuf from the start.
func UnmarshalAgentMessage(b []byte, m *AgentMessage) error {
	proto.Reset(m)
	if decodeAgentMessage(b, m) {
		return nil
	}
	proto.Reset(m)
	return proto.Unmarshal(b, m)
}

// decodeAgentMessage decodes a message holding a type and a register, or a
// type and an update_agent, or reports false.
func decodeAgentMessage(b []byte, m *AgentMessage) bool {
	var reg, upd []byte
	var typ *AgentMessage_Type
	for len(b) > 0 {
		num, wt, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		switch {
		case num == 1 && wt == protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return false
			}
			b = b[n:]
			t := AgentMessage_Type(int32(v))
			if _, ok := AgentMessage_Type_name[int32(t)]; !ok {
				return false // an unknown enum value is an unknown field
			}
			typ = &t
		case num == 2 && wt == protowire.BytesType && reg == nil:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return false
			}
			b = b[n:]
			reg = v
			if reg == nil {
				reg = []byte{}
			}
		case num == 7 && wt == protowire.BytesType && upd == nil:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return false
			}
			b = b[n:]
			upd = v
			if upd == nil {
				upd = []byte{}
			}
		default:
			return false
		}
	}
	if upd != nil {
		if reg != nil {
			return false
		}
		u := &UpdateAgent{}
		if !(&decoder{}).updateAgent(upd, u) {
			return false
		}
		m.Type, m.UpdateAgent = typ, u
		return true
	}
	if reg == nil {
		return false
	}
	d := &decoder{}
	r := &AgentMessage_Register{}
	if !d.register(reg, r) {
		return false
	}
	m.Type, m.Register = typ, r
	return true
}

// slab hands out pointers to the elements of arrays it allocates a few at
// a time.
type slab[T any] struct{ s []T }

func (a *slab[T]) next(hint int) *T {
	if len(a.s) == cap(a.s) {
		a.s = make([]T, 0, max(hint, 4))
	}
	a.s = a.s[:len(a.s)+1]
	return &a.s[len(a.s)-1]
}

// decoder decodes one Register.
type decoder struct {
	// text holds the bytes of the strings decoded, which are slices of it
	// (it is only ever appended to).
	text []byte
	// hint is how many of each thing to allocate at once (the tasks).
	hint int

	tasks      slab[mesos.Task]
	taskIDs    slab[mesos.TaskID]
	fwIDs      slab[mesos.FrameworkID]
	agentIDs   slab[mesos.AgentID]
	execIDs    slab[mesos.ExecutorID]
	resources  slab[mesos.Resource]
	scalars    slab[mesos.Value_Scalar]
	allocs     slab[mesos.Resource_AllocationInfo]
	strs       slab[string]
	states     slab[mesos.TaskState]
	types      slab[mesos.Value_Type]
	floats     slab[float64]
	resPtrs    []*mesos.Resource
	taskPtrs   []*mesos.Task
	taskBodies [][]byte
}

// textChunk is how many bytes of strings decoder.text holds at least.
const textChunk = 512

// string is v copied, as a string.
func (d *decoder) string(v []byte) *string {
	s := d.strs.next(4 * d.hint)
	if len(v) == 0 {
		*s = ""
		return s
	}
	if cap(d.text)-len(d.text) < len(v) {
		d.text = make([]byte, 0, max(len(v), textChunk))
	}
	start := len(d.text)
	d.text = append(d.text, v...)
	// The bytes are never written again: the string may be made of them.
	*s = unsafe.String(&d.text[start], len(v))
	return s
}

func (d *decoder) register(b []byte, r *AgentMessage_Register) bool {
	for len(b) > 0 {
		num, wt, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		if num == 7 && wt == protowire.VarintType {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return false
			}
			b = b[n:]
			r.Restarted = proto.Bool(protowire.DecodeBool(v))
			continue
		}
		if wt != protowire.BytesType {
			return false
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		switch num {
		case 1:
			if r.AgentInfo != nil {
				return false // a second one merges into the first
			}
			r.AgentInfo = &mesos.AgentInfo{}
			if !d.agentInfo(v, r.AgentInfo) {
				proto.Reset(r.AgentInfo)
				if proto.Unmarshal(v, r.AgentInfo) != nil {
					return false
				}
			}
		case 2:
			r.Version = d.string(v)
		case 3:
			d.taskBodies = append(d.taskBodies, v)
		case 4:
			e := &ExecutorRecord{}
			if proto.Unmarshal(v, e) != nil {
				return false
			}
			r.Executors = append(r.Executors, e)
		case 5:
			fi := &mesos.FrameworkInfo{}
			if proto.Unmarshal(v, fi) != nil {
				return false
			}
			r.Frameworks = append(r.Frameworks, fi)
		case 6:
			r.Endpoint = d.string(v)
		default:
			return false
		}
	}
	if r.AgentInfo == nil {
		return false // required: protobuf says so
	}
	if len(d.taskBodies) == 0 {
		return true
	}
	d.hint = len(d.taskBodies)
	d.taskPtrs = make([]*mesos.Task, len(d.taskBodies))
	for i, tb := range d.taskBodies {
		t := d.tasks.next(d.hint)
		if !d.task(tb, t) {
			// Protobuf decodes this one, and reports its errors.
			proto.Reset(t)
			if proto.Unmarshal(tb, t) != nil {
				return false
			}
		}
		d.taskPtrs[i] = t
	}
	r.Tasks = d.taskPtrs
	return true
}

// agentInfo decodes an AgentInfo of a hostname, a port, an id and
// resources (of scalars or ranges), or reports false: every agent sends one
// when it registers, and protobuf spends about thirty allocations on one
// with four resources.
func (d *decoder) agentInfo(b []byte, ai *mesos.AgentInfo) bool {
	for len(b) > 0 {
		num, wt, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		if num == 8 && wt == protowire.VarintType {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return false
			}
			b = b[n:]
			ai.Port = proto.Int32(int32(v))
			continue
		}
		if wt != protowire.BytesType {
			return false
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		switch num {
		case 1:
			ai.Hostname = d.string(v)
		case 3:
			r := d.resources.next(4)
			if !d.resource(v, r) {
				return false
			}
			ai.Resources = append(ai.Resources, r)
		case 6:
			if ai.Id != nil {
				return false
			}
			ai.Id = d.agentIDs.next(1)
			if ai.Id.Value = d.id(v); ai.Id.Value == nil {
				return false
			}
		default:
			return false
		}
	}
	return ai.Hostname != nil // required
}

// ranges decodes a Value.Ranges, or reports false. Its ranges and their
// bounds come from three arrays.
func (d *decoder) ranges(b []byte, rs *mesos.Value_Ranges) bool {
	k := 0
	for rest := b; len(rest) > 0; k++ {
		_, _, n := protowire.ConsumeField(rest)
		if n < 0 {
			return false
		}
		rest = rest[n:]
	}
	all := make([]mesos.Value_Range, k)
	bounds := make([]uint64, 2*k)
	rs.Range = make([]*mesos.Value_Range, 0, k)
	for i := 0; len(b) > 0; i++ {
		num, wt, n := protowire.ConsumeTag(b)
		if n < 0 || num != 1 || wt != protowire.BytesType {
			return false
		}
		b = b[n:]
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		r := &all[i]
		for len(v) > 0 {
			num, wt, n := protowire.ConsumeTag(v)
			if n < 0 || (num != 1 && num != 2) || wt != protowire.VarintType {
				return false
			}
			v = v[n:]
			x, n := protowire.ConsumeVarint(v)
			if n < 0 {
				return false
			}
			v = v[n:]
			if num == 1 {
				bounds[2*i] = x
				r.Begin = &bounds[2*i]
			} else {
				bounds[2*i+1] = x
				r.End = &bounds[2*i+1]
			}
		}
		if r.Begin == nil || r.End == nil {
			return false // required
		}
		rs.Range = append(rs.Range, r)
	}
	return true
}

// updateAgent decodes an UpdateAgent whose resources are all of the
// kinds resource knows, or reports false.
func (d *decoder) updateAgent(b []byte, u *UpdateAgent) bool {
	seenFlag := false
	for len(b) > 0 {
		num, wt, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		switch {
		case num == 1 && wt == protowire.VarintType && !seenFlag:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return false
			}
			b = b[n:]
			seenFlag = true
			u.UpdateOversubscribedResources = proto.Bool(protowire.DecodeBool(v))
		case num == 2 && wt == protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return false
			}
			b = b[n:]
			r := d.resources.next(4)
			if !d.resource(v, r) {
				return false
			}
			u.OversubscribedResources = append(u.OversubscribedResources, r)
		default:
			return false
		}
	}
	return true
}

// task decodes a task's common fields, or reports false.
func (d *decoder) task(b []byte, t *mesos.Task) bool {
	var local [4]*mesos.Resource
	res := local[:0]
	for len(b) > 0 {
		num, wt, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		if wt == protowire.VarintType {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return false
			}
			b = b[n:]
			s := mesos.TaskState(int32(v))
			if _, ok := mesos.TaskState_name[int32(s)]; !ok {
				return false
			}
			switch num {
			case 6:
				t.State = d.states.next(d.hint)
				*t.State = s
			case 9:
				t.StatusUpdateState = d.states.next(d.hint)
				*t.StatusUpdateState = s
			default:
				return false
			}
			continue
		}
		if wt != protowire.BytesType {
			return false
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		switch num {
		case 1:
			t.Name = d.string(v)
		case 2:
			if t.TaskId != nil {
				return false
			}
			t.TaskId = d.taskIDs.next(d.hint)
			if t.TaskId.Value = d.id(v); t.TaskId.Value == nil {
				return false
			}
		case 3:
			if t.FrameworkId != nil {
				return false
			}
			t.FrameworkId = d.fwIDs.next(d.hint)
			if t.FrameworkId.Value = d.id(v); t.FrameworkId.Value == nil {
				return false
			}
		case 4:
			if t.ExecutorId != nil {
				return false
			}
			t.ExecutorId = d.execIDs.next(d.hint)
			if t.ExecutorId.Value = d.id(v); t.ExecutorId.Value == nil {
				return false
			}
		case 5:
			if t.AgentId != nil {
				return false
			}
			t.AgentId = d.agentIDs.next(d.hint)
			if t.AgentId.Value = d.id(v); t.AgentId.Value == nil {
				return false
			}
		case 7:
			r := d.resources.next(2 * d.hint)
			if !d.resource(v, r) {
				proto.Reset(r)
				if proto.Unmarshal(v, r) != nil {
					return false
				}
			}
			res = append(res, r)
		case 8:
			st := &mesos.TaskStatus{}
			if proto.Unmarshal(v, st) != nil {
				return false
			}
			t.Statuses = append(t.Statuses, st)
		case 10:
			t.StatusUpdateUuid = append(make([]byte, 0, len(v)), v...)
		case 14:
			t.User = d.string(v)
		default:
			return false
		}
	}
	if len(res) > 0 {
		// The task's resources, in one slice of a shared array.
		if cap(d.resPtrs)-len(d.resPtrs) < len(res) {
			d.resPtrs = make([]*mesos.Resource, 0, max(2*d.hint, len(res)))
		}
		start := len(d.resPtrs)
		d.resPtrs = append(d.resPtrs, res...)
		t.Resources = d.resPtrs[start:len(d.resPtrs):len(d.resPtrs)]
	}
	// Required: protobuf reports them missing.
	return t.Name != nil && t.TaskId != nil && t.FrameworkId != nil && t.AgentId != nil && t.State != nil
}

// id decodes an id message (TaskID, FrameworkID, ...: a required string
// value, field 1), or returns nil.
func (d *decoder) id(b []byte) *string {
	var value *string
	for len(b) > 0 {
		num, wt, n := protowire.ConsumeTag(b)
		if n < 0 || num != 1 || wt != protowire.BytesType {
			return nil
		}
		b = b[n:]
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return nil
		}
		b = b[n:]
		value = d.string(v)
	}
	return value
}

// resource decodes a resource of a name, a type, a scalar or ranges, a
// role, an allocation role and an empty revocable, or reports false.
func (d *decoder) resource(b []byte, r *mesos.Resource) bool {
	for len(b) > 0 {
		num, wt, n := protowire.ConsumeTag(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		if num == 2 && wt == protowire.VarintType {
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				return false
			}
			b = b[n:]
			t := mesos.Value_Type(int32(v))
			if _, ok := mesos.Value_Type_name[int32(t)]; !ok {
				return false
			}
			r.Type = d.types.next(2 * d.hint)
			*r.Type = t
			continue
		}
		if wt != protowire.BytesType {
			return false
		}
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		switch num {
		case 1:
			r.Name = d.string(v)
		case 3:
			if r.Scalar != nil {
				return false
			}
			r.Scalar = d.scalars.next(2 * d.hint)
			if !d.scalar(v, r.Scalar) {
				return false
			}
		case 4:
			if r.Ranges != nil {
				return false
			}
			r.Ranges = &mesos.Value_Ranges{}
			if !d.ranges(v, r.Ranges) {
				return false
			}
		case 6:
			r.Role = d.string(v)
		case 9:
			if r.Revocable != nil || len(v) != 0 {
				return false // a second one merges; fields are unknown here
			}
			r.Revocable = &mesos.Resource_RevocableInfo{}
		case 11:
			if r.AllocationInfo != nil {
				return false
			}
			r.AllocationInfo = d.allocs.next(2 * d.hint)
			if !d.allocation(v, r.AllocationInfo) {
				return false
			}
		default:
			return false
		}
	}
	return r.Name != nil && r.Type != nil
}

func (d *decoder) scalar(b []byte, s *mesos.Value_Scalar) bool {
	for len(b) > 0 {
		num, wt, n := protowire.ConsumeTag(b)
		if n < 0 || num != 1 || wt != protowire.Fixed64Type {
			return false
		}
		b = b[n:]
		v, n := protowire.ConsumeFixed64(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		s.Value = d.floats.next(2 * d.hint)
		*s.Value = math.Float64frombits(v)
	}
	return s.Value != nil
}

func (d *decoder) allocation(b []byte, a *mesos.Resource_AllocationInfo) bool {
	for len(b) > 0 {
		num, wt, n := protowire.ConsumeTag(b)
		if n < 0 || num != 1 || wt != protowire.BytesType {
			return false
		}
		b = b[n:]
		v, n := protowire.ConsumeBytes(b)
		if n < 0 {
			return false
		}
		b = b[n:]
		a.Role = d.string(v)
	}
	return true
}
