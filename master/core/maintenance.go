package core

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/gomesos/gomesos/api/agentproto"
	registrypb "github.com/gomesos/gomesos/api/registry"
	"github.com/gomesos/gomesos/api/v1/maintenance"
	masterpb "github.com/gomesos/gomesos/api/v1/master"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/master/allocator"
	"google.golang.org/protobuf/proto"
)

// Maintenance primitives (Mesos's docs/maintenance.md). The operator posts
// a schedule of windows, each a set of machines and their unavailability:
// those machines are DRAINING. Offers of their agents carry the
// unavailability, and each framework with resources on them gets an
// inverse offer, which it accepts or declines; the answers show in the
// maintenance status. START_MAINTENANCE takes machines DOWN: their agents
// are removed and refused while the machines are down. STOP_MAINTENANCE
// brings them UP again and takes them out of the schedule. The schedule
// and the machines' modes are kept in the registry (UPDATE_MAINTENANCE).
//
// A machine is known by hostname (not case-sensitive) and IP; an agent is
// on a machine when the machine's hostname, if given, is the agent's and
// its IP, if given, is the agent's.

// machine is a machine in maintenance.
type machine struct {
	id             *mesos.MachineID
	mode           mesos.MachineInfo_Mode
	unavailability *mesos.Unavailability
	// statuses are the frameworks' answers to the inverse offers for the
	// machine's agents, by framework id, while it is DRAINING.
	statuses map[string]*maintenance.InverseOfferStatus
}

// inverseOffer is an outstanding inverse offer.
type inverseOffer struct {
	id, frameworkID, agentID string
	machine                  string // its machine's key
	pb                       *mesos.InverseOffer
}

// machineKey names a machine: its hostname in lower case and its IP.
func machineKey(id *mesos.MachineID) string {
	return strings.ToLower(id.GetHostname()) + "/" + id.GetIp()
}

// machineName is a machine as the error messages show it.
func machineName(id *mesos.MachineID) string {
	return fmt.Sprintf("%s (%s)", id.GetHostname(), id.GetIp())
}

// onMachine reports whether an agent with hostname and ip is on the
// machine id.
func onMachine(id *mesos.MachineID, hostname, ip string) bool {
	if id.GetHostname() == "" && id.GetIp() == "" {
		return false
	}
	return (id.GetHostname() == "" || strings.EqualFold(id.GetHostname(), hostname)) &&
		(id.GetIp() == "" || id.GetIp() == ip)
}

// machineOf is the machine in maintenance an agent with hostname and ip is
// on, nil when none is.
func (c *Core) machineOf(hostname, ip string) (string, *machine) {
	for _, key := range sortedKeys(c.machines) {
		if m := c.machines[key]; onMachine(m.id, hostname, ip) {
			return key, m
		}
	}
	return "", nil
}

func (c *Core) agentMachine(a *agent) (string, *machine) {
	return c.machineOf(a.info.GetHostname(), a.ip())
}

// registrationIP is the IP of a registering agent: the host of the
// endpoint it serves at, or its hostname.
func registrationIP(info *mesos.AgentInfo, endpoint string) string {
	if host, ok := hostOf(endpoint); ok {
		return host
	}
	return info.GetHostname()
}

// refuseDownAgent tells an agent whose machine is DOWN to shut down.
func (c *Core) refuseDownAgent(conn string, info *mesos.AgentInfo, endpoint string) bool {
	_, m := c.machineOf(info.GetHostname(), registrationIP(info, endpoint))
	if m == nil || m.mode != mesos.MachineInfo_DOWN {
		return false
	}
	c.log.Warn("refusing an agent whose machine is down for maintenance", "hostname", info.GetHostname(), "agent", info.GetId().GetValue())
	c.emit(SendAgent{Conn: conn, Msg: &agentproto.MasterMessage{
		Type:    agentproto.MasterMessage_SHUTDOWN.Enum(),
		Message: ptr("Agent attempted to register while its machine is in maintenance (DOWN)"),
	}})
	c.emit(CloseAgent{Conn: conn})
	return true
}

