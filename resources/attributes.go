package resources

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Attribute is an agent attribute (mesos.v1.Attribute): a name and a value
// that is a scalar, ranges, a set or text. Only the field for Type is
// meaningful. Unlike resource scalars, attribute scalars keep their full
// float64 precision, and attribute sets keep their items in the order given.
type Attribute struct {
	Name   string
	Type   ValueType
	Scalar float64
	Ranges Ranges
	Set    []string
	Text   string
}

// ParseAttributes parses the agent's --attributes value:
//
//	name:value;name:value;...
//
// Each value is read as Mesos reads it: all whitespace is removed, then
// "[b-e,...]" is ranges, "{a,b}" a set, a decimal number a scalar, and
// anything else text (which may contain ':'). Items may also be separated by
// newlines. Errors are *ParseError values naming the item.
func ParseAttributes(text string) ([]Attribute, error) {
	var out []Attribute
	for tok := range strings.FieldsFuncSeq(text, func(r rune) bool { return r == ';' || r == '\n' }) {
		item := strings.TrimSpace(tok)
		if item == "" {
			continue
		}
		a, err := parseAttribute(item)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func attributeError(item, format string, args ...any) error {
	return &ParseError{What: "attribute", Item: item, Reason: fmt.Sprintf(format, args...)}
}

func parseAttribute(item string) (Attribute, error) {
	var a Attribute
	name, value, ok := strings.Cut(item, ":")
	if !ok {
		return a, attributeError(item, "missing ':' between name and value")
	}
	a.Name = strings.TrimSpace(name)
	if a.Name == "" {
		return a, attributeError(item, "empty attribute name")
	}
	v := stripSpace(value)
	if v == "" {
		return a, attributeError(item, "empty value")
	}
	if err := checkBrackets(v); err != nil {
		return a, attributeError(item, "%v", err)
	}
	switch {
	case v[0] == '[':
		rs, err := ParseRanges(v)
		if err != nil {
			return a, attributeError(item, "%v", err)
		}
		a.Type, a.Ranges = TypeRanges, rs
	case strings.ContainsRune(v, '['):
		return a, attributeError(item, "unexpected '['")
	case v[0] == '{':
		items, ok := parseSetItems(v)
		if !ok {
			return a, attributeError(item, "set %q must be written {a,b,...}", v)
		}
		a.Type, a.Set = TypeSet, items
	case strings.ContainsRune(v, '{'):
		return a, attributeError(item, "unexpected '{'")
	default:
		if f, err := parseDecimal(v); err == nil {
			a.Type, a.Scalar = TypeScalar, f
		} else {
			a.Type, a.Text = TypeText, v
		}
	}
	return a, nil
}

// checkBrackets refuses unbalanced (), [] and {} as Mesos does.
func checkBrackets(s string) error {
	for _, p := range [...][2]byte{{'(', ')'}, {'[', ']'}, {'{', '}'}} {
		depth := 0
		for i := 0; i < len(s); i++ {
			switch s[i] {
			case p[0]:
				depth++
			case p[1]:
				depth--
			}
			if depth < 0 {
				break
			}
		}
		if depth != 0 {
			return fmt.Errorf("mismatched %c%c brackets", p[0], p[1])
		}
	}
	return nil
}

// String returns the attribute's text form "name:value".
func (a Attribute) String() string {
	b := append([]byte(a.Name), ':')
	return string(a.appendValue(b, ","))
}

func (a Attribute) appendValue(b []byte, sep string) []byte {
	switch a.Type {
	case TypeScalar:
		return strconv.AppendFloat(b, a.Scalar, 'f', -1, 64)
	case TypeRanges:
		return a.Ranges.appendText(b, sep)
	case TypeSet:
		return appendSet(b, a.Set, sep)
	case TypeText:
		return append(b, a.Text...)
	}
	return b
}

// AttributesString returns the --attributes text form of attrs.
func AttributesString(attrs []Attribute) string {
	var sb strings.Builder
	for i, a := range attrs {
		if i > 0 {
			sb.WriteByte(';')
		}
		sb.WriteString(a.String())
	}
	return sb.String()
}

// Equal reports whether a and b have the same name, type and value. Scalars
// compare after rounding to three decimals and sets ignore order, as in
// Mesos.
func (a Attribute) Equal(b Attribute) bool {
	if a.Name != b.Name || a.Type != b.Type {
		return false
	}
	switch a.Type {
	case TypeScalar:
		return ScalarFromFloat(a.Scalar) == ScalarFromFloat(b.Scalar)
	case TypeRanges:
		return NewRanges(a.Ranges...).Equal(NewRanges(b.Ranges...))
	case TypeSet:
		return NewSet(a.Set...).Equal(NewSet(b.Set...))
	case TypeText:
		return a.Text == b.Text
	}
	return false
}

// Validate checks that a has a name, a known type and a finite scalar.
func (a Attribute) Validate() error {
	if a.Name == "" {
		return fmt.Errorf("empty attribute name")
	}
	switch a.Type {
	case TypeScalar:
		if math.IsNaN(a.Scalar) || math.IsInf(a.Scalar, 0) {
			return fmt.Errorf("attribute %q has a non-finite scalar", a.Name)
		}
	case TypeRanges:
		for _, x := range a.Ranges {
			if x.Begin > x.End {
				return fmt.Errorf("attribute %q has range %d-%d with begin > end", a.Name, x.Begin, x.End)
			}
		}
	case TypeSet, TypeText:
	default:
		return fmt.Errorf("attribute %q has unsupported type %s", a.Name, a.Type)
	}
	return nil
}

// CloneAttributes returns a deep copy of attrs.
func CloneAttributes(attrs []Attribute) []Attribute {
	out := slices.Clone(attrs)
	for i := range out {
		out[i].Ranges = slices.Clone(out[i].Ranges)
		out[i].Set = slices.Clone(out[i].Set)
	}
	return out
}
