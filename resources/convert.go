package resources

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/v1/mesos"
)

// FromProto validates pbs as Mesos validates Resource messages, converts them
// to the post-refinement form of Resource (the reservations stack) and adds
// them up into normalized Resources. It reads every Format: reservations
// written with the pre-refinement role and reservation fields are upgraded,
// as Mesos's master upgrades what frameworks and agents send. Empty resources are dropped. An
// invalid resource fails the whole list with a *ParseError naming its index
// and name.
func FromProto(pbs []*mesos.Resource) (Resources, error) {
	out := make(Resources, 0, len(pbs))
	for i, pb := range pbs {
		r, err := ResourceFromProto(pb)
		if err != nil {
			item := "#" + strconv.Itoa(i)
			if pb != nil && pb.Name != nil {
				item += " (" + pb.GetName() + ")"
			}
			return nil, &ParseError{What: "resource", Item: item, Reason: err.Error()}
		}
		out.addOne(&r)
	}
	return out, nil
}

// ResourceFromProto validates and converts one Resource message.
func ResourceFromProto(pb *mesos.Resource) (Resource, error) {
	if pb == nil {
		return Resource{}, errors.New("nil resource")
	}
	raw := rawResource{name: pb.Name, role: pb.Role}
	if pb.Type != nil {
		t := ValueType(*pb.Type)
		if *pb.Type < 0 || *pb.Type > math.MaxUint8 {
			t = math.MaxUint8
		}
		raw.typ = &t
	}
	if pb.Scalar != nil {
		if pb.Scalar.Value == nil {
			return Resource{}, errors.New("missing required field scalar.value")
		}
		raw.hasScalar, raw.scalar = true, *pb.Scalar.Value
	}
	if pb.Ranges != nil {
		raw.hasRanges = true
		raw.ranges = make([]Range, 0, len(pb.Ranges.Range))
		for _, x := range pb.Ranges.Range {
			if x == nil || x.Begin == nil || x.End == nil {
				return Resource{}, errors.New("missing required field range.begin or range.end")
			}
			raw.ranges = append(raw.ranges, Range{*x.Begin, *x.End})
		}
	}
	if pb.Set != nil {
		raw.hasSet, raw.set = true, pb.Set.Item
	}
	if pb.Reservation != nil {
		rv, err := reservationFromProto(pb.Reservation)
		if err != nil {
			return Resource{}, err
		}
		raw.reservation = &rv
	}
	for _, x := range pb.Reservations {
		rv, err := reservationFromProto(x)
		if err != nil {
			return Resource{}, err
		}
		raw.reservations = append(raw.reservations, rv)
	}
	if pb.AllocationInfo != nil {
		raw.allocationRole = pb.AllocationInfo.Role
	}
	if pb.Disk != nil {
		d, err := DiskFromProto(pb.Disk)
		if err != nil {
			return Resource{}, err
		}
		raw.disk = d
	}
	raw.revocable = pb.Revocable != nil
	raw.shared = pb.Shared != nil
	if pb.ProviderId != nil {
		if pb.ProviderId.Value == nil {
			return Resource{}, errors.New("missing required field provider_id.value")
		}
		raw.providerID = *pb.ProviderId.Value
	}
	return raw.toResource("*")
}

func reservationFromProto(pb *mesos.Resource_ReservationInfo) (rawReservation, error) {
	if pb == nil {
		return rawReservation{}, errors.New("nil reservation")
	}
	rv := rawReservation{role: pb.Role, principal: pb.Principal}
	if pb.Type != nil {
		t := ReservationType(*pb.Type)
		if *pb.Type < 0 || *pb.Type > math.MaxUint8 {
			t = math.MaxUint8
		}
		rv.typ = &t
	}
	if pb.Labels != nil {
		s, err := labelsFromProto(pb.Labels)
		if err != nil {
			return rv, err
		}
		rv.labels = &s
	}
	return rv, nil
}

func labelsFromProto(pb *mesos.Labels) (string, error) {
	ls := make([]Label, 0, len(pb.Labels))
	for _, l := range pb.Labels {
		if l == nil || l.Key == nil {
			return "", errors.New("missing required field label.key")
		}
		ls = append(ls, Label{Key: *l.Key, Value: l.GetValue()})
	}
	return EncodeLabels(ls), nil
}

func labelsToProto(s string) *mesos.Labels {
	if s == "" {
		return nil
	}
	ls, err := DecodeLabels(s)
	if err != nil {
		// Not made by EncodeLabels: keep it whole rather than lose it.
		ls = []Label{{Key: s}}
	}
	pb := &mesos.Labels{Labels: make([]*mesos.Label, len(ls))}
	for i, l := range ls {
		pb.Labels[i] = &mesos.Label{Key: proto.String(l.Key)}
		if l.Value != "" {
			pb.Labels[i].Value = proto.String(l.Value)
		}
	}
	return pb
}