// validateMachineID checks a machine id as Mesos does.
func validateMachineID(id *mesos.MachineID) error {
	if id.GetHostname() == "" && id.GetIp() == "" {
		return fmt.Errorf("Both 'hostname' and 'ip' for a machine are empty")
	}
	if ip := id.GetIp(); ip != "" {
		if _, err := netip.ParseAddr(ip); err != nil {
			return fmt.Errorf("Invalid IP '%s' for machine '%s'", ip, id.GetHostname())
		}
	}
	return nil
}

// validateSchedule checks a schedule: each window has machines and an
// unavailability with a start, each machine is valid and in one window,
// and every DOWN machine is in it.
func (c *Core) validateSchedule(s *maintenance.Schedule) error {
	seen := map[string]bool{}
	for i, w := range s.GetWindows() {
		if len(w.GetMachineIds()) == 0 {
			return fmt.Errorf("List of machines in maintenance window %d is empty", i)
		}
		u := w.GetUnavailability()
		if u.GetStart() == nil {
			return fmt.Errorf("Maintenance window %d has no unavailability start", i)
		}
		if u.GetDuration().GetNanoseconds() < 0 {
			return fmt.Errorf("Maintenance window %d has a negative unavailability duration", i)
		}
		for _, id := range w.GetMachineIds() {
			if err := validateMachineID(id); err != nil {
				return err
			}
			key := machineKey(id)
			if seen[key] {
				return fmt.Errorf("Machine '%s' appears more than once in the schedule", machineName(id))
			}
			seen[key] = true
		}
	}
	for _, key := range sortedKeys(c.machines) {
		if m := c.machines[key]; m.mode == mesos.MachineInfo_DOWN && !seen[key] {
			return fmt.Errorf("Machine '%s' is DOWN and must be in the schedule", machineName(m.id))
		}
	}
	return nil
}

// validateMachineList checks the machines of START/STOP_MAINTENANCE: a
// list of valid machines, each once, each in maintenance in mode want.
func (c *Core) validateMachineList(ids []*mesos.MachineID, want mesos.MachineInfo_Mode) error {
	if len(ids) == 0 {
		return fmt.Errorf("List of machines is empty")
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if err := validateMachineID(id); err != nil {
			return err
		}
		key := machineKey(id)
		if seen[key] {
			return fmt.Errorf("Machine '%s' appears more than once", machineName(id))
		}
		seen[key] = true
		m := c.machines[key]
		if m == nil {
			return fmt.Errorf("Machine '%s' is not part of a maintenance schedule", machineName(id))
		}
		if m.mode != want {
			return fmt.Errorf("Machine '%s' is %s, not %s", machineName(id), m.mode, want)
		}
	}
	return nil
}

// operatorUpdateSchedule replaces the maintenance schedule.
func (c *Core) operatorUpdateSchedule(u *masterpb.Call_UpdateMaintenanceSchedule) Result {
	s := u.GetSchedule()
	if s == nil {
		return fail(Invalid, "Expecting 'update_maintenance_schedule.schedule' to be present")
	}
	if err := c.validateSchedule(s); err != nil {
		return fail(Invalid, "Invalid maintenance schedule: %s", err)
	}
	next := map[string]*machine{}
	for _, w := range s.GetWindows() {
		for _, id := range w.GetMachineIds() {
			key := machineKey(id)
			m := &machine{id: clone(id), mode: mesos.MachineInfo_DRAINING, unavailability: clone(w.GetUnavailability()),
				statuses: map[string]*maintenance.InverseOfferStatus{}}
			if old := c.machines[key]; old != nil {
				m.mode = old.mode
				if proto.Equal(old.unavailability, m.unavailability) {
					m.statuses = old.statuses
				}
			}
			next[key] = m
		}
	}
	// Machines that leave, or whose unavailability changed: their
	// inverse offers are rescinded and their agents' offers re-sent.
	var changed []string
	for key, old := range c.machines {
		if m := next[key]; m == nil || !proto.Equal(old.unavailability, m.unavailability) {
			changed = append(changed, key)
		}
	}
	for key := range next {
		if c.machines[key] == nil {
			changed = append(changed, key)
		}
	}
	var sched *maintenance.Schedule
	if len(s.GetWindows()) > 0 {
		sched = clone(s)
	}
	prev := c.machines
	c.schedule, c.machines = sched, next
	c.persistMaintenance()
	slices.Sort(changed)
	for _, key := range changed {
		c.rescindMachineInverseOffers(key)
		m := next[key]
		if m == nil {
			m = prev[key]
		}
		for _, a := range c.agentsOn(m.id) {
			c.rescindAgentOffers(a)
		}
	}
	c.maintChanged = true
	c.allocateSoon = true
	c.sendInverseOffers()
	return Result{Code: OK}
}

