package resources

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ValueType is the type of a resource or attribute value. The numbers are
// those of mesos.v1.Value.Type.
type ValueType uint8

// Value types.
const (
	TypeScalar ValueType = 0
	TypeRanges ValueType = 1
	TypeSet    ValueType = 2
	TypeText   ValueType = 3 // attributes only
)

// String returns the Mesos enum name, e.g. "SCALAR".
func (t ValueType) String() string {
	switch t {
	case TypeScalar:
		return "SCALAR"
	case TypeRanges:
		return "RANGES"
	case TypeSet:
		return "SET"
	case TypeText:
		return "TEXT"
	}
	return "ValueType(" + strconv.Itoa(int(t)) + ")"
}

// ReservationType says how a reservation was made. The numbers are those of
// mesos.v1.Resource.ReservationInfo.Type.
type ReservationType uint8

// Reservation types.
const (
	ReservationUnknown ReservationType = 0 // invalid in a Resource
	ReservationStatic  ReservationType = 1 // from the agent's --resources
	ReservationDynamic ReservationType = 2 // from RESERVE or the operator API
)

// String returns the Mesos enum name, e.g. "STATIC".
func (t ReservationType) String() string {
	switch t {
	case ReservationUnknown:
		return "UNKNOWN"
	case ReservationStatic:
		return "STATIC"
	case ReservationDynamic:
		return "DYNAMIC"
	}
	return "ReservationType(" + strconv.Itoa(int(t)) + ")"
}

// Reservation is one entry of a resource's reservation stack.
type Reservation struct {
	Type      ReservationType
	Role      string
	Principal string // "" when none
	Labels    string // canonical form from EncodeLabels; "" when none
}

// String returns "(TYPE,role[,principal][,labels])".
func (rv Reservation) String() string { return string(rv.appendText(nil)) }

func (rv Reservation) appendText(b []byte) []byte {
	b = append(b, '(')
	b = append(b, rv.Type.String()...)
	b = append(b, ',')
	b = append(b, rv.Role...)
	if rv.Principal != "" || rv.Labels != "" {
		b = append(b, ',')
		b = append(b, rv.Principal...)
	}
	if rv.Labels != "" {
		b = append(b, ",{"...)
		b = append(b, rv.Labels...)
		b = append(b, '}')
	}
	return append(b, ')')
}

// Label is a key and value pair of mesos.v1.Labels. A missing value is "".
type Label struct {
	Key, Value string
}

// EncodeLabels returns the canonical string for a list of labels: the labels
// are sorted (Mesos compares Labels ignoring order), and each is written as
// the Go-quoted key, ':', and the Go-quoted value, separated by ','. Equal
// label lists give equal strings; DecodeLabels reverses it.
func EncodeLabels(labels []Label) string {
	if len(labels) == 0 {
		return ""
	}
	sorted := slices.Clone(labels)
	slices.SortFunc(sorted, func(a, b Label) int {
		if c := strings.Compare(a.Key, b.Key); c != 0 {
			return c
		}
		return strings.Compare(a.Value, b.Value)
	})
	var b []byte
	for i, l := range sorted {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendQuote(b, l.Key)
		b = append(b, ':')
		b = strconv.AppendQuote(b, l.Value)
	}
	return string(b)
}

// DecodeLabels parses a string made by EncodeLabels.
func DecodeLabels(s string) ([]Label, error) {
	var out []Label
	for s != "" {
		if len(out) > 0 {
			if s[0] != ',' {
				return nil, fmt.Errorf("labels: expected ',' at %q", s)
			}
			s = s[1:]
		}
		k, rest, err := unquotePrefix(s)
		if err != nil {
			return nil, err
		}
		if rest == "" || rest[0] != ':' {
			return nil, fmt.Errorf("labels: expected ':' at %q", rest)
		}
		v, rest, err := unquotePrefix(rest[1:])
		if err != nil {
			return nil, err
		}
		out = append(out, Label{Key: k, Value: v})
		s = rest
	}
	return out, nil
}

