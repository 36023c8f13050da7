package resources

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Range is an inclusive interval [Begin, End] of uint64 values, such as ports.
type Range struct {
	Begin, End uint64
}

// Ranges is a set of uint64 values held as intervals. A normalized Ranges is
// sorted, and its intervals neither overlap nor touch (adjacent intervals are
// coalesced), so two normalized Ranges holding the same values are identical
// slices. Methods assume normalized receivers and arguments, and never modify
// them; results may share backing arrays with the inputs.
type Ranges []Range

// NewRanges returns the normalized Ranges holding the values of rs. Intervals
// with Begin > End are dropped.
func NewRanges(rs ...Range) Ranges {
	if len(rs) == 0 {
		return nil
	}
	out := make(Ranges, 0, len(rs))
	for _, r := range rs {
		if r.Begin <= r.End {
			out = append(out, r)
		}
	}
	if Ranges(out).IsNormalized() {
		if len(out) == 0 {
			return nil
		}
		return out
	}
	slices.SortFunc(out, func(a, b Range) int {
		if c := cmp.Compare(a.Begin, b.Begin); c != 0 {
			return c
		}
		return cmp.Compare(a.End, b.End)
	})
	n := 0
	for _, r := range out {
		if n > 0 && (out[n-1].End == math.MaxUint64 || r.Begin <= out[n-1].End+1) {
			if r.End > out[n-1].End {
				out[n-1].End = r.End
			}
			continue
		}
		out[n] = r
		n++
	}
	return out[:n]
}

// IsNormalized reports whether r is sorted, valid, and has no overlapping or
// adjacent intervals.
func (r Ranges) IsNormalized() bool {
	for i, x := range r {
		if x.Begin > x.End {
			return false
		}
		if i > 0 && (r[i-1].End == math.MaxUint64 || x.Begin <= r[i-1].End+1) {
			return false
		}
	}
	return true
}

// IsEmpty reports whether r holds no value.
func (r Ranges) IsEmpty() bool { return len(r) == 0 }

// Count returns the number of values in r, saturating at math.MaxUint64.
func (r Ranges) Count() uint64 {
	var n uint64
	for _, x := range r {
		c := x.End - x.Begin
		if c == math.MaxUint64 || n+c+1 < n {
			return math.MaxUint64
		}
		n += c + 1
	}
	return n
}

// ContainsValue reports whether v is in r.
func (r Ranges) ContainsValue(v uint64) bool {
	i, _ := slices.BinarySearchFunc(r, v, func(x Range, v uint64) int {
		if x.End < v {
			return -1
		}
		if x.Begin > v {
			return 1
		}
		return 0
	})
	return i < len(r) && r[i].Begin <= v && v <= r[i].End
}

// Contains reports whether every value of o is in r.
func (r Ranges) Contains(o Ranges) bool {
	i := 0
	for _, x := range o {
		for i < len(r) && r[i].End < x.Begin {
			i++
		}
		if i == len(r) || r[i].Begin > x.Begin || r[i].End < x.End {
			return false
		}
	}
	return true
}

// Equal reports whether r and o hold the same values.
func (r Ranges) Equal(o Ranges) bool { return slices.Equal(r, o) }

// Union returns the values in r or o.
func (r Ranges) Union(o Ranges) Ranges {
	if len(o) == 0 {
		return r
	}
	if len(r) == 0 {
		return o
	}
	out := make(Ranges, 0, len(r)+len(o))
	i, j := 0, 0
	for i < len(r) || j < len(o) {
		var next Range
		if j == len(o) || (i < len(r) && r[i].Begin <= o[j].Begin) {
			next = r[i]
			i++
		} else {
			next = o[j]
			j++
		}
		if n := len(out); n > 0 && (out[n-1].End == math.MaxUint64 || next.Begin <= out[n-1].End+1) {
			if next.End > out[n-1].End {
				out[n-1].End = next.End
			}
			continue
		}
		out = append(out, next)
	}
	return out
}

