package resources

import (
	"slices"
	"strings"
)

// Set is a set of strings held sorted and without duplicates (normalized).
// Methods assume normalized receivers and arguments and never modify them;
// results may share backing arrays with the inputs.
type Set []string

// NewSet returns the normalized Set of items.
func NewSet(items ...string) Set {
	if len(items) == 0 {
		return nil
	}
	if Set(items).IsNormalized() {
		return slices.Clone(Set(items))
	}
	out := slices.Clone(items)
	slices.Sort(out)
	return slices.Compact(out)
}

// IsNormalized reports whether s is sorted and has no duplicates.
func (s Set) IsNormalized() bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] >= s[i] {
			return false
		}
	}
	return true
}

// IsEmpty reports whether s has no item.
func (s Set) IsEmpty() bool { return len(s) == 0 }

// Has reports whether item is in s.
func (s Set) Has(item string) bool {
	_, ok := slices.BinarySearch(s, item)
	return ok
}

// Contains reports whether every item of o is in s.
func (s Set) Contains(o Set) bool {
	if len(o) > len(s) {
		return false
	}
	i := 0
	for _, x := range o {
		for i < len(s) && s[i] < x {
			i++
		}
		if i == len(s) || s[i] != x {
			return false
		}
		i++
	}
	return true
}

// Equal reports whether s and o hold the same items.
func (s Set) Equal(o Set) bool { return slices.Equal(s, o) }

// Union returns the items in s or o.
func (s Set) Union(o Set) Set {
	if len(o) == 0 {
		return s
	}
	if len(s) == 0 {
		return o
	}
	out := make(Set, 0, len(s)+len(o))
	i, j := 0, 0
	for i < len(s) && j < len(o) {
		switch {
		case s[i] < o[j]:
			out = append(out, s[i])
			i++
		case s[i] > o[j]:
			out = append(out, o[j])
			j++
		default:
			out = append(out, s[i])
			i++
			j++
		}
	}
	out = append(out, s[i:]...)
	return append(out, o[j:]...)
}

// Difference returns the items of s that are not in o. It allocates only when
// o removes something from s.
func (s Set) Difference(o Set) Set {
	if len(s) == 0 || len(o) == 0 {
		return s
	}
	var out Set
	modified := false
	j := 0
	for i, x := range s {
		for j < len(o) && o[j] < x {
			j++
		}
		if j < len(o) && o[j] == x {
			if !modified {
				out = make(Set, i, len(s))
				copy(out, s[:i])
				modified = true
			}
			continue
		}
		if modified {
			out = append(out, x)
		}
	}
	if !modified {
		return s
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// String returns the text form "{a,b,c}".
func (s Set) String() string { return string(appendSet(nil, s, ",")) }

func appendSet(b []byte, items []string, sep string) []byte {
	b = append(b, '{')
	for i, x := range items {
		if i > 0 {
			b = append(b, sep...)
		}
		b = append(b, x...)
	}
	return append(b, '}')
}

// parseSetItems splits "{a,b}" (whitespace already removed) into its items,
// dropping empty ones. ok is false when the braces are missing.
func parseSetItems(s string) (items []string, ok bool) {
	if len(s) < 2 || s[0] != '{' || s[len(s)-1] != '}' {
		return nil, false
	}
	inner := s[1 : len(s)-1]
	if inner == "" {
		return nil, true
	}
	for _, it := range strings.Split(inner, ",") {
		if it != "" {
			items = append(items, it)
		}
	}
	return items, true
}