// DiskFromProto converts a DiskInfo, keeping pb in DiskInfo.Proto.
func DiskFromProto(pb *mesos.Resource_DiskInfo) (*DiskInfo, error) {
	d := &DiskInfo{Proto: pb}
	if p := pb.Persistence; p != nil {
		if p.GetId() == "" {
			return nil, errors.New("disk.persistence.id must be set")
		}
		d.PersistenceID, d.PersistencePrincipal = p.GetId(), p.GetPrincipal()
	}
	if s := pb.Source; s != nil {
		if s.Type == nil {
			return nil, errors.New("missing required field disk.source.type")
		}
		src := &DiskSource{
			Type:    DiskSourceType(min(max(*s.Type, 0), math.MaxUint8)),
			Vendor:  s.GetVendor(),
			ID:      s.GetId(),
			Profile: s.GetProfile(),
		}
		switch {
		case s.Path != nil && s.Mount != nil:
			return nil, errors.New("disk source has both path and mount")
		case s.Path != nil:
			if src.Type != DiskSourcePath {
				return nil, fmt.Errorf("path should not be set for %s disk source", src.Type)
			}
			src.Root = s.Path.GetRoot()
		case s.Mount != nil:
			if src.Type != DiskSourceMount {
				return nil, fmt.Errorf("mount should not be set for %s disk source", src.Type)
			}
			src.Root = s.Mount.GetRoot()
		}
		if s.Metadata != nil {
			m, err := labelsFromProto(s.Metadata)
			if err != nil {
				return nil, err
			}
			src.Metadata = m
		}
		d.Source = src
	}
	return d, nil
}

// DiskToProto converts d. It starts from a copy of d.Proto when that is a
// *mesos.Resource_DiskInfo, so the volume is kept.
func DiskToProto(d *DiskInfo) *mesos.Resource_DiskInfo {
	if d == nil {
		return nil
	}
	var pb *mesos.Resource_DiskInfo
	var orig *mesos.Resource_DiskInfo
	if p, ok := d.Proto.(*mesos.Resource_DiskInfo); ok && p != nil {
		orig = p
		pb = proto.Clone(p).(*mesos.Resource_DiskInfo)
	} else {
		pb = &mesos.Resource_DiskInfo{}
	}
	pb.Persistence = nil
	if d.PersistenceID != "" {
		pb.Persistence = &mesos.Resource_DiskInfo_Persistence{Id: proto.String(d.PersistenceID)}
		if d.PersistencePrincipal != "" {
			pb.Persistence.Principal = proto.String(d.PersistencePrincipal)
		}
	}
	pb.Source = nil
	if s := d.Source; s != nil {
		// Keep the original message when it says the same thing (it may
		// carry presence details, e.g. an empty mount{}).
		if orig != nil && orig.Source != nil {
			if same, err := DiskFromProto(&mesos.Resource_DiskInfo{Source: orig.Source}); err == nil && *same.Source == *s {
				pb.Source = proto.Clone(orig.Source).(*mesos.Resource_DiskInfo_Source)
				return pb
			}
		}
		src := &mesos.Resource_DiskInfo_Source{Type: mesos.Resource_DiskInfo_Source_Type(s.Type).Enum()}
		switch s.Type {
		case DiskSourcePath:
			src.Path = &mesos.Resource_DiskInfo_Source_Path{}
			if s.Root != "" {
				src.Path.Root = proto.String(s.Root)
			}
		case DiskSourceMount:
			src.Mount = &mesos.Resource_DiskInfo_Source_Mount{}
			if s.Root != "" {
				src.Mount.Root = proto.String(s.Root)
			}
		}
		if s.Vendor != "" {
			src.Vendor = proto.String(s.Vendor)
		}
		if s.ID != "" {
			src.Id = proto.String(s.ID)
		}
		if s.Profile != "" {
			src.Profile = proto.String(s.Profile)
		}
		src.Metadata = labelsToProto(s.Metadata)
		pb.Source = src
	}
	return pb
}

// Format is how a Resource message writes its reservations. Mesos 1.4
// (reservation refinement) replaced the role and reservation fields with the
// reservations stack; frameworks say with the RESERVATION_REFINEMENT
// capability which form they understand, and the endpoints show both.
type Format uint8

const (
	// EndpointFormat writes the reservations stack and, where they can say
	// the same, the deprecated fields as well: role ("*" when unreserved,
	// the role of a single reservation) and, for a single DYNAMIC
	// reservation, reservation. It is the form of Mesos's endpoints.
	EndpointFormat Format = iota
	// PostRefinementFormat writes the reservations stack only; role and
	// reservation stay unset. It is the form for frameworks with the
	// RESERVATION_REFINEMENT capability.
	PostRefinementFormat
	// PreRefinementFormat writes role ("*" when unreserved) and, for a
	// DYNAMIC reservation, reservation (principal and labels); never the
	// reservations stack. It is the form for frameworks without
	// RESERVATION_REFINEMENT. A refined stack (more than one reservation)
	// cannot be written in it.
	PreRefinementFormat
)