func unquotePrefix(s string) (value, rest string, err error) {
	q, err := strconv.QuotedPrefix(s)
	if err != nil {
		return "", "", fmt.Errorf("labels: bad quoted string at %q", s)
	}
	v, err := strconv.Unquote(q)
	if err != nil {
		return "", "", fmt.Errorf("labels: bad quoted string at %q", s)
	}
	return v, s[len(q):], nil
}

// DiskSourceType is the type of a disk source. The numbers are those of
// mesos.v1.Resource.DiskInfo.Source.Type.
type DiskSourceType uint8

// Disk source types.
const (
	DiskSourceUnknown DiskSourceType = 0 // invalid
	DiskSourcePath    DiskSourceType = 1
	DiskSourceMount   DiskSourceType = 2
	DiskSourceBlock   DiskSourceType = 3
	DiskSourceRaw     DiskSourceType = 4
)

// String returns the Mesos enum name, e.g. "MOUNT".
func (t DiskSourceType) String() string {
	switch t {
	case DiskSourceUnknown:
		return "UNKNOWN"
	case DiskSourcePath:
		return "PATH"
	case DiskSourceMount:
		return "MOUNT"
	case DiskSourceBlock:
		return "BLOCK"
	case DiskSourceRaw:
		return "RAW"
	}
	return "DiskSourceType(" + strconv.Itoa(int(t)) + ")"
}

// DiskSource describes where a disk resource comes from. All its fields take
// part in the resource's identity.
type DiskSource struct {
	Type     DiskSourceType
	Root     string // path.root for PATH, mount.root for MOUNT
	Vendor   string
	ID       string // the CSI volume id; makes a RAW disk exclusive
	Profile  string
	Metadata string // canonical labels (EncodeLabels)
}

// DiskInfo is the disk-specific part of a "disk" resource. As in Mesos, the
// volume (how a task mounts the disk) and the persistence principal do not
// take part in identity; the persistence id and the source do.
type DiskInfo struct {
	// PersistenceID is the id of a persistent volume; "" when the disk is
	// not one.
	PersistenceID        string
	PersistencePrincipal string
	Source               *DiskSource // nil when none
	// Proto optionally holds the *mesos.Resource_DiskInfo this was made
	// from. ToProto starts from a copy of it, so that the volume survives a
	// round trip, then sets the persistence and source from the fields
	// above. It is never modified.
	Proto any
}

// IsPersistentVolume reports whether d describes a persistent volume.
func (d *DiskInfo) IsPersistentVolume() bool { return d != nil && d.PersistenceID != "" }

// mergeable reports whether two disks with this identity can be added into
// one: persistent volumes, MOUNT and BLOCK disks, and RAW disks with an id are
// indivisible.
func (d *DiskInfo) mergeable() bool {
	if d.PersistenceID != "" {
		return false
	}
	if d.Source == nil {
		return true
	}
	switch d.Source.Type {
	case DiskSourceMount, DiskSourceBlock:
		return false
	case DiskSourceRaw:
		return d.Source.ID == ""
	}
	return true
}

func sameDisk(a, b *DiskInfo) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil || a.PersistenceID != b.PersistenceID {
		return false
	}
	if a.Source == b.Source {
		return true
	}
	return a.Source != nil && b.Source != nil && *a.Source == *b.Source
}

func (d *DiskInfo) appendText(b []byte) []byte {
	if s := d.Source; s != nil {
		b = append(b, s.Type.String()...)
		switch {
		case s.ID != "" || s.Profile != "":
			b = append(b, '(')
			b = append(b, s.Vendor...)
			b = append(b, ',')
			b = append(b, s.ID...)
			b = append(b, ',')
			b = append(b, s.Profile...)
			b = append(b, ')')
		case s.Root != "":
			b = append(b, ':')
			b = append(b, s.Root...)
		}
		if d.PersistenceID != "" {
			b = append(b, ',')
		}
	}
	return append(b, d.PersistenceID...)
}

