package resources

import (
	"slices"

	"github.com/gomesos/gomesos/codec"
)

// LegacyField is one member of a legacy JSON object: a number or a string.
type LegacyField struct {
	Key    string
	IsText bool
	Number float64
	Text   string
}

// LegacyObject is an ordered JSON object in the form the legacy Mesos
// endpoints (/master/state, /slave(1)/state, ...) use for resources and
// attributes, e.g. {"disk":0.0,"mem":32.0,"gpus":0.0,"cpus":0.1,
// "ports":"[31000-32000]"}. Numbers are written as Mesos writes doubles: the
// shortest form that reads back exactly, with ".0" added to whole numbers.
type LegacyObject []LegacyField

// Get returns the field named key.
func (o LegacyObject) Get(key string) (LegacyField, bool) {
	for _, f := range o {
		if f.Key == key {
			return f, true
		}
	}
	return LegacyField{}, false
}

// MarshalJSON implements json.Marshaler.
func (o LegacyObject) MarshalJSON() ([]byte, error) { return o.AppendJSON(nil), nil }

// AppendJSON appends the JSON text of o to b.
func (o LegacyObject) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	for i, f := range o {
		if i > 0 {
			b = append(b, ',')
		}
		b = codec.AppendString(b, f.Key)
		b = append(b, ':')
		if f.IsText {
			b = codec.AppendString(b, f.Text)
		} else {
			b = codec.AppendDouble(b, f.Number)
		}
	}
	return append(b, '}')
}

// LegacyJSON returns the legacy JSON object for rs, as Mesos's endpoints
// render a Resources: values are summed by name whatever their reservations,
// "cpus", "gpus", "mem" and "disk" are always present, ranges and sets are
// strings ("[31000-32000]", "{a, b}"), and revocable resources are reported
// under name+"_revocable". Order: disk, mem, gpus, cpus (the order Mesos
// 1.12 prints them in), then other scalars, ranges and sets by name, then
// the revocable ones likewise.
func LegacyJSON(rs Resources) LegacyObject {
	out := make(LegacyObject, 0, 4+len(rs))
	for _, name := range [...]string{"disk", "mem", "gpus", "cpus"} {
		out = append(out, LegacyField{Key: name})
	}
	out = appendLegacy(out, rs, false, true)
	if hasRevocable(rs) {
		out = appendLegacy(out, rs, true, false)
	}
	return out
}

func hasRevocable(rs Resources) bool {
	for i := range rs {
		if rs[i].Revocable {
			return true
		}
	}
	return false
}

// appendLegacy adds the resources whose Revocable equals revocable. When
// defaults is set, out already holds the four default scalars at its start.
func appendLegacy(out LegacyObject, rs Resources, revocable, defaults bool) LegacyObject {
	suffix := ""
	if revocable {
		suffix = "_revocable"
	}
	start := len(out)
	if defaults {
		start = 0
	}
	names := sortedNames(nil, rs, TypeScalar, revocable)
	for _, name := range names {
		// Sum in fixed point, then convert once.
		v := sumScalars(rs, name, revocable).Float64()
		key := name + suffix
		if j := slices.IndexFunc(out[start:], func(f LegacyField) bool { return f.Key == key }); j >= 0 {
			out[start+j].Number = v
			continue
		}
		out = append(out, LegacyField{Key: key, Number: v})
	}
	for _, t := range [...]ValueType{TypeRanges, TypeSet} {
		names = sortedNames(names, rs, t, revocable)
		for _, name := range names {
			var text []byte
			if t == TypeRanges {
				var all Ranges
				for i := range rs {
					if rs[i].Revocable == revocable && rs[i].Type == t && rs[i].Name == name {
						all = all.Union(rs[i].Ranges)
					}
				}
				text = all.appendText(nil, ", ")
			} else {
				var all Set
				for i := range rs {
					if rs[i].Revocable == revocable && rs[i].Type == t && rs[i].Name == name {
						all = all.Union(rs[i].Set)
					}
				}
				text = appendSet(nil, all, ", ")
			}
			out = append(out, LegacyField{Key: name + suffix, IsText: true, Text: string(text)})
		}
	}
	return out
}

// sortedNames returns, sorted and each once, the names of rs's resources of
// type t whose Revocable equals revocable. It reuses buf's array.
func sortedNames(buf []string, rs Resources, t ValueType, revocable bool) []string {
	names := buf[:0]
	for i := range rs {
		if rs[i].Revocable == revocable && rs[i].Type == t {
			names = append(names, rs[i].Name)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

func sumScalars(rs Resources, name string, revocable bool) Scalar {
	var s Scalar
	for i := range rs {
		if rs[i].Revocable == revocable && rs[i].Type == TypeScalar && rs[i].Name == name {
			s = addScalar(s, rs[i].Scalar)
		}
	}
	return s
}

// LegacyAttributesJSON returns the legacy JSON object for agent attributes:
// scalars as numbers, ranges, sets and text as strings, in the given order.
func LegacyAttributesJSON(attrs []Attribute) LegacyObject {
	out := make(LegacyObject, 0, len(attrs))
	for _, a := range attrs {
		f := LegacyField{Key: a.Name}
		if a.Type == TypeScalar {
			f.Number = a.Scalar
		} else {
			f.IsText = true
			f.Text = string(a.appendValue(nil, ", "))
		}
		out = append(out, f)
	}
	return out
}
