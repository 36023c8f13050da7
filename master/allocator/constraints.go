package allocator

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"slices"

	"github.com/gomesos/gomesos/resources"
)

// Pseudoattribute names what an AttributeConstraint selects besides a named
// attribute (AttributeConstraint.Selector.PseudoattributeType).
type Pseudoattribute int

// The pseudoattributes, numbered as in Mesos's proto.
const (
	NoPseudoattribute Pseudoattribute = 0
	PseudoHostname    Pseudoattribute = 1
	PseudoRegion      Pseudoattribute = 2
	PseudoZone        Pseudoattribute = 3
)

// PredicateKind is an AttributeConstraint's predicate, numbered as the
// fields of Mesos's AttributeConstraint.Predicate.
type PredicateKind int

// The predicates.
const (
	Exists         PredicateKind = 1
	NotExists      PredicateKind = 2
	TextEquals     PredicateKind = 3
	TextNotEquals  PredicateKind = 4
	TextMatches    PredicateKind = 5
	TextNotMatches PredicateKind = 6
)

// MaxRegexProgram bounds a constraint's regular expression: the number of
// instructions of its compiled program (Mesos bounds the RE2 program size
// with --offer_constraints_re2_max_program_size, 100 by default).
const MaxRegexProgram = 100

// AttributeConstraint is one condition on an agent: Pseudo or Name selects
// the value, Kind tests it against Value (text or regex).
type AttributeConstraint struct {
	Pseudo Pseudoattribute // or 0 with Name
	Name   string
	Kind   PredicateKind
	Value  string
	re     *regexp.Regexp
}

// OfferConstraints are a framework's compiled offer_constraints: per role,
// groups of constraints; an agent may be offered in a role without
// constraints, or when it satisfies all constraints of one of its groups.
// It is immutable once made, so the master and the allocator may share it.
type OfferConstraints struct {
	roles map[string][][]AttributeConstraint
}

// NewOfferConstraints checks and compiles constraints (role -> groups ->
// constraints). An empty map gives nil: no constraints.
func NewOfferConstraints(roles map[string][][]AttributeConstraint) (*OfferConstraints, error) {
	if len(roles) == 0 {
		return nil, nil
	}
	out := &OfferConstraints{roles: make(map[string][][]AttributeConstraint, len(roles))}
	for _, role := range sortedKeys(roles) {
		groups := make([][]AttributeConstraint, 0, len(roles[role]))
		for gi, g := range roles[role] {
			group := slices.Clone(g)
			for ci := range group {
				c := &group[ci]
				if c.Pseudo == NoPseudoattribute && c.Name == "" {
					return nil, fmt.Errorf("role '%s', group %d, constraint %d: the selector names no attribute or pseudoattribute", role, gi, ci)
				}
				if c.Pseudo < NoPseudoattribute || c.Pseudo > PseudoZone {
					return nil, fmt.Errorf("role '%s', group %d, constraint %d: unknown pseudoattribute type %d", role, gi, ci, c.Pseudo)
				}
				switch c.Kind {
				case Exists, NotExists, TextEquals, TextNotEquals:
				case TextMatches, TextNotMatches:
					re, err := compileConstraintRegex(c.Value)
					if err != nil {
						return nil, fmt.Errorf("role '%s', group %d, constraint %d: %w", role, gi, ci, err)
					}
					c.re = re
				default:
					return nil, fmt.Errorf("role '%s', group %d, constraint %d: the predicate is not set", role, gi, ci)
				}
			}
			groups = append(groups, group)
		}
		out.roles[role] = groups
	}
	return out, nil
}

// compileConstraintRegex compiles an RE2 regex that must match the whole
// value, as RE2::FullMatch does, and bounds its size.
func compileConstraintRegex(expr string) (*regexp.Regexp, error) {
	parsed, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil, fmt.Errorf("invalid regex '%s': %w", expr, err)
	}
	prog, err := syntax.Compile(parsed.Simplify())
	if err != nil {
		return nil, fmt.Errorf("invalid regex '%s': %w", expr, err)
	}
	if n := len(prog.Inst); n > MaxRegexProgram {
		return nil, fmt.Errorf("regex '%s' is too complex: its program has %d instructions, more than %d", expr, n, MaxRegexProgram)
	}
	return regexp.Compile(`^(?:` + expr + `)$`)
}

// Roles are the roles the constraints restrict, sorted.
func (o *OfferConstraints) Roles() []string {
	if o == nil {
		return nil
	}
	return sortedKeys(o.roles)
}

// Allows reports whether an agent may be offered in role.
func (o *OfferConstraints) Allows(role string, ag *Agent) bool {
	if o == nil {
		return true
	}
	groups, ok := o.roles[role]
	if !ok {
		return true
	}
	for _, g := range groups {
		all := true
		for i := range g {
			if !g[i].holds(ag) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}

// holds evaluates one constraint on an agent. As we read Mesos 1.11's
// proto comments, a non-TEXT attribute satisfies every text predicate
// (Mesos keeps them for TEXT values for now), the first attribute
// of a name is the one looked at, and an absent attribute satisfies only
// not_exists, text_not_equals and text_not_matches.
func (c *AttributeConstraint) holds(ag *Agent) bool {
	value, text, found := c.lookup(ag)
	switch c.Kind {
	case Exists:
		return found
	case NotExists:
		return !found
	}
	if !found {
		return c.Kind == TextNotEquals || c.Kind == TextNotMatches
	}
	if !text {
		return true
	}
	switch c.Kind {
	case TextEquals:
		return value == c.Value
	case TextNotEquals:
		return value != c.Value
	case TextMatches:
		return c.re.MatchString(value)
	case TextNotMatches:
		return !c.re.MatchString(value)
	}
	return false
}

func (c *AttributeConstraint) lookup(ag *Agent) (value string, text, found bool) {
	switch c.Pseudo {
	case PseudoHostname:
		return ag.Hostname, true, true
	case PseudoRegion:
		return ag.Region, true, ag.Region != ""
	case PseudoZone:
		return ag.Zone, true, ag.Zone != ""
	}
	for _, a := range ag.Attributes {
		if a.Name == c.Name {
			return a.Text, a.Type == resources.TypeText, true
		}
	}
	return "", false, false
}