// Resource is one Mesos resource: a name, a typed value, and the attributes
// that make two resources of the same name distinct (its identity). Only the
// value field for Type is meaningful; the others are ignored.
type Resource struct {
	Name string
	Type ValueType // TypeScalar, TypeRanges or TypeSet

	// Revocable and Shared are identity properties; they sit here, next to
	// Type, to keep the struct small.
	Revocable bool
	Shared    bool // only persistent volumes can be shared

	Scalar Scalar
	Ranges Ranges
	Set    Set

	// Reservations is the reservation stack, coarsest first; empty when the
	// resource is unreserved. Only the last entry's role matters for offers.
	Reservations []Reservation
	// AllocationRole is Resource.allocation_info.role: the role the
	// resource is allocated (offered) to; "" when not allocated.
	AllocationRole string
	Disk           *DiskInfo // nil when none
	ProviderID     string    // resource provider id; "" when none
}

// ScalarResource returns an unreserved scalar resource.
func ScalarResource(name string, v Scalar) Resource {
	return Resource{Name: name, Type: TypeScalar, Scalar: v}
}

// RangesResource returns an unreserved ranges resource holding rs.
func RangesResource(name string, rs ...Range) Resource {
	return Resource{Name: name, Type: TypeRanges, Ranges: NewRanges(rs...)}
}

// SetResource returns an unreserved set resource holding items.
func SetResource(name string, items ...string) Resource {
	return Resource{Name: name, Type: TypeSet, Set: NewSet(items...)}
}

// IsEmpty reports whether r holds nothing: a zero (or negative) scalar, no
// range, no item, or an unsupported type.
func (r *Resource) IsEmpty() bool {
	switch r.Type {
	case TypeScalar:
		return r.Scalar <= 0
	case TypeRanges:
		return len(r.Ranges) == 0
	case TypeSet:
		return len(r.Set) == 0
	}
	return true
}

// IsReserved reports whether r has a reservation.
func (r *Resource) IsReserved() bool { return len(r.Reservations) > 0 }

// IsUnreserved reports whether r has no reservation.
func (r *Resource) IsUnreserved() bool { return len(r.Reservations) == 0 }

// IsDynamicallyReserved reports whether r's innermost reservation is dynamic.
func (r *Resource) IsDynamicallyReserved() bool {
	n := len(r.Reservations)
	return n > 0 && r.Reservations[n-1].Type == ReservationDynamic
}

// IsPersistentVolume reports whether r is a persistent volume.
func (r *Resource) IsPersistentVolume() bool { return r.Disk.IsPersistentVolume() }

// ReservationRole returns the role r is reserved for (the innermost
// reservation's role), or "*" when r is unreserved.
func (r *Resource) ReservationRole() string {
	if n := len(r.Reservations); n > 0 {
		return r.Reservations[n-1].Role
	}
	return "*"
}

// IsAllocatableTo reports whether r may be offered to role: it is unreserved,
// or reserved to role or to an ancestor of role.
func (r *Resource) IsAllocatableTo(role string) bool {
	if len(r.Reservations) == 0 {
		return true
	}
	rr := r.ReservationRole()
	return role == rr || IsStrictSubroleOf(role, rr)
}

// SameIdentity reports whether r and o differ at most in their values.
func (r *Resource) SameIdentity(o *Resource) bool { return sameIdentity(r, o) }

func sameIdentity(a, b *Resource) bool {
	if a.Name != b.Name || a.Type != b.Type || a.AllocationRole != b.AllocationRole ||
		a.Revocable != b.Revocable || a.Shared != b.Shared || a.ProviderID != b.ProviderID ||
		len(a.Reservations) != len(b.Reservations) {
		return false
	}
	for i := range a.Reservations {
		if a.Reservations[i] != b.Reservations[i] {
			return false
		}
	}
	return sameDisk(a.Disk, b.Disk)
}

// mergeable reports whether resources with r's identity are added into one
// entry (false for shared resources, persistent volumes and exclusive disks).
func (r *Resource) mergeable() bool {
	return !r.Shared && (r.Disk == nil || r.Disk.mergeable())
}

func valueEqual(a, b *Resource) bool {
	switch a.Type {
	case TypeScalar:
		return a.Scalar == b.Scalar
	case TypeRanges:
		return a.Ranges.Equal(b.Ranges)
	case TypeSet:
		return a.Set.Equal(b.Set)
	}
	return false
}