// operatorStartMaintenance takes DRAINING machines DOWN: their agents are
// removed and told to shut down.
func (c *Core) operatorStartMaintenance(s *masterpb.Call_StartMaintenance) Result {
	if err := c.validateMachineList(s.GetMachines(), mesos.MachineInfo_DRAINING); err != nil {
		return fail(Invalid, "Invalid 'start_maintenance.machines': %s", err)
	}
	var down []*agent
	for _, id := range s.GetMachines() {
		key := machineKey(id)
		m := c.machines[key]
		m.mode = mesos.MachineInfo_DOWN
		m.statuses = map[string]*maintenance.InverseOfferStatus{}
		down = append(down, c.agentsOn(m.id)...)
	}
	c.persistMaintenance()
	for _, a := range down {
		c.persist(&registrypb.Operation{Type: registrypb.Operation_REMOVE_AGENT.Enum(), AgentId: agentIDProto(a.id)})
	}
	for _, id := range s.GetMachines() {
		c.rescindMachineInverseOffers(machineKey(id))
	}
	for _, a := range down {
		c.log.Info("removing an agent whose machine goes down for maintenance", "agent", a.id)
		c.dropAgent(a, "machine is down for maintenance", mesos.TaskStatus_REASON_AGENT_REMOVED_BY_OPERATOR, true)
	}
	c.maintChanged = true
	return Result{Code: OK}
}

// operatorStopMaintenance brings DOWN machines UP: they leave the
// schedule, and their agents may register again.
func (c *Core) operatorStopMaintenance(s *masterpb.Call_StopMaintenance) Result {
	if err := c.validateMachineList(s.GetMachines(), mesos.MachineInfo_DOWN); err != nil {
		return fail(Invalid, "Invalid 'stop_maintenance.machines': %s", err)
	}
	up := map[string]bool{}
	for _, id := range s.GetMachines() {
		up[machineKey(id)] = true
		delete(c.machines, machineKey(id))
	}
	if c.schedule != nil {
		var windows []*maintenance.Window
		for _, w := range c.schedule.GetWindows() {
			w = clone(w)
			w.MachineIds = slices.DeleteFunc(w.MachineIds, func(id *mesos.MachineID) bool { return up[machineKey(id)] })
			if len(w.MachineIds) > 0 {
				windows = append(windows, w)
			}
		}
		c.schedule = nil
		if len(windows) > 0 {
			c.schedule = &maintenance.Schedule{Windows: windows}
		}
	}
	c.persistMaintenance()
	c.maintChanged = true
	return Result{Code: OK}
}

// persistMaintenance records the schedule and the machines' modes.
func (c *Core) persistMaintenance() {
	op := &registrypb.Operation{Type: registrypb.Operation_UPDATE_MAINTENANCE.Enum(), Schedule: &maintenance.Schedule{}}
	if c.schedule != nil {
		op.Schedule = clone(c.schedule)
	}
	if len(c.machines) > 0 {
		op.Machines = &registrypb.Registry_Machines{}
		for _, key := range sortedKeys(c.machines) {
			m := c.machines[key]
			op.Machines.Machines = append(op.Machines.Machines, &registrypb.Registry_Machine{Info: &mesos.MachineInfo{
				Id: clone(m.id), Mode: m.mode.Enum(), Unavailability: clone(m.unavailability),
			}})
		}
	}
	c.persist(op)
}

