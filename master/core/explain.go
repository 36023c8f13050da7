package core

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/master/allocator"
)

// Explanation says why a framework is or is not being offered resources
// (GET /master/explain, `gomesos explain`). No Mesos version has it. It
// is a copy, made on the master's loop, and shares nothing with the Core.
type Explanation struct {
	FrameworkID string   `json:"framework_id"`
	Name        string   `json:"name"`
	Active      bool     `json:"active"`
	Connected   bool     `json:"connected"`
	Roles       []string `json:"roles"`
	// Reasons are one line each, the most telling first.
	Reasons []string `json:"reasons"`
	// PerRole is the allocator's view, role by role (empty when the
	// allocator cannot explain itself).
	PerRole []RoleExplanation `json:"per_role"`
	// Offers are the offers it holds now: their resources are not offered
	// again until it answers them.
	Offers []ExplainedOffer `json:"outstanding_offers"`
	// InactiveAgents are the agents nobody is offered: disconnected,
	// deactivated or draining.
	InactiveAgents []ExplainedAgent `json:"inactive_agents"`
	// OfferConstraints are its offer_constraints as given (JSON), if any.
	OfferConstraints json.RawMessage `json:"offer_constraints,omitempty"`
}

// RoleExplanation is one role of the framework.
type RoleExplanation struct {
	Role           string               `json:"role"`
	Subscribed     bool                 `json:"subscribed"`
	Suppressed     bool                 `json:"suppressed"`
	Offerable      bool                 `json:"offerable"`
	Share          float64              `json:"dominant_share"`
	Frameworks     []FrameworkShare     `json:"frameworks_in_role"`
	Weight         float64              `json:"weight"`
	RoleShare      float64              `json:"role_dominant_share"`
	SiblingRoles   []RoleShare          `json:"sibling_roles"`
	Filters        []ExplainedFilter    `json:"decline_filters"`
	ConstrainedOut []string             `json:"agents_ruled_out_by_constraints"`
	TooSmall       []AgentFree          `json:"agents_below_min_allocatable"`
	NothingFree    []string             `json:"agents_with_nothing_free"`
	MinAllocatable []map[string]float64 `json:"min_allocatable_resources"`
	// Quotas are the quotas bearing on the role (its own, then its
	// ancestors'); AtQuotaLimit the resources a limit keeps from it;
	// HeadroomHeld what of the free unreserved resources is held back
	// for the unmet guarantees of HeadroomFor.
	Quotas       []QuotaOf          `json:"quotas"`
	AtQuotaLimit []LimitReached     `json:"at_quota_limit"`
	HeadroomHeld map[string]float64 `json:"quota_headroom_held"`
	HeadroomFor  []string           `json:"quota_headroom_held_for"`
}

// QuotaOf is a role's quota and what the role, with its sub-roles,
// consumes of it (allocated unreserved resources plus reservations).
type QuotaOf struct {
	Role       string             `json:"role"`
	Guarantees map[string]float64 `json:"guarantees"`
	Limits     map[string]float64 `json:"limits"`
	Consumed   map[string]float64 `json:"consumed"`
}

// LimitReached is a resource a quota role's limit keeps from a role.
type LimitReached struct {
	Role     string  `json:"role"`
	Resource string  `json:"resource"`
	Limit    float64 `json:"limit"`
	Consumed float64 `json:"consumed"`
}

// FrameworkShare is a framework's dominant share in a role.
type FrameworkShare struct {
	FrameworkID string  `json:"framework_id"`
	Share       float64 `json:"dominant_share"`
}

// RoleShare is a role's weight and dominant share.
type RoleShare struct {
	Role   string  `json:"role"`
	Weight float64 `json:"weight"`
	Share  float64 `json:"dominant_share"`
}

// ExplainedFilter is a refuse filter of the framework on an agent.
type ExplainedFilter struct {
	AgentID   string  `json:"agent_id"`
	Hostname  string  `json:"hostname"`
	Resources string  `json:"resources"`
	Expires   float64 `json:"expires"` // Unix seconds
	Remaining float64 `json:"remaining_seconds"`
}