func valueContains(a, b *Resource) bool {
	switch a.Type {
	case TypeScalar:
		return a.Scalar >= b.Scalar
	case TypeRanges:
		return a.Ranges.Contains(b.Ranges)
	case TypeSet:
		return a.Set.Contains(b.Set)
	}
	return false
}

// Equal reports whether r and o have the same identity and value (both
// assumed normalized).
func (r *Resource) Equal(o *Resource) bool { return sameIdentity(r, o) && valueEqual(r, o) }

// Contains reports whether o can be taken out of r: same identity and a value
// that r's value contains. Indivisible resources (see the package comment)
// only contain an equal resource.
func (r *Resource) Contains(o *Resource) bool {
	if !sameIdentity(r, o) {
		return false
	}
	if !r.mergeable() {
		return valueEqual(r, o)
	}
	return valueContains(r, o)
}

// Clone returns a deep copy of r (its DiskInfo.Proto is shared).
func (r Resource) Clone() Resource {
	r.Ranges = slices.Clone(r.Ranges)
	r.Set = slices.Clone(r.Set)
	r.Reservations = slices.Clone(r.Reservations)
	if r.Disk != nil {
		d := *r.Disk
		if d.Source != nil {
			s := *d.Source
			d.Source = &s
		}
		r.Disk = &d
	}
	return r
}

// normalized returns a shallow copy of r with only the value field of its
// type set and that value normalized. It allocates only when r's ranges or
// set are not normalized.
func normalized(r *Resource) Resource {
	c := *r
	switch c.Type {
	case TypeScalar:
		c.Ranges, c.Set = nil, nil
	case TypeRanges:
		c.Scalar, c.Set = 0, nil
		if !c.Ranges.IsNormalized() {
			c.Ranges = NewRanges(c.Ranges...)
		}
	case TypeSet:
		c.Scalar, c.Ranges = 0, nil
		if !c.Set.IsNormalized() {
			c.Set = NewSet(c.Set...)
		}
	}
	if len(c.Reservations) == 0 {
		c.Reservations = nil
	}
	return c
}

// Validate checks r the way Mesos validates a Resource: a name, a supported
// type, a non-negative scalar, ranges with begin <= end, a set without
// duplicates, a well-formed reservation stack (valid roles other than "*",
// STATIC or DYNAMIC, each refinement DYNAMIC and a strict sub-role of the one
// before), a valid allocation role, disk information only on "disk", and
// sharing only for persistent volumes.
func (r *Resource) Validate() error {
	if r.Name == "" {
		return errors.New("empty resource name")
	}
	switch r.Type {
	case TypeScalar:
		if r.Scalar < 0 {
			return errors.New("scalar value must not be negative")
		}
	case TypeRanges:
		for _, x := range r.Ranges {
			if x.Begin > x.End {
				return fmt.Errorf("range %d-%d has begin > end", x.Begin, x.End)
			}
		}
	case TypeSet:
		if !r.Set.IsNormalized() {
			s := slices.Clone(r.Set)
			slices.Sort(s)
			for i := 1; i < len(s); i++ {
				if s[i-1] == s[i] {
					return fmt.Errorf("set has duplicate item %q", s[i])
				}
			}
		}
	default:
		return fmt.Errorf("unsupported resource type %s", r.Type)
	}
	if err := validateReservations(r.Reservations); err != nil {
		return err
	}
	if r.AllocationRole != "" {
		if err := ValidateRole(r.AllocationRole); err != nil {
			return fmt.Errorf("invalid allocation role: %w", err)
		}
	}
	if r.Disk != nil {
		if r.Name != "disk" {
			return fmt.Errorf("disk information is not allowed on resource %q", r.Name)
		}
		if s := r.Disk.Source; s != nil {
			switch s.Type {
			case DiskSourcePath, DiskSourceMount:
			case DiskSourceBlock, DiskSourceRaw:
				if s.Root != "" {
					return fmt.Errorf("%s disk source must not have a path or mount root", s.Type)
				}
			default:
				return fmt.Errorf("unsupported disk source type %s", s.Type)
			}
		}
	}
	if r.Shared && !r.Disk.IsPersistentVolume() {
		return errors.New("only persistent volumes can be shared")
	}
	return nil
}