// String names the format as Mesos's ResourceFormat enum does.
func (f Format) String() string {
	switch f {
	case EndpointFormat:
		return "ENDPOINT"
	case PostRefinementFormat:
		return "POST_RESERVATION_REFINEMENT"
	case PreRefinementFormat:
		return "PRE_RESERVATION_REFINEMENT"
	}
	return "Format(" + strconv.Itoa(int(f)) + ")"
}

// ToProto converts rs to Resource messages in EndpointFormat, with
// allocation_info when AllocationRole is set. The result passes FromProto's
// validation.
func ToProto(rs Resources) []*mesos.Resource {
	out := make([]*mesos.Resource, len(rs))
	for i := range rs {
		out[i] = ResourceToProto(&rs[i])
	}
	return out
}

// ResourceToProto converts one resource as ToProto does.
func ResourceToProto(r *Resource) *mesos.Resource {
	pb, _ := ResourceToProtoFormat(r, EndpointFormat) // cannot fail
	return pb
}

// ToProtoFormat converts rs to Resource messages whose reservations are
// written in format f, with allocation_info when AllocationRole is set (use
// Unallocated first to leave it out). FromProto reads every format back to
// the same Resources. It fails only when f is PreRefinementFormat and a
// resource has a refined reservation.
func ToProtoFormat(rs Resources, f Format) ([]*mesos.Resource, error) {
	out := make([]*mesos.Resource, len(rs))
	for i := range rs {
		pb, err := ResourceToProtoFormat(&rs[i], f)
		if err != nil {
			return nil, err
		}
		out[i] = pb
	}
	return out, nil
}

// ResourceToProtoFormat converts one resource as ToProtoFormat does.
func ResourceToProtoFormat(r *Resource, f Format) (*mesos.Resource, error) {
	pb := &mesos.Resource{
		Name: proto.String(r.Name),
		Type: mesos.Value_Type(r.Type).Enum(),
	}
	switch r.Type {
	case TypeScalar:
		pb.Scalar = &mesos.Value_Scalar{Value: proto.Float64(r.Scalar.Float64())}
	case TypeRanges:
		pb.Ranges = rangesToProto(r.Ranges)
	case TypeSet:
		pb.Set = &mesos.Value_Set{Item: append([]string(nil), r.Set...)}
	}
	switch f {
	case EndpointFormat:
		setDeprecatedReservation(pb, r.Reservations)
		pb.Reservations = reservationsToProto(r.Reservations)
	case PostRefinementFormat:
		pb.Reservations = reservationsToProto(r.Reservations)
	case PreRefinementFormat:
		if len(r.Reservations) > 1 {
			return nil, fmt.Errorf("resource %s has a refined reservation %v, which the pre-refinement format cannot express", r.Name, r.Reservations)
		}
		setDeprecatedReservation(pb, r.Reservations)
	default:
		return nil, fmt.Errorf("unknown resource format %s", f)
	}
	if r.AllocationRole != "" {
		pb.AllocationInfo = &mesos.Resource_AllocationInfo{Role: proto.String(r.AllocationRole)}
	}
	pb.Disk = DiskToProto(r.Disk)
	if r.Revocable {
		pb.Revocable = &mesos.Resource_RevocableInfo{}
	}
	if r.Shared {
		pb.Shared = &mesos.Resource_SharedInfo{}
	}
	if r.ProviderID != "" {
		pb.ProviderId = &mesos.ResourceProviderID{Value: proto.String(r.ProviderID)}
	}
	return pb, nil
}

// setDeprecatedReservation fills role and reservation, the pre-refinement
// fields, when the stack can be said with them (no more than one entry).
// A DYNAMIC reservation always gets a reservation message, empty when it
// has neither principal nor labels.
func setDeprecatedReservation(pb *mesos.Resource, stack []Reservation) {
	switch len(stack) {
	case 0:
		pb.Role = proto.String("*")
	case 1:
		rv := stack[0]
		pb.Role = proto.String(rv.Role)
		if rv.Type == ReservationDynamic {
			pb.Reservation = &mesos.Resource_ReservationInfo{Labels: labelsToProto(rv.Labels)}
			if rv.Principal != "" {
				pb.Reservation.Principal = proto.String(rv.Principal)
			}
		}
	}
}