// AgentFree is an agent and its free scalar resources for a role.
type AgentFree struct {
	AgentID string             `json:"agent_id"`
	Free    map[string]float64 `json:"free"`
}

// ExplainedOffer is an outstanding offer.
type ExplainedOffer struct {
	OfferID   string  `json:"offer_id"`
	AgentID   string  `json:"agent_id"`
	Role      string  `json:"role"`
	Resources string  `json:"resources"`
	Age       float64 `json:"age_seconds"`
}

// ExplainedAgent is an agent that is not offered to anyone.
type ExplainedAgent struct {
	AgentID  string `json:"agent_id"`
	Hostname string `json:"hostname"`
	State    string `json:"state"` // disconnected, deactivated or draining
}

// Explain returns the explanation for a framework, and false when the
// master does not know it. It must run on the master's loop.
func (c *Core) Explain(frameworkID string) (*Explanation, bool) {
	fw := c.frameworks[frameworkID]
	if fw == nil {
		return nil, false
	}
	ex := &Explanation{
		FrameworkID:    fw.id,
		Name:           fw.info.GetName(),
		Active:         fw.active,
		Connected:      fw.stream != "",
		Roles:          append([]string{}, fw.roles()...),
		Reasons:        []string{},
		PerRole:        []RoleExplanation{},
		Offers:         []ExplainedOffer{},
		InactiveAgents: []ExplainedAgent{},
	}
	if fw.constraintsPB != nil {
		if b, err := codec.Marshal(codec.JSON, fw.constraintsPB); err == nil {
			ex.OfferConstraints = json.RawMessage(b)
		}
	}
	hostname := func(id string) string {
		if a := c.agents[id]; a != nil {
			return a.info.GetHostname()
		}
		return ""
	}
	reason := func(format string, args ...any) { ex.Reasons = append(ex.Reasons, fmt.Sprintf(format, args...)) }
	if !ex.Connected {
		reason("the framework is disconnected: it is offered nothing until it subscribes again")
	} else if !fw.active {
		reason("the framework is inactive: it is offered nothing")
	}
	for _, id := range sortedKeys(fw.offers) {
		o := fw.offers[id]
		ex.Offers = append(ex.Offers, ExplainedOffer{
			OfferID: o.id, AgentID: o.agentID, Role: o.role,
			Resources: o.res.String(), Age: c.now.Sub(o.created).Seconds(),
		})
		reason("it holds offer %s of agent %s (%s) in role %s: those resources wait for its answer", o.id, o.agentID, hostname(o.agentID), o.role)
	}
	for _, id := range sortedKeys(c.agents) {
		a := c.agents[id]
		state := ""
		switch {
		case a.drain != nil:
			state = "draining"
		case a.deactivated:
			state = "deactivated"
		case a.conn == "" || !a.active:
			state = "disconnected"
		}
		if state != "" {
			ex.InactiveAgents = append(ex.InactiveAgents, ExplainedAgent{AgentID: id, Hostname: a.info.GetHostname(), State: state})
			reason("agent %s (%s) is %s: nobody is offered its resources", id, a.info.GetHostname(), state)
		}
	}
	explainer, ok := c.alloc.(allocator.Explainer)
	if !ok {
		reason("the allocator does not explain its decisions")
		return ex, true
	}
	ax, ok := explainer.Explain(fw.id, c.now)
	if !ok {
		return ex, true
	}
	for _, r := range ax.Roles {
		re := RoleExplanation{
			Role: r.Role, Subscribed: r.Subscribed, Suppressed: r.Suppressed, Offerable: r.Offerable,
			Share: r.Share, Weight: r.Weight, RoleShare: r.RoleShare,
			Frameworks: []FrameworkShare{}, SiblingRoles: []RoleShare{}, Filters: []ExplainedFilter{},
			ConstrainedOut: append([]string{}, r.ConstrainedOut...), TooSmall: []AgentFree{},
			NothingFree: append([]string{}, r.NothingFree...), MinAllocatable: r.MinAllocatable,
			Quotas: []QuotaOf{}, AtQuotaLimit: []LimitReached{}, HeadroomHeld: map[string]float64{},
			HeadroomFor: append([]string{}, r.HeadroomFor...),
		}
		for _, q := range r.Quotas {
			re.Quotas = append(re.Quotas, QuotaOf{Role: q.Role, Guarantees: q.Guarantees, Limits: q.Limits, Consumed: q.Consumed})
		}
		for _, l := range r.AtLimit {
			re.AtQuotaLimit = append(re.AtQuotaLimit, LimitReached{Role: l.Role, Resource: l.Resource, Limit: l.Limit, Consumed: l.Consumed})
			if r.Offerable {
				reason("role %s is at its quota limit: role %s consumes %g %s of its limit %g, so no more unreserved %s is offered in role %s", r.Role, l.Role, l.Consumed, l.Resource, l.Limit, l.Resource, r.Role)
			}
		}
		for name, v := range r.HeadroomHeld {
			re.HeadroomHeld[name] = v
		}
		if len(r.HeadroomHeld) > 0 && r.Offerable {
			reason("quota headroom held for other roles: %s of the free unreserved resources are kept for the unmet guarantees of %s, and role %s may not be offered them", freeString(r.HeadroomHeld), strings.Join(r.HeadroomFor, ", "), r.Role)
		}
		if re.ConstrainedOut == nil {
			re.ConstrainedOut = []string{}
		}
		if re.NothingFree == nil {
			re.NothingFree = []string{}
		}
		for _, f := range r.Frameworks {
			re.Frameworks = append(re.Frameworks, FrameworkShare{FrameworkID: f.FrameworkID, Share: f.Share})
		}
		for _, s := range r.SiblingRoles {
			re.SiblingRoles = append(re.SiblingRoles, RoleShare{Role: s.Role, Weight: s.Weight, Share: s.Share})
		}
		for _, t := range r.TooSmall {
			re.TooSmall = append(re.TooSmall, AgentFree{AgentID: t.AgentID, Free: t.Free})
		}
		if r.Suppressed {
			reason("role %s is suppressed: no offers in it until REVIVE (or UPDATE_FRAMEWORK) unsuppresses it", r.Role)
		}
		if !r.Subscribed {
			reason("role %s is no longer subscribed: it only holds resources allocated before", r.Role)
		}
		for _, f := range r.Filters {
			remaining := f.Expires.Sub(c.now)
			re.Filters = append(re.Filters, ExplainedFilter{
				AgentID: f.AgentID, Hostname: hostname(f.AgentID), Resources: f.Resources,
				Expires: float64(f.Expires.UnixNano()) / 1e9, Remaining: remaining.Seconds(),
			})
			reason("a decline filter in role %s blocks agent %s (%s) until %s (%s from now): %s",
				r.Role, f.AgentID, hostname(f.AgentID), f.Expires.UTC().Format(time.RFC3339), remaining.Round(time.Second), f.Resources)
		}
		for _, id := range r.ConstrainedOut {
			reason("its offer constraints for role %s rule out agent %s (%s)", r.Role, id, hostname(id))
		}
		for _, t := range r.TooSmall {
			reason("agent %s (%s) has too little free for role %s to reach the minimum allocatable resources: %s", t.AgentID, hostname(t.AgentID), r.Role, freeString(t.Free))
		}
		if len(r.Frameworks) > 1 && r.Offerable {
			low := r.Frameworks[0]
			if low.FrameworkID != fw.id && low.Share < r.Share {
				reason("in role %s its dominant share %.4g is above framework %s's %.4g, which is offered first", r.Role, r.Share, low.FrameworkID, low.Share)
			}
		}
		if len(r.SiblingRoles) > 1 && r.Offerable {
			low := r.SiblingRoles[0]
			if low.Role != r.Role && low.Share/low.Weight < r.RoleShare/r.Weight {
				reason("role %s (weight %g, dominant share %.4g) comes after role %s (weight %g, dominant share %.4g)", r.Role, r.Weight, r.RoleShare, low.Role, low.Weight, low.Share)
			}
		}
		ex.PerRole = append(ex.PerRole, re)
	}
	return ex, true
}

func freeString(free map[string]float64) string {
	names := make([]string, 0, len(free))
	for n := range free {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s:%g", n, free[n]))
	}
	if len(parts) == 0 {
		return "nothing scalar"
	}
	return strings.Join(parts, ";")
}