func validateReservations(rs []Reservation) error {
	for i, rv := range rs {
		if rv.Type != ReservationStatic && rv.Type != ReservationDynamic {
			return fmt.Errorf("reservation type must be STATIC or DYNAMIC, not %s", rv.Type)
		}
		if err := ValidateRole(rv.Role); err != nil {
			return fmt.Errorf("invalid reservation: %w", err)
		}
		if rv.Role == "*" {
			return errors.New(`invalid reservation: role "*" cannot be reserved`)
		}
		if i > 0 {
			if rv.Type == ReservationStatic {
				return errors.New("invalid refined reservation: a refined reservation cannot be STATIC")
			}
			if !IsStrictSubroleOf(rv.Role, rs[i-1].Role) {
				return fmt.Errorf("invalid refined reservation: role %q is not a refinement of %q", rv.Role, rs[i-1].Role)
			}
		}
	}
	return nil
}

// ValidateRole checks a role name as Mesos does. "*" is valid. Otherwise the
// role is one or more '/'-separated components; no component may be empty,
// ".", "..", "*", start with '-', or contain whitespace or DEL.
func ValidateRole(role string) error {
	if role == "*" {
		return nil
	}
	if role == "" {
		return errors.New("empty role name")
	}
	if role[0] == '/' || role[len(role)-1] == '/' {
		return fmt.Errorf("role %q must not start or end with '/'", role)
	}
	for c := range strings.SplitSeq(role, "/") {
		switch {
		case c == "":
			return fmt.Errorf("role %q must not contain two adjacent '/'", role)
		case c == "." || c == ".." || c == "*":
			return fmt.Errorf("role %q must not have %q as a component", role, c)
		case c[0] == '-':
			return fmt.Errorf("role %q has a component starting with '-'", role)
		case strings.ContainsAny(c, "\t\n\v\f\r \x7f"):
			return fmt.Errorf("role %q contains whitespace or DEL", role)
		}
	}
	return nil
}

// IsStrictSubroleOf reports whether role is a descendant of parent in the
// role tree ("a/b/c" of "a/b" and of "a"; not of itself).
func IsStrictSubroleOf(role, parent string) bool {
	return len(role) > len(parent) && role[len(parent)] == '/' && strings.HasPrefix(role, parent)
}

// String returns the Mesos text form of r, e.g. "cpus:2", "mem(prod):512",
// "ports:[31000-32000]". Properties the --resources syntax cannot express are
// written as Mesos writes them: "(allocated: role)", "(reservations:
// [(DYNAMIC,role,principal)])", "[disk info]", "{REV}" and "<SHARED>".
func (r Resource) String() string { return string(r.appendText(nil)) }

func (r *Resource) appendText(b []byte) []byte {
	b = append(b, r.Name...)
	if r.AllocationRole != "" {
		b = append(b, "(allocated: "...)
		b = append(b, r.AllocationRole...)
		b = append(b, ')')
	}
	switch {
	case len(r.Reservations) == 1 && r.Reservations[0].Type == ReservationStatic &&
		r.Reservations[0].Principal == "" && r.Reservations[0].Labels == "":
		b = append(b, '(')
		b = append(b, r.Reservations[0].Role...)
		b = append(b, ')')
	case len(r.Reservations) > 0:
		b = append(b, "(reservations: ["...)
		for i, rv := range r.Reservations {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = rv.appendText(b)
		}
		b = append(b, "])"...)
	}
	if r.Disk != nil {
		b = append(b, '[')
		b = r.Disk.appendText(b)
		b = append(b, ']')
	}
	if r.Revocable {
		b = append(b, "{REV}"...)
	}
	if r.Shared {
		b = append(b, "<SHARED>"...)
	}
	b = append(b, ':')
	return appendValue(b, r, ",")
}

func appendValue(b []byte, r *Resource, sep string) []byte {
	switch r.Type {
	case TypeScalar:
		return r.Scalar.AppendText(b)
	case TypeRanges:
		return r.Ranges.appendText(b, sep)
	case TypeSet:
		return appendSet(b, r.Set, sep)
	}
	return b
}
