package core

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/internal/checkspec"
	"github.com/gomesos/gomesos/internal/ids"
	"github.com/gomesos/gomesos/master/allocator"
)

// ValidateSchedulerCall checks a call's shape the way Mesos's
// validation::scheduler::call::validate does: each type must carry its
// sub-message and non-SUBSCRIBE calls need a framework id. It needs no
// master state, so the HTTP layer runs it before the call reaches the Core.
func ValidateSchedulerCall(call *schedpb.Call) error {
	if call.Type == nil {
		return errors.New("Expecting 'type' to be present")
	}
	t := call.GetType()
	if t == schedpb.Call_SUBSCRIBE {
		if call.Subscribe == nil {
			return errors.New("Expecting 'subscribe' to be present")
		}
		// As in Mesos, an unset id equals only an unset id: a resubscribing
		// framework names itself in both places.
		fi := call.GetSubscribe().GetFrameworkInfo()
		if fi.GetId().GetValue() != call.GetFrameworkId().GetValue() {
			return errors.New("'framework_id' differs from 'subscribe.framework_info.id'")
		}
		return nil
	}
	// UNKNOWN too needs a framework id: Mesos answers it 501 only after the
	// framework and stream checks.
	if call.FrameworkId == nil {
		return errors.New("Expecting 'framework_id' to be present")
	}
	missing := func(name string) error { return fmt.Errorf("Expecting '%s' to be present", name) }
	switch t {
	case schedpb.Call_ACCEPT:
		if call.Accept == nil {
			return missing("accept")
		}
	case schedpb.Call_DECLINE:
		if call.Decline == nil {
			return missing("decline")
		}
	case schedpb.Call_KILL:
		if call.Kill == nil {
			return missing("kill")
		}
	case schedpb.Call_SHUTDOWN:
		if call.Shutdown == nil {
			return missing("shutdown")
		}
	case schedpb.Call_ACKNOWLEDGE:
		if call.Acknowledge == nil {
			return missing("acknowledge")
		}
		if len(call.GetAcknowledge().GetUuid()) != 16 {
			return errors.New("Invalid UUID in 'acknowledge.uuid': expecting 16 bytes")
		}
	case schedpb.Call_RECONCILE:
		if call.Reconcile == nil {
			return missing("reconcile")
		}
	case schedpb.Call_MESSAGE:
		if call.Message == nil {
			return missing("message")
		}
	case schedpb.Call_REQUEST:
		if call.Request == nil {
			return missing("request")
		}
	case schedpb.Call_ACCEPT_INVERSE_OFFERS:
		if call.AcceptInverseOffers == nil {
			return missing("accept_inverse_offers")
		}
	case schedpb.Call_DECLINE_INVERSE_OFFERS:
		if call.DeclineInverseOffers == nil {
			return missing("decline_inverse_offers")
		}
	case schedpb.Call_ACKNOWLEDGE_OPERATION_STATUS:
		if call.AcknowledgeOperationStatus == nil {
			return missing("acknowledge_operation_status")
		}
		if len(call.GetAcknowledgeOperationStatus().GetUuid()) != 16 {
			return errors.New("Invalid UUID in 'acknowledge_operation_status.uuid': expecting 16 bytes")
		}
		if call.GetAcknowledgeOperationStatus().OperationId == nil {
			return errors.New("Expecting 'acknowledge_operation_status.operation_id' to be present")
		}
	case schedpb.Call_RECONCILE_OPERATIONS:
		if call.ReconcileOperations == nil {
			return missing("reconcile_operations")
		}
	case schedpb.Call_UPDATE_FRAMEWORK:
		if call.UpdateFramework == nil {
			return missing("update_framework")
		}
	case schedpb.Call_TEARDOWN, schedpb.Call_REVIVE, schedpb.Call_SUPPRESS, schedpb.Call_UNKNOWN:
	default:
		return fmt.Errorf("Unsupported call type %s", t)
	}
	return nil
}

// validateRole checks a role name by Mesos's rules (src/common/roles.cpp),
// with its messages: "*" alone, or '/'-separated components, none empty,
// "." , ".." or "*", none starting with '-' or holding whitespace or DEL.
func validateRole(role string) error { return ValidateRoleName(role) }

