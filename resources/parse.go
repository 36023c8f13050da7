package resources

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ParseError reports a bad item in --resources or --attributes text, or a bad
// resource in a JSON array or protobuf list.
type ParseError struct {
	What   string // "resource" or "attribute"
	Item   string // the offending item as written, or "#i (name)" for lists
	Reason string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("invalid %s %q: %s", e.What, e.Item, e.Reason)
}

func resourceError(item, format string, args ...any) error {
	return &ParseError{What: "resource", Item: item, Reason: fmt.Sprintf(format, args...)}
}

// Parse parses the agent's --resources value with the default role "*". See
// ParseWithDefaultRole.
func Parse(text string) (Resources, error) { return ParseWithDefaultRole(text, "*") }

// MustParse is Parse that panics on error, for tests and constants.
func MustParse(text string) Resources {
	rs, err := Parse(text)
	if err != nil {
		panic(err)
	}
	return rs
}

// ParseWithDefaultRole parses Mesos's --resources syntax:
//
//	name(role):value;name:value;...
//
// where a value is a scalar ("4", "1024.5"), ranges ("[31000-32000]",
// "[1-10,20-30]") or a set ("{a,b,c}"), and whitespace is allowed. A role in
// parentheses other than "*" makes a STATIC reservation for that role;
// without parentheses defaultRole applies. Items with the same name and
// identity are added up; zero-valued items are dropped.
//
// Text starting with '[' is read instead as a JSON array of mesos.v1
// Resource objects, e.g. [{"name":"cpus","type":"SCALAR","scalar":{"value":2}}].
//
// As on the Mesos command line, revocable resources, dynamic reservations and
// persistent volumes are refused, and so are two items with the same name but
// different types. Errors are *ParseError values naming the item.
func ParseWithDefaultRole(text, defaultRole string) (Resources, error) {
	if err := ValidateRole(defaultRole); err != nil {
		return nil, fmt.Errorf("invalid default role: %w", err)
	}
	if t := strings.TrimSpace(text); strings.HasPrefix(t, "[") {
		return parseJSON(t, defaultRole)
	}
	var out Resources
	for tok := range strings.SplitSeq(text, ";") {
		item := strings.TrimSpace(tok)
		if item == "" {
			continue
		}
		r, err := parseItem(item, defaultRole)
		if err != nil {
			return nil, err
		}
		if err := checkSameType(out, &r, item); err != nil {
			return nil, err
		}
		out.addOne(&r)
	}
	return out, nil
}

// checkSameType refuses a resource whose name is already used with another
// type.
func checkSameType(rs Resources, r *Resource, item string) error {
	for i := range rs {
		if rs[i].Name == r.Name && rs[i].Type != r.Type {
			return resourceError(item, "resource %q was already given as %s; the same name cannot have two types", r.Name, rs[i].Type)
		}
	}
	return nil
}

func parseItem(item, defaultRole string) (Resource, error) {
	var r Resource
	namePart, valuePart, ok := strings.Cut(item, ":")
	if !ok {
		return r, resourceError(item, "missing ':' between name and value")
	}
	if strings.Contains(valuePart, ":") {
		return r, resourceError(item, "extra ':'")
	}
	name, role := namePart, defaultRole
	open, closing := strings.IndexByte(namePart, '('), strings.IndexByte(namePart, ')')
	switch {
	case open < 0 && closing < 0:
	case open < 0 || closing < open:
		return r, resourceError(item, "mismatched parentheses")
	default:
		if strings.TrimSpace(namePart[closing+1:]) != "" {
			return r, resourceError(item, "unexpected text after ')'")
		}
		name = namePart[:open]
		role = strings.TrimSpace(namePart[open+1 : closing])
		if strings.ContainsAny(role, "(,") {
			return r, resourceError(item, "only a role may be given in parentheses")
		}
		if err := ValidateRole(role); err != nil {
			return r, resourceError(item, "invalid role: %v", err)
		}
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return r, resourceError(item, "empty resource name")
	}
	if strings.ContainsAny(name, "()[]{},; \t\n\v\f\r") {
		return r, resourceError(item, "resource name %q must not contain whitespace or any of ()[]{},", name)
	}
	r.Name = name
	if role != "*" {
		r.Reservations = []Reservation{{Type: ReservationStatic, Role: role}}
	}

	value := stripSpace(valuePart)
	switch {
	case value == "":
		return r, resourceError(item, "empty value")
	case value[0] == '[':
		rs, err := ParseRanges(value)
		if err != nil {
			return r, resourceError(item, "%v", err)
		}
		r.Type, r.Ranges = TypeRanges, rs
	case value[0] == '{':
		items, ok := parseSetItems(value)
		if !ok {
			return r, resourceError(item, "set %q must be written {a,b,...}", value)
		}
		r.Type, r.Set = TypeSet, NewSet(items...)
		if len(r.Set) != len(items) {
			return r, resourceError(item, "set %q has duplicate items", value)
		}
	default:
		s, err := ParseScalar(value)
		switch {
		case errors.Is(err, errNotNumber):
			return r, resourceError(item, "value %q is not a number, ranges [b-e,...] or a set {a,...}", value)
		case err != nil:
			return r, resourceError(item, "scalar value %s %v", value, err)
		}
		r.Type, r.Scalar = TypeScalar, s
	}
	return r, nil
}