// recoverMaintenance restores the schedule and the machines from the
// registry.
func (c *Core) recoverMaintenance(reg *registrypb.Registry) {
	if len(reg.GetSchedules()) > 0 {
		c.schedule = clone(reg.GetSchedules()[0])
	}
	for _, rm := range reg.GetMachines().GetMachines() {
		info := rm.GetInfo()
		c.machines[machineKey(info.GetId())] = &machine{
			id: clone(info.GetId()), mode: info.GetMode(), unavailability: clone(info.GetUnavailability()),
			statuses: map[string]*maintenance.InverseOfferStatus{},
		}
	}
	c.maintChanged = true
}

// agentsOn are the admitted agents on the machine id, in id order.
func (c *Core) agentsOn(id *mesos.MachineID) []*agent {
	var out []*agent
	for _, aid := range c.sortedAgentOrder() {
		if a := c.agents[aid]; onMachine(id, a.info.GetHostname(), a.ip()) {
			out = append(out, a)
		}
	}
	return out
}

// unavailabilityOf is the unavailability of a DRAINING agent's machine,
// which its offers carry.
func (c *Core) unavailabilityOf(a *agent) *mesos.Unavailability {
	if len(c.machines) == 0 {
		return nil
	}
	if _, m := c.agentMachine(a); m != nil && m.mode == mesos.MachineInfo_DRAINING {
		return m.unavailability
	}
	return nil
}

// sendInverseOffers sends each framework that uses resources on an agent
// of a DRAINING machine an inverse offer for that agent, unless it has one
// outstanding or its answer's filter (refuse_seconds, 5 s by default) has
// not expired: as Mesos's allocator, it asks again after that.
func (c *Core) sendInverseOffers() {
	if len(c.machines) == 0 {
		return
	}
	byFramework := map[string][]*mesos.InverseOffer{}
	for _, aid := range c.sortedAgentOrder() {
		a := c.agents[aid]
		key, m := c.agentMachine(a)
		if m == nil || m.mode != mesos.MachineInfo_DRAINING {
			continue
		}
		used := c.agentUsedByFramework(a)
		for _, fwID := range sortedKeys(used) {
			fw := c.frameworks[fwID]
			if fw == nil || fw.stream == "" || used[fwID].IsEmpty() || c.hasInverseOffer(fwID, a.id) {
				continue
			}
			fkey := fwID + "/" + a.id
			if until, ok := c.inverseFilters[fkey]; ok {
				if c.now.Before(until) {
					continue
				}
				delete(c.inverseFilters, fkey)
			}
			id := fmt.Sprintf("%s-IO%d", c.info.GetId(), c.nextInverseOffer)
			c.nextInverseOffer++
			pb := &mesos.InverseOffer{
				Id: &mesos.OfferID{Value: proto.String(id)}, FrameworkId: &mesos.FrameworkID{Value: proto.String(fwID)},
				AgentId: agentIDProto(a.id), Unavailability: clone(m.unavailability),
				Url: &mesos.URL{Scheme: ptr("http"), Address: &mesos.Address{Hostname: a.info.Hostname, Ip: ptr(a.ip()), Port: ptr(a.info.GetPort())}, Path: ptr("/slave(1)")},
			}
			c.inverseOffers[id] = &inverseOffer{id: id, frameworkID: fwID, agentID: a.id, machine: key, pb: pb}
			c.maintChanged = true
			if m.statuses[fwID] == nil {
				m.statuses[fwID] = &maintenance.InverseOfferStatus{
					Status: maintenance.InverseOfferStatus_UNKNOWN.Enum(), FrameworkId: &mesos.FrameworkID{Value: proto.String(fwID)}, Timestamp: timeInfo(c.now),
				}
				c.maintChanged = true
			}
			byFramework[fwID] = append(byFramework[fwID], clone(pb))
		}
	}
	for _, fwID := range sortedKeys(byFramework) {
		c.sendToFramework(c.frameworks[fwID], &schedpb.Event{Type: schedpb.Event_INVERSE_OFFERS.Enum(),
			InverseOffers: &schedpb.Event_InverseOffers{InverseOffers: byFramework[fwID]}})
	}
}

func (c *Core) hasInverseOffer(fwID, agentID string) bool {
	for _, io := range c.inverseOffers {
		if io.frameworkID == fwID && io.agentID == agentID {
			return true
		}
	}
	return false
}