// ValidateRoleName is validateRole for the master's flags (--roles).
func ValidateRoleName(role string) error {
	if role == "*" {
		return nil
	}
	if strings.HasPrefix(role, "/") {
		return fmt.Errorf("Role '%s' cannot start with a slash", role)
	}
	if strings.HasSuffix(role, "/") {
		return fmt.Errorf("Role '%s' cannot end with a slash", role)
	}
	if strings.Contains(role, "//") {
		return fmt.Errorf("Role '%s' cannot contain two adjacent slashes", role)
	}
	if role == "" {
		return errors.New("Role names cannot be the empty string")
	}
	for _, part := range strings.Split(role, "/") {
		switch {
		case part == "." || part == ".." || part == "*":
			return fmt.Errorf("Role '%s' cannot include '%s' as a component", role, part)
		case strings.HasPrefix(part, "-"):
			return fmt.Errorf("Role component '%s' is invalid because it starts with a dash", part)
		case strings.ContainsAny(part, "\t\n\v\f\r \x7f"):
			return fmt.Errorf("Role component '%s' is invalid because it contains backspace or whitespace", part)
		}
	}
	return nil
}

// ParseRoles parses the master's --roles: a comma-separated list of valid
// role names (empty items are skipped, as Mesos's tokenize does).
func ParseRoles(text string) ([]string, error) {
	var out []string
	for _, r := range strings.Split(text, ",") {
		if r == "" {
			continue
		}
		if err := ValidateRoleName(r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

func validateFrameworkInfo(info *mesos.FrameworkInfo, suppressed []string) error {
	multi := false
	for _, c := range info.GetCapabilities() {
		if c.GetType() == mesos.FrameworkInfo_Capability_MULTI_ROLE {
			multi = true
		}
	}
	if multi && info.Role != nil {
		return errors.New("'FrameworkInfo.role' must not be set for a MULTI_ROLE framework; use 'FrameworkInfo.roles'")
	}
	if !multi && len(info.GetRoles()) > 0 {
		return errors.New("'FrameworkInfo.roles' is set but the framework lacks the MULTI_ROLE capability")
	}
	roles := frameworkRoles(info)
	set := map[string]bool{}
	for _, r := range roles {
		if err := validateRole(r); err != nil {
			return err
		}
		if set[r] {
			return fmt.Errorf("'FrameworkInfo.roles' contains duplicate role '%s'", r)
		}
		set[r] = true
	}
	// As Mesos's validateFrameworkId: an id is checked only when there is
	// one (a new framework has none).
	if id := info.GetId().GetValue(); id != "" {
		if err := ids.Validate(id); err != nil {
			return err
		}
	}
	for _, r := range suppressed {
		if !set[r] {
			return fmt.Errorf("Suppressed role '%s' is not contained in the list of roles", r)
		}
	}
	for _, r := range sortedKeys(info.GetOfferFilters()) {
		if !set[r] {
			return fmt.Errorf("FrameworkInfo includes OfferFilters for role '%s', but the framework is not subscribed to this role", r)
		}
		for _, q := range info.GetOfferFilters()[r].GetMinAllocatableResources().GetQuantities() {
			for _, name := range sortedKeys(q.GetQuantities()) {
				if v := q.GetQuantities()[name].GetValue(); v < 0 || v != v || math.IsInf(v, 0) {
					return fmt.Errorf("Invalid min_allocatable_resources of role '%s': '%s' must be a non-negative number", r, name)
				}
			}
		}
	}
	// As in Mesos, it must be a valid duration: a longer one (> ~292 years)
	// would overflow and read as "no timeout at all".
	if ft := info.GetFailoverTimeout(); ft < 0 || ft != ft || ft*float64(time.Second) >= math.MaxInt64 {
		return fmt.Errorf("Invalid 'FrameworkInfo.failover_timeout' %v", ft)
	}
	return nil
}

// validateTask checks one TaskInfo of a LAUNCH or LAUNCH_GROUP.
func validateTask(ti *mesos.TaskInfo, a *agent, fw *framework, inGroup bool) error {
	id := ti.GetTaskId().GetValue()
	// Mesos reports a bad task id with validateID's message alone.
	if err := ids.Validate(id); err != nil {
		return err
	}
	if _, dup := fw.tasks[id]; dup {
		return fmt.Errorf("Task has duplicate ID: %s", id)
	}
	for _, u := range fw.unreachable {
		if u.id == id {
			// As Mesos (MESOS-6785): the task may yet come back.
			return fmt.Errorf("Task reuses the ID of an unreachable task: %s", id)
		}
	}
	if ti.GetAgentId().GetValue() != a.id {
		return fmt.Errorf("Task uses invalid agent: %s", ti.GetAgentId().GetValue())
	}
	if inGroup {
		if ti.Executor != nil {
			return errors.New("'TaskInfo.executor' must not be set for a task in a task group")
		}
		if ti.Command == nil {
			return errors.New("'TaskInfo.command' must be set for a task in a task group")
		}
	} else if (ti.Executor == nil) == (ti.Command == nil) {
		return errors.New("Task should have at least one (but not both) of CommandInfo or ExecutorInfo present")
	}
	if cmd := ti.GetCommand(); cmd != nil && cmd.GetShell() && cmd.Value == nil {
		return errors.New("'CommandInfo.value' must be set when 'CommandInfo.shell' is true")
	}
	if cmd := ti.GetCommand(); cmd != nil && !cmd.GetShell() && cmd.Value == nil {
		return errors.New("'CommandInfo.value' must be set to the executable when 'CommandInfo.shell' is false")
	}
	if kp := ti.GetKillPolicy(); kp != nil && kp.GetGracePeriod().GetNanoseconds() < 0 {
		return errors.New("Task's 'kill_policy.grace_period' must be non-negative")
	}
	if ci := ti.GetCheck(); ci != nil {
		if err := checkspec.ValidateCheck(ci); err != nil {
			return fmt.Errorf("Task uses invalid check: %w", err)
		}
	}
	if hc := ti.GetHealthCheck(); hc != nil {
		if err := checkspec.ValidateHealthCheck(hc); err != nil {
			return fmt.Errorf("Task uses invalid health check: %w", err)
		}
	}
	if err := validateLimits(ti); err != nil {
		return err
	}
	if err := validateRevocableMix(ti.GetResources(), ti.GetExecutor().GetResources()); err != nil {
		return err
	}
	if inGroup && len(ti.GetLimits()) > 0 {
		// Mesos allows them only with LinuxInfo.share_cgroups false, which
		// gives each task of the group a cgroup of its own; Gomesos's
		// tasks of a group share their executor's.
		return errors.New("Resource limits may only be set for tasks within a task group when the 'share_cgroups' field is set to 'false'.")
	}
	return nil
}

// validateRevocableMix checks, as Mesos's master does for a task and its
// executor together, that no resource name is used both revocable and not
// (a task may take revocable cpus and non-revocable mem, not both kinds
// of cpus).
func validateRevocableMix(lists ...[]*mesos.Resource) error {
	anyRevocable := false
	for _, rs := range lists {
		for _, r := range rs {
			anyRevocable = anyRevocable || r.Revocable != nil
		}
	}
	if !anyRevocable {
		// The usual case: nothing to mix, and no maps to make.
		return nil
	}
	var rev, nonRev map[string]bool
	for _, rs := range lists {
		for _, r := range rs {
			if r.Revocable != nil {
				if rev == nil {
					rev = map[string]bool{}
				}
				rev[r.GetName()] = true
			} else {
				if nonRev == nil {
					nonRev = map[string]bool{}
				}
				nonRev[r.GetName()] = true
			}
		}
	}
	for _, rs := range lists {
		for _, r := range rs {
			if rev[r.GetName()] && nonRev[r.GetName()] {
				return fmt.Errorf("Cannot use both revocable and non-revocable '%s' at the same time", r.GetName())
			}
		}
	}
	return nil
}

// validateLimits checks TaskInfo.limits as Mesos's master does (every
// Gomesos agent has the TASK_RESOURCE_LIMITS capability): only cpus and
// mem, each with a request of its own and not below it; a limit may be
// infinite ("no limit").
func validateLimits(ti *mesos.TaskInfo) error {
	limits := ti.GetLimits()
	if len(limits) == 0 {
		return nil
	}
	for name := range limits {
		if name != "cpus" && name != "mem" {
			return errors.New("Only cpus and mem may be included in a task's resource limits")
		}
	}
	request := func(name string) (float64, bool) {
		var sum float64
		var found bool
		for _, r := range ti.GetResources() {
			if r.GetName() == name && r.GetType() == mesos.Value_SCALAR {
				sum += r.GetScalar().GetValue()
				found = true
			}
		}
		return sum, found
	}
	if l, ok := limits["cpus"]; ok {
		cpus, found := request("cpus")
		if !found {
			return errors.New("When a CPU limit is specified, a CPU request must also be specified")
		}
		if v := l.GetValue(); v != v || v < cpus {
			return errors.New("The cpu limit must be greater than or equal to the cpu request")
		}
	}
	if l, ok := limits["mem"]; ok {
		mem, found := request("mem")
		if !found {
			return errors.New("When a memory limit is specified, a memory request must also be specified")
		}
		if v := l.GetValue(); v != v || v < mem {
			return errors.New("The memory limit must be greater than or equal to the memory request")
		}
	}
	return nil
}

func validateExecutor(ex *mesos.ExecutorInfo, fw *framework) error {
	if err := ids.Validate(ex.GetExecutorId().GetValue()); err != nil {
		return err
	}
	if ex.FrameworkId != nil && ex.GetFrameworkId().GetValue() != fw.id {
		return fmt.Errorf("ExecutorInfo has an invalid FrameworkID (Actual: %s vs Expected: %s)", ex.GetFrameworkId().GetValue(), fw.id)
	}
	if ex.GetType() == mesos.ExecutorInfo_DEFAULT {
		return errors.New("'ExecutorInfo.type' DEFAULT is only allowed in LAUNCH_GROUP")
	}
	if ex.Command == nil {
		return errors.New("'ExecutorInfo.command' must be set for a CUSTOM executor")
	}
	return nil
}

func validateGroupExecutor(ex *mesos.ExecutorInfo, fw *framework, tasks []*mesos.TaskInfo) error {
	if ex.GetType() != mesos.ExecutorInfo_DEFAULT {
		return errors.New("'ExecutorInfo.type' must be DEFAULT for LAUNCH_GROUP")
	}
	if err := ids.Validate(ex.GetExecutorId().GetValue()); err != nil {
		return err
	}
	if ex.FrameworkId != nil && ex.GetFrameworkId().GetValue() != fw.id {
		return fmt.Errorf("ExecutorInfo has an invalid FrameworkID (Actual: %s vs Expected: %s)", ex.GetFrameworkId().GetValue(), fw.id)
	}
	if len(tasks) == 0 {
		return errors.New("Task group must contain at least one task")
	}
	return nil
}

// validateAgentRegistration checks the ids a REGISTER or REREGISTER carries,
// as Mesos's validation of RegisterSlaveMessage and ReregisterSlaveMessage
// does, with its messages: the agent's own id, the ids of the frameworks,
// executors and tasks it reports. An agent is trusted no more than a
// framework: one bad id refuses the whole message, before any of it becomes
// the master's state.
func validateAgentRegistration(reg *agentproto.AgentMessage_Register) error {
	agentID := reg.GetAgentInfo().GetId()
	if agentID != nil {
		if err := ids.Validate(agentID.GetValue()); err != nil {
			return err
		}
	}
	for _, fw := range reg.GetFrameworks() {
		if id := fw.GetId().GetValue(); id != "" {
			if err := ids.Validate(id); err != nil {
				return err
			}
		}
	}
	for _, rec := range reg.GetExecutors() {
		info := rec.GetInfo()
		exID := info.GetExecutorId().GetValue()
		if err := ids.Validate(exID); err != nil {
			return err
		}
		if fwID := info.GetFrameworkId().GetValue(); ids.Validate(fwID) != nil {
			return fmt.Errorf("Executor has an invalid FrameworkID '%s'", fwID)
		}
		if rec.ContainerId != nil {
			if err := ids.ValidateContainerID(rec.GetContainerId().GetValue()); err != nil {
				return fmt.Errorf("Executor '%s' has an invalid ContainerID: %v", exID, err)
			}
		}
	}
	for _, t := range reg.GetTasks() {
		if err := ids.Validate(t.GetTaskId().GetValue()); err != nil {
			return fmt.Errorf("Task has an invalid TaskID: %v", err)
		}
		if t.AgentId != nil && agentID != nil && t.GetAgentId().GetValue() != agentID.GetValue() {
			return fmt.Errorf("Task has an invalid SlaveID '%s'", t.GetAgentId().GetValue())
		}
		if fwID := t.GetFrameworkId().GetValue(); ids.Validate(fwID) != nil {
			return fmt.Errorf("Task has an invalid FrameworkID '%s'", fwID)
		}
		if t.ExecutorId != nil && ids.Validate(t.GetExecutorId().GetValue()) != nil {
			return fmt.Errorf("Task has an invalid ExecutorID '%s'", t.GetExecutorId().GetValue())
		}
	}
	return nil
}

// compileOfferConstraints checks a SUBSCRIBE's or UPDATE_FRAMEWORK's
// offer_constraints (Mesos 1.11) against the framework's roles and compiles
// them for the allocator. nil or empty constraints give nil.
func compileOfferConstraints(oc *schedpb.OfferConstraints, roles []string) (*allocator.OfferConstraints, error) {
	if len(oc.GetRoleConstraints()) == 0 {
		return nil, nil
	}
	spec := map[string][][]allocator.AttributeConstraint{}
	for _, role := range sortedKeys(oc.GetRoleConstraints()) {
		if !slices.Contains(roles, role) {
			return nil, fmt.Errorf("Offer constraints specify `role_constraints` for role '%s', to which the framework is not subscribed", role)
		}
		rc := oc.GetRoleConstraints()[role]
		if len(rc.GetGroups()) == 0 {
			return nil, fmt.Errorf("Offer constraints for role '%s' have no groups", role)
		}
		var groups [][]allocator.AttributeConstraint
		for gi, g := range rc.GetGroups() {
			if len(g.GetAttributeConstraints()) == 0 {
				return nil, fmt.Errorf("Offer constraints for role '%s': group %d has no attribute constraints", role, gi)
			}
			var group []allocator.AttributeConstraint
			for ci, ac := range g.GetAttributeConstraints() {
				where := fmt.Sprintf("Offer constraints for role '%s', group %d, constraint %d", role, gi, ci)
				var c allocator.AttributeConstraint
				sel := ac.GetSelector()
				switch s := sel.GetSelector().(type) {
				case *schedpb.AttributeConstraint_Selector_AttributeName:
					if s.AttributeName == "" {
						return nil, fmt.Errorf("%s: 'selector.attribute_name' is empty", where)
					}
					c.Name = s.AttributeName
				case *schedpb.AttributeConstraint_Selector_PseudoattributeType_:
					if s.PseudoattributeType == schedpb.AttributeConstraint_Selector_UNKNOWN {
						return nil, fmt.Errorf("%s: unknown 'selector.pseudoattribute_type'", where)
					}
					c.Pseudo = allocator.Pseudoattribute(s.PseudoattributeType)
				default:
					return nil, fmt.Errorf("%s: 'selector' must name an attribute or a pseudoattribute", where)
				}
				p := ac.GetPredicate()
				switch {
				case p.GetExists() != nil:
					c.Kind = allocator.Exists
				case p.GetNotExists() != nil:
					c.Kind = allocator.NotExists
				case p.GetTextEquals() != nil:
					c.Kind, c.Value = allocator.TextEquals, p.GetTextEquals().GetValue()
				case p.GetTextNotEquals() != nil:
					c.Kind, c.Value = allocator.TextNotEquals, p.GetTextNotEquals().GetValue()
				case p.GetTextMatches() != nil:
					c.Kind, c.Value = allocator.TextMatches, p.GetTextMatches().GetRegex()
				case p.GetTextNotMatches() != nil:
					c.Kind, c.Value = allocator.TextNotMatches, p.GetTextNotMatches().GetRegex()
				default:
					return nil, fmt.Errorf("%s: 'predicate' is not set", where)
				}
				group = append(group, c)
			}
			groups = append(groups, group)
		}
		spec[role] = groups
	}
	compiled, err := allocator.NewOfferConstraints(spec)
	if err != nil {
		return nil, fmt.Errorf("Invalid offer constraints: %w", err)
	}
	return compiled, nil
}
