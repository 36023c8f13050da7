package batch

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/gomesos/gomesos/api/v1/mesos"
)

// Constraints restrict the agents whose offers the driver accepts, by
// attribute, in Spark's syntax: "rack:r1,r2;zone:a;gpu" means the attribute
// rack is r1 or r2, zone is a, and the attribute gpu exists (any value).
type Constraints map[string][]string

// ParseConstraints parses Spark's constraint syntax. An empty string means
// no constraint.
func ParseConstraints(s string) (Constraints, error) {
	c := Constraints{}
	if strings.TrimSpace(s) == "" {
		return c, nil
	}
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, fmt.Errorf("empty constraint in %q (constraints are separated by ';')", s)
		}
		name, values, hasValues := strings.Cut(part, ":")
		name = strings.TrimSpace(name)
		if name == "" {
			return nil, fmt.Errorf("constraint %q has no attribute name", part)
		}
		if _, dup := c[name]; dup {
			return nil, fmt.Errorf("attribute %q is constrained twice", name)
		}
		c[name] = nil
		if !hasValues {
			continue
		}
		for _, v := range strings.Split(values, ",") {
			v = strings.TrimSpace(v)
			if v == "" {
				return nil, fmt.Errorf("constraint %q has an empty value", part)
			}
			c[name] = append(c[name], v)
		}
	}
	return c, nil
}

// String is the constraints in Spark's syntax, attributes in order.
func (c Constraints) String() string {
	names := make([]string, 0, len(c))
	for n := range c {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		if len(c[n]) == 0 {
			parts = append(parts, n)
		} else {
			parts = append(parts, n+":"+strings.Join(c[n], ","))
		}
	}
	return strings.Join(parts, ";")
}

// Match reports whether attributes (an offer's) meet every constraint. A
// text attribute matches a listed value equal to it; a scalar one a value
// equal as a number; a set one when it holds a listed value; a ranges one
// when a listed number falls in one of its ranges.
func (c Constraints) Match(attrs []*mesos.Attribute) bool {
	for name, want := range c {
		a := findAttribute(attrs, name)
		if a == nil {
			return false
		}
		if len(want) == 0 {
			continue
		}
		ok := false
		for _, v := range want {
			if attributeHas(a, v) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func findAttribute(attrs []*mesos.Attribute, name string) *mesos.Attribute {
	for _, a := range attrs {
		if a.GetName() == name {
			return a
		}
	}
	return nil
}

func attributeHas(a *mesos.Attribute, v string) bool {
	switch a.GetType() {
	case mesos.Value_TEXT:
		return a.GetText().GetValue() == v
	case mesos.Value_SCALAR:
		f, err := strconv.ParseFloat(v, 64)
		return err == nil && f == a.GetScalar().GetValue()
	case mesos.Value_SET:
		for _, item := range a.GetSet().GetItem() {
			if item == v {
				return true
			}
		}
	case mesos.Value_RANGES:
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return false
		}
		for _, r := range a.GetRanges().GetRange() {
			if n >= r.GetBegin() && n <= r.GetEnd() {
				return true
			}
		}
	}
	return false
}