// Difference returns the values in r that are not in o. It allocates only
// when o removes something from r.
func (r Ranges) Difference(o Ranges) Ranges {
	if len(r) == 0 || len(o) == 0 {
		return r
	}
	var out Ranges
	modified := false
	j := 0
	for i, cur := range r {
		for j < len(o) && o[j].End < cur.Begin {
			j++
		}
		if j == len(o) || o[j].Begin > cur.End {
			if modified {
				out = append(out, cur)
			}
			continue
		}
		if !modified {
			out = make(Ranges, i, len(r)+len(o))
			copy(out, r[:i])
			modified = true
		}
		b, e := cur.Begin, cur.End
		consumed := false
		k := j
		for k < len(o) && o[k].Begin <= e {
			if o[k].Begin > b {
				out = append(out, Range{b, o[k].Begin - 1})
			}
			if o[k].End >= e {
				consumed = true
				break
			}
			b = o[k].End + 1
			k++
		}
		if !consumed {
			out = append(out, Range{b, e})
		}
		// o[k] may extend past cur and cover part of the next interval.
		j = k
	}
	if !modified {
		return r
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// Intersect returns the values in both r and o.
func (r Ranges) Intersect(o Ranges) Ranges {
	var out Ranges
	i, j := 0, 0
	for i < len(r) && j < len(o) {
		b := max(r[i].Begin, o[j].Begin)
		e := min(r[i].End, o[j].End)
		if b <= e {
			out = append(out, Range{b, e})
		}
		if r[i].End < o[j].End {
			i++
		} else {
			j++
		}
	}
	return out
}

// String returns the compact text form used by --resources, e.g.
// "[31000-32000]" or "[1-10,20-30]".
func (r Ranges) String() string { return string(r.appendText(nil, ",")) }

// appendText writes "[b-e<sep>b-e]". Mesos's own stringification, used by
// the legacy JSON endpoints, separates with ", ".
func (r Ranges) appendText(b []byte, sep string) []byte {
	b = append(b, '[')
	for i, x := range r {
		if i > 0 {
			b = append(b, sep...)
		}
		b = strconv.AppendUint(b, x.Begin, 10)
		b = append(b, '-')
		b = strconv.AppendUint(b, x.End, 10)
	}
	return append(b, ']')
}

// ParseRanges parses "[b-e,b-e,...]" (whitespace allowed anywhere, "[]" is
// empty). Overlapping or unsorted intervals are accepted and coalesced;
// an interval with begin > end is an error.
func ParseRanges(text string) (Ranges, error) {
	s := stripSpace(text)
	if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
		return nil, fmt.Errorf("ranges %q must be written [begin-end,...]", text)
	}
	s = s[1 : len(s)-1]
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	rs := make([]Range, 0, len(parts))
	for _, p := range parts {
		bs, es, ok := strings.Cut(p, "-")
		if !ok {
			return nil, fmt.Errorf("range %q must be written begin-end", p)
		}
		b, err1 := strconv.ParseUint(bs, 10, 64)
		e, err2 := strconv.ParseUint(es, 10, 64)
		if err1 != nil || err2 != nil || bs[0] == '+' || es[0] == '+' {
			return nil, fmt.Errorf("range %q must be two non-negative integers begin-end", p)
		}
		if b > e {
			return nil, fmt.Errorf("range %q has begin > end", p)
		}
		rs = append(rs, Range{b, e})
	}
	return NewRanges(rs...), nil
}

// stripSpace removes all ASCII whitespace, as Mesos does before parsing a
// value.
func stripSpace(s string) string {
	if strings.IndexAny(s, " \t\n\r\v\f") < 0 {
		return s
	}
	var sb strings.Builder
	sb.Grow(len(s))
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ' ', '\t', '\n', '\r', '\v', '\f':
		default:
			sb.WriteByte(s[i])
		}
	}
	return sb.String()
}
