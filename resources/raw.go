package resources

import (
	"errors"
	"fmt"
	"math"
)

// rawResource is a Resource message as it arrives (from JSON or protobuf),
// with field presence, before validation. Both FromProto and the JSON form of
// --resources go through it so that they accept and reject the same things.
type rawResource struct {
	name    *string
	typ     *ValueType
	typName string // the type as given, for errors about unknown types

	hasScalar bool
	scalar    float64
	hasRanges bool
	ranges    []Range
	hasSet    bool
	set       []string

	role         *string // deprecated Resource.role
	reservation  *rawReservation
	reservations []rawReservation

	allocationRole *string
	disk           *DiskInfo
	revocable      bool
	shared         bool
	providerID     string
}

type rawReservation struct {
	typ       *ReservationType
	typName   string
	role      *string
	principal *string
	labels    *string // canonical
}

// toResource validates raw as Mesos's Resources::validate does and converts
// it to the post-reservation-refinement form. defaultRole applies when
// neither role nor reservations is set.
func (raw *rawResource) toResource(defaultRole string) (Resource, error) {
	var r Resource
	if raw.name == nil {
		return r, errors.New("missing required field name")
	}
	if *raw.name == "" {
		return r, errors.New("empty resource name")
	}
	r.Name = *raw.name
	if raw.typ == nil {
		if raw.typName != "" {
			return r, fmt.Errorf("unknown resource type %q", raw.typName)
		}
		return r, errors.New("missing required field type")
	}
	r.Type = *raw.typ
	switch r.Type {
	case TypeScalar:
		if !raw.hasScalar || raw.hasRanges || raw.hasSet {
			return r, errors.New("a SCALAR resource must have a scalar value and no ranges or set")
		}
		s, err := scalarFromValidFloat(raw.scalar)
		if err != nil {
			return r, fmt.Errorf("scalar value %v %w", raw.scalar, err)
		}
		r.Scalar = s
	case TypeRanges:
		if raw.hasScalar || !raw.hasRanges || raw.hasSet {
			return r, errors.New("a RANGES resource must have ranges and no scalar or set")
		}
		for i, x := range raw.ranges {
			if x.Begin > x.End {
				return r, fmt.Errorf("range %d-%d has begin > end", x.Begin, x.End)
			}
			for _, y := range raw.ranges[i+1:] {
				if x.Begin <= y.End && y.Begin <= x.End {
					return r, fmt.Errorf("ranges %d-%d and %d-%d overlap", x.Begin, x.End, y.Begin, y.End)
				}
			}
		}
		r.Ranges = NewRanges(raw.ranges...)
	case TypeSet:
		if raw.hasScalar || raw.hasRanges || !raw.hasSet {
			return r, errors.New("a SET resource must have a set and no scalar or ranges")
		}
		r.Set = NewSet(raw.set...)
		if len(r.Set) != len(raw.set) {
			return r, errors.New("set has duplicate items")
		}
	default:
		return r, fmt.Errorf("unsupported resource type %s", r.Type)
	}

	stack, err := raw.reservationStack(defaultRole)
	if err != nil {
		return r, err
	}
	r.Reservations = stack
	if raw.allocationRole != nil {
		r.AllocationRole = *raw.allocationRole
		if err := ValidateRole(r.AllocationRole); err != nil {
			return r, fmt.Errorf("invalid allocation role: %w", err)
		}
	}
	r.Disk = raw.disk
	r.Revocable = raw.revocable
	r.Shared = raw.shared
	r.ProviderID = raw.providerID
	// The remaining checks (disk, shared) are those of Resource.Validate.
	if err := r.Validate(); err != nil {
		return r, err
	}
	return r, nil
}

func (raw *rawResource) reservationStack(defaultRole string) ([]Reservation, error) {
	if len(raw.reservations) == 0 {
		// The pre-reservation-refinement format: role and reservation.
		role := defaultRole
		if raw.role != nil {
			role = *raw.role
		}
		if err := ValidateRole(role); err != nil {
			return nil, fmt.Errorf("invalid role: %w", err)
		}
		rv := raw.reservation
		if rv != nil {
			if rv.typ != nil || rv.typName != "" {
				return nil, errors.New("reservation.type must not be set in the deprecated reservation field")
			}
			if rv.role != nil {
				return nil, errors.New("reservation.role must not be set in the deprecated reservation field")
			}
			if role == "*" {
				return nil, errors.New(`invalid reservation: role "*" cannot be dynamically reserved`)
			}
		}
		if role == "*" {
			return nil, nil
		}
		out := Reservation{Type: ReservationStatic, Role: role}
		if rv != nil {
			out.Type = ReservationDynamic
			out.Principal = deref(rv.principal)
			out.Labels = deref(rv.labels)
		}
		return []Reservation{out}, nil
	}

	stack := make([]Reservation, len(raw.reservations))
	for i, rv := range raw.reservations {
		if rv.typ == nil {
			if rv.typName != "" {
				return nil, fmt.Errorf("invalid reservation: unknown type %q", rv.typName)
			}
			return nil, errors.New("invalid reservation: type must be set")
		}
		if rv.role == nil {
			return nil, errors.New("invalid reservation: role must be set")
		}
		stack[i] = Reservation{Type: *rv.typ, Role: *rv.role, Principal: deref(rv.principal), Labels: deref(rv.labels)}
	}
	if err := validateReservations(stack); err != nil {
		return nil, err
	}
	// The deprecated fields may be set too, if they agree with the stack.
	if len(stack) == 1 {
		top := stack[0]
		if raw.role != nil && *raw.role != top.Role {
			return nil, fmt.Errorf("role %q does not match the role %q in reservations", *raw.role, top.Role)
		}
		switch top.Type {
		case ReservationStatic:
			if raw.reservation != nil {
				return nil, errors.New("the deprecated reservation field must not be set for a STATIC reservation")
			}
		case ReservationDynamic:
			if (raw.role != nil) != (raw.reservation != nil) {
				return nil, errors.New("role and the deprecated reservation field must be both set or both unset for a DYNAMIC reservation")
			}
			if raw.reservation != nil {
				if deref(raw.reservation.principal) != top.Principal {
					return nil, fmt.Errorf("reservation principal %q does not match %q in reservations", deref(raw.reservation.principal), top.Principal)
				}
				if deref(raw.reservation.labels) != top.Labels {
					return nil, errors.New("reservation labels do not match the labels in reservations")
				}
			}
		}
	} else {
		if raw.role != nil {
			return nil, errors.New("role must not be set when there is more than one reservation")
		}
		if raw.reservation != nil {
			return nil, errors.New("the deprecated reservation field must not be set when there is more than one reservation")
		}
	}
	return stack, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func ptr[T any](v T) *T { return &v }

// Guard used by JSON numbers: "Infinity" and "-Infinity" are accepted as
// doubles by Mesos's JSON parser (and then rejected as scalar values).
var (
	posInf = math.Inf(1)
	negInf = math.Inf(-1)
)