func reservationsToProto(stack []Reservation) []*mesos.Resource_ReservationInfo {
	if len(stack) == 0 {
		return nil
	}
	out := make([]*mesos.Resource_ReservationInfo, len(stack))
	for i, rv := range stack {
		x := &mesos.Resource_ReservationInfo{
			Type:   mesos.Resource_ReservationInfo_Type(rv.Type).Enum(),
			Role:   proto.String(rv.Role),
			Labels: labelsToProto(rv.Labels),
		}
		if rv.Principal != "" {
			x.Principal = proto.String(rv.Principal)
		}
		out[i] = x
	}
	return out
}

func rangesToProto(rs Ranges) *mesos.Value_Ranges {
	pb := &mesos.Value_Ranges{Range: make([]*mesos.Value_Range, len(rs))}
	for i, x := range rs {
		pb.Range[i] = &mesos.Value_Range{Begin: proto.Uint64(x.Begin), End: proto.Uint64(x.End)}
	}
	return pb
}

// AttributeFromProto validates and converts an Attribute message: it needs a
// name, a type, and the value of that type (and no other).
func AttributeFromProto(pb *mesos.Attribute) (Attribute, error) {
	var a Attribute
	if pb == nil {
		return a, errors.New("nil attribute")
	}
	if pb.GetName() == "" {
		return a, errors.New("empty attribute name")
	}
	a.Name = pb.GetName()
	if pb.Type == nil {
		return a, fmt.Errorf("attribute %q: missing required field type", a.Name)
	}
	n := 0
	for _, set := range []bool{pb.Scalar != nil, pb.Ranges != nil, pb.Set != nil, pb.Text != nil} {
		if set {
			n++
		}
	}
	want := map[mesos.Value_Type]bool{
		mesos.Value_SCALAR: pb.Scalar != nil,
		mesos.Value_RANGES: pb.Ranges != nil,
		mesos.Value_SET:    pb.Set != nil,
		mesos.Value_TEXT:   pb.Text != nil,
	}
	has, known := want[*pb.Type]
	if !known {
		return a, fmt.Errorf("attribute %q: unsupported type %d", a.Name, *pb.Type)
	}
	a.Type = ValueType(*pb.Type)
	if !has || n != 1 {
		return a, fmt.Errorf("attribute %q: a %s attribute must have exactly the %s value", a.Name, a.Type, a.Type)
	}
	switch a.Type {
	case TypeScalar:
		if pb.Scalar.Value == nil {
			return a, fmt.Errorf("attribute %q: missing required field scalar.value", a.Name)
		}
		a.Scalar = *pb.Scalar.Value
	case TypeRanges:
		rs := make([]Range, 0, len(pb.Ranges.Range))
		for _, x := range pb.Ranges.Range {
			if x == nil || x.Begin == nil || x.End == nil {
				return a, fmt.Errorf("attribute %q: missing required field range.begin or range.end", a.Name)
			}
			if *x.Begin > *x.End {
				return a, fmt.Errorf("attribute %q: range %d-%d has begin > end", a.Name, *x.Begin, *x.End)
			}
			rs = append(rs, Range{*x.Begin, *x.End})
		}
		a.Ranges = NewRanges(rs...)
	case TypeSet:
		a.Set = append([]string(nil), pb.Set.Item...)
	case TypeText:
		if pb.Text.Value == nil {
			return a, fmt.Errorf("attribute %q: missing required field text.value", a.Name)
		}
		a.Text = *pb.Text.Value
	}
	if err := a.Validate(); err != nil {
		return a, err
	}
	return a, nil
}

// AttributeToProto converts a.
func AttributeToProto(a Attribute) *mesos.Attribute {
	pb := &mesos.Attribute{Name: proto.String(a.Name), Type: mesos.Value_Type(a.Type).Enum()}
	switch a.Type {
	case TypeScalar:
		pb.Scalar = &mesos.Value_Scalar{Value: proto.Float64(a.Scalar)}
	case TypeRanges:
		pb.Ranges = rangesToProto(a.Ranges)
	case TypeSet:
		pb.Set = &mesos.Value_Set{Item: append([]string(nil), a.Set...)}
	case TypeText:
		pb.Text = &mesos.Value_Text{Value: proto.String(a.Text)}
	}
	return pb
}

// AttributesFromProto converts a list of Attribute messages.
func AttributesFromProto(pbs []*mesos.Attribute) ([]Attribute, error) {
	out := make([]Attribute, 0, len(pbs))
	for i, pb := range pbs {
		a, err := AttributeFromProto(pb)
		if err != nil {
			return nil, &ParseError{What: "attribute", Item: "#" + strconv.Itoa(i), Reason: err.Error()}
		}
		out = append(out, a)
	}
	return out, nil
}

// AttributesToProto converts a list of attributes.
func AttributesToProto(attrs []Attribute) []*mesos.Attribute {
	out := make([]*mesos.Attribute, len(attrs))
	for i, a := range attrs {
		out[i] = AttributeToProto(a)
	}
	return out
}