// The JSON form of Resource (mesos.v1 field names, as stout's protobuf JSON
// parser reads them).
type jsonResource struct {
	Name           *string           `json:"name"`
	Type           *string           `json:"type"`
	Scalar         *jsonScalar       `json:"scalar"`
	Ranges         *jsonRanges       `json:"ranges"`
	Set            *jsonSet          `json:"set"`
	Role           *string           `json:"role"`
	Reservation    *jsonReservation  `json:"reservation"`
	Reservations   []jsonReservation `json:"reservations"`
	AllocationInfo *struct {
		Role *string `json:"role"`
	} `json:"allocation_info"`
	Disk       *jsonDisk `json:"disk"`
	Revocable  *struct{} `json:"revocable"`
	Shared     *struct{} `json:"shared"`
	ProviderID *struct {
		Value *string `json:"value"`
	} `json:"provider_id"`
}

type jsonScalar struct {
	Value *jsonFloat `json:"value"`
}

type jsonRanges struct {
	Range []struct {
		Begin *jsonUint `json:"begin"`
		End   *jsonUint `json:"end"`
	} `json:"range"`
}

type jsonSet struct {
	Item []string `json:"item"`
}

type jsonReservation struct {
	Type      *string     `json:"type"`
	Role      *string     `json:"role"`
	Principal *string     `json:"principal"`
	Labels    *jsonLabels `json:"labels"`
}

type jsonLabels struct {
	Labels []struct {
		Key   *string `json:"key"`
		Value *string `json:"value"`
	} `json:"labels"`
}

type jsonDisk struct {
	Persistence *struct {
		ID        *string `json:"id"`
		Principal *string `json:"principal"`
	} `json:"persistence"`
	Source *struct {
		Type *string `json:"type"`
		Path *struct {
			Root *string `json:"root"`
		} `json:"path"`
		Mount *struct {
			Root *string `json:"root"`
		} `json:"mount"`
		Vendor   *string     `json:"vendor"`
		ID       *string     `json:"id"`
		Metadata *jsonLabels `json:"metadata"`
		Profile  *string     `json:"profile"`
	} `json:"source"`
}

// jsonFloat accepts a JSON number or a string holding one, and "Infinity",
// "-Infinity" and "NaN", as Mesos's JSON parser does for doubles.
type jsonFloat float64

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		switch s {
		case "Infinity":
			*f = jsonFloat(posInf)
			return nil
		case "-Infinity":
			*f = jsonFloat(negInf)
			return nil
		}
	}
	v, err := parseDecimal(strings.TrimSpace(s))
	if err != nil {
		return fmt.Errorf("%s is not a number", b)
	}
	*f = jsonFloat(v)
	return nil
}

// jsonUint accepts a JSON number or a string holding a non-negative integer.
type jsonUint uint64

func (u *jsonUint) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return fmt.Errorf("%s is not a non-negative integer", b)
	}
	*u = jsonUint(v)
	return nil
}

func parseJSON(text, defaultRole string) (Resources, error) {
	var items []json.RawMessage
	if err := json.Unmarshal([]byte(text), &items); err != nil {
		return nil, fmt.Errorf("invalid resources JSON: %w", err)
	}
	var out Resources
	for i, raw := range items {
		var jr jsonResource
		label := "#" + strconv.Itoa(i)
		dec := json.NewDecoder(bytes.NewReader(raw))
		if err := dec.Decode(&jr); err != nil {
			return nil, resourceError(label, "%v", err)
		}
		if jr.Name != nil {
			label += " (" + *jr.Name + ")"
		}
		rr, err := jr.raw()
		if err != nil {
			return nil, resourceError(label, "%v", err)
		}
		r, err := rr.toResource(defaultRole)
		if err != nil {
			return nil, resourceError(label, "%v", err)
		}
		if err := commandLineCheck(&r); err != nil {
			return nil, resourceError(label, "%v", err)
		}
		if err := checkSameType(out, &r, label); err != nil {
			return nil, err
		}
		out.addOne(&r)
	}
	return out, nil
}

// commandLineCheck refuses what Mesos refuses in --resources.
func commandLineCheck(r *Resource) error {
	switch {
	case r.IsPersistentVolume():
		return errors.New("persistent volumes cannot be given on the command line")
	case r.Revocable:
		return errors.New("revocable resources cannot be given on the command line")
	case r.IsDynamicallyReserved():
		return errors.New("dynamic reservations cannot be given on the command line")
	}
	return nil
}