// answerInverseOffers records a framework's answer to its inverse offers
// (ACCEPT_INVERSE_OFFERS, DECLINE_INVERSE_OFFERS). Ids the framework does
// not hold are ignored, as Mesos does.
func (c *Core) answerInverseOffers(fw *framework, ids []*mesos.OfferID, filters *mesos.Filters, status maintenance.InverseOfferStatus_Status) {
	refuse := allocator.RefuseDuration(filters.GetRefuseSeconds())
	for _, oid := range ids {
		io := c.inverseOffers[oid.GetValue()]
		if io == nil || io.frameworkID != fw.id {
			c.log.Warn("ignoring an answer to an unknown inverse offer", "framework", fw.id, "inverse_offer", oid.GetValue())
			continue
		}
		delete(c.inverseOffers, io.id)
		c.maintChanged = true
		if refuse > 0 {
			c.inverseFilters[io.frameworkID+"/"+io.agentID] = c.now.Add(refuse)
		}
		if m := c.machines[io.machine]; m != nil && m.mode == mesos.MachineInfo_DRAINING {
			m.statuses[fw.id] = &maintenance.InverseOfferStatus{
				Status: status.Enum(), FrameworkId: &mesos.FrameworkID{Value: proto.String(fw.id)}, Timestamp: timeInfo(c.now),
			}
			c.maintChanged = true
		}
	}
}

// rescindMachineInverseOffers takes back the inverse offers for a
// machine's agents.
func (c *Core) rescindMachineInverseOffers(key string) {
	c.rescindInverseOffers(func(io *inverseOffer) bool { return io.machine == key }, true)
}

// rescindInverseOffers removes the outstanding inverse offers that match,
// telling their frameworks when notify is set.
func (c *Core) rescindInverseOffers(match func(*inverseOffer) bool, notify bool) {
	if len(c.inverseOffers) == 0 {
		return
	}
	for _, id := range sortedKeys(c.inverseOffers) {
		io := c.inverseOffers[id]
		if !match(io) {
			continue
		}
		delete(c.inverseOffers, id)
		c.maintChanged = true
		if notify {
			c.sendToFramework(c.frameworks[io.frameworkID], &schedpb.Event{Type: schedpb.Event_RESCIND_INVERSE_OFFER.Enum(),
				RescindInverseOffer: &schedpb.Event_RescindInverseOffer{InverseOfferId: &mesos.OfferID{Value: proto.String(id)}}})
		}
	}
}

// inverseOffersByFramework are the outstanding inverse offers, by
// framework, as GET_FRAMEWORKS shows them.
func (c *Core) inverseOffersByFramework() map[string][]*mesos.InverseOffer {
	out := map[string][]*mesos.InverseOffer{}
	for _, id := range sortedKeys(c.inverseOffers) {
		io := c.inverseOffers[id]
		out[io.frameworkID] = append(out[io.frameworkID], io.pb)
	}
	return out
}

// maintenanceSchedule is the schedule as GET_MAINTENANCE_SCHEDULE shows it.
func (c *Core) maintenanceSchedule() *maintenance.Schedule {
	if c.schedule == nil {
		return &maintenance.Schedule{}
	}
	return clone(c.schedule)
}

// maintenanceStatus is the machines' status as GET_MAINTENANCE_STATUS
// shows it: the DRAINING machines with the frameworks' answers, and the
// DOWN machines.
func (c *Core) maintenanceStatus() *maintenance.ClusterStatus {
	out := &maintenance.ClusterStatus{}
	for _, key := range sortedKeys(c.machines) {
		m := c.machines[key]
		switch m.mode {
		case mesos.MachineInfo_DRAINING:
			dm := &maintenance.ClusterStatus_DrainingMachine{Id: clone(m.id)}
			for _, fwID := range sortedKeys(m.statuses) {
				dm.Statuses = append(dm.Statuses, clone(m.statuses[fwID]))
			}
			out.DrainingMachines = append(out.DrainingMachines, dm)
		case mesos.MachineInfo_DOWN:
			out.DownMachines = append(out.DownMachines, clone(m.id))
		}
	}
	return out
}