func (jr *jsonResource) raw() (*rawResource, error) {
	rr := &rawResource{name: jr.Name, role: jr.Role}
	if jr.Type != nil {
		if t, ok := valueTypeByName(*jr.Type); ok {
			rr.typ = &t
		} else {
			rr.typName = *jr.Type
		}
	}
	if jr.Scalar != nil {
		if jr.Scalar.Value == nil {
			return nil, errors.New("missing required field scalar.value")
		}
		rr.hasScalar, rr.scalar = true, float64(*jr.Scalar.Value)
	}
	if jr.Ranges != nil {
		rr.hasRanges = true
		for _, x := range jr.Ranges.Range {
			if x.Begin == nil || x.End == nil {
				return nil, errors.New("missing required field range.begin or range.end")
			}
			rr.ranges = append(rr.ranges, Range{uint64(*x.Begin), uint64(*x.End)})
		}
	}
	if jr.Set != nil {
		rr.hasSet, rr.set = true, jr.Set.Item
	}
	var err error
	if jr.Reservation != nil {
		if rr.reservation, err = jr.Reservation.raw(); err != nil {
			return nil, err
		}
	}
	for i := range jr.Reservations {
		rv, err := jr.Reservations[i].raw()
		if err != nil {
			return nil, err
		}
		rr.reservations = append(rr.reservations, *rv)
	}
	if jr.AllocationInfo != nil {
		rr.allocationRole = jr.AllocationInfo.Role
	}
	if jr.Disk != nil {
		if rr.disk, err = jr.Disk.toDisk(); err != nil {
			return nil, err
		}
	}
	rr.revocable = jr.Revocable != nil
	rr.shared = jr.Shared != nil
	if jr.ProviderID != nil {
		if jr.ProviderID.Value == nil {
			return nil, errors.New("missing required field provider_id.value")
		}
		rr.providerID = *jr.ProviderID.Value
	}
	return rr, nil
}

func (jv *jsonReservation) raw() (*rawReservation, error) {
	rv := &rawReservation{role: jv.Role, principal: jv.Principal}
	if jv.Type != nil {
		switch *jv.Type {
		case "STATIC":
			rv.typ = ptr(ReservationStatic)
		case "DYNAMIC":
			rv.typ = ptr(ReservationDynamic)
		default:
			rv.typName = *jv.Type
		}
	}
	if jv.Labels != nil {
		s, err := jv.Labels.encode()
		if err != nil {
			return nil, err
		}
		rv.labels = &s
	}
	return rv, nil
}

func (jl *jsonLabels) encode() (string, error) {
	ls := make([]Label, 0, len(jl.Labels))
	for _, l := range jl.Labels {
		if l.Key == nil {
			return "", errors.New("missing required field label.key")
		}
		ls = append(ls, Label{Key: *l.Key, Value: deref(l.Value)})
	}
	return EncodeLabels(ls), nil
}

func (jd *jsonDisk) toDisk() (*DiskInfo, error) {
	d := &DiskInfo{}
	if p := jd.Persistence; p != nil {
		if p.ID == nil || *p.ID == "" {
			return nil, errors.New("disk.persistence.id must be set")
		}
		d.PersistenceID, d.PersistencePrincipal = *p.ID, deref(p.Principal)
	}
	if s := jd.Source; s != nil {
		src := &DiskSource{Vendor: deref(s.Vendor), ID: deref(s.ID), Profile: deref(s.Profile)}
		switch deref(s.Type) {
		case "PATH":
			src.Type = DiskSourcePath
		case "MOUNT":
			src.Type = DiskSourceMount
		case "BLOCK":
			src.Type = DiskSourceBlock
		case "RAW":
			src.Type = DiskSourceRaw
		default:
			return nil, fmt.Errorf("unsupported disk source type %q", deref(s.Type))
		}
		if s.Path != nil && s.Mount != nil {
			return nil, errors.New("disk source has both path and mount")
		}
		if s.Path != nil {
			if src.Type != DiskSourcePath {
				return nil, fmt.Errorf("path should not be set for %s disk source", src.Type)
			}
			src.Root = deref(s.Path.Root)
		}
		if s.Mount != nil {
			if src.Type != DiskSourceMount {
				return nil, fmt.Errorf("mount should not be set for %s disk source", src.Type)
			}
			src.Root = deref(s.Mount.Root)
		}
		if s.Metadata != nil {
			m, err := s.Metadata.encode()
			if err != nil {
				return nil, err
			}
			src.Metadata = m
		}
		d.Source = src
	}
	return d, nil
}

func valueTypeByName(s string) (ValueType, bool) {
	switch s {
	case "SCALAR":
		return TypeScalar, true
	case "RANGES":
		return TypeRanges, true
	case "SET":
		return TypeSet, true
	case "TEXT":
		return TypeText, true
	}
	return 0, false
}
