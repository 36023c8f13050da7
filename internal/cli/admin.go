package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/gomesos/gomesos/api/v1/maintenance"
	masterpb "github.com/gomesos/gomesos/api/v1/master"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/operator"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"
)

// Maintenance prints the maintenance schedule (GET_MAINTENANCE_SCHEDULE)
// and the machines' status (GET_MAINTENANCE_STATUS) as one table:
// HOSTNAME, IP, MODE (SCHEDULED, DRAINING or DOWN), START, DURATION. With
// JSON it prints the two responses, one JSON document after the other.
func Maintenance(ctx context.Context, c *operator.Client, out Output) error {
	sched, err := c.Do(ctx, masterpb.Call_GET_MAINTENANCE_SCHEDULE)
	if err != nil {
		return err
	}
	status, err := c.Do(ctx, masterpb.Call_GET_MAINTENANCE_STATUS)
	if err != nil {
		return err
	}
	if out.JSON {
		if err := printJSON(out.W, sched); err != nil {
			return err
		}
		return printJSON(out.W, status)
	}
	key := func(m *mesos.MachineID) string { return m.GetHostname() + "\x00" + m.GetIp() }
	mode := map[string]string{}
	for _, d := range status.GetGetMaintenanceStatus().GetStatus().GetDrainingMachines() {
		mode[key(d.GetId())] = "DRAINING"
	}
	for _, m := range status.GetGetMaintenanceStatus().GetStatus().GetDownMachines() {
		mode[key(m)] = "DOWN"
	}
	tw := newTable(out.W, "HOSTNAME", "IP", "MODE", "START", "DURATION")
	shown := map[string]bool{}
	for _, w := range sched.GetGetMaintenanceSchedule().GetSchedule().GetWindows() {
		u := w.GetUnavailability()
		dur := "-"
		if u.GetDuration() != nil {
			dur = codec.FormatDuration(time.Duration(u.GetDuration().GetNanoseconds()))
		}
		for _, m := range w.GetMachineIds() {
			md := mode[key(m)]
			if md == "" {
				md = "SCHEDULED"
			}
			shown[key(m)] = true
			row(tw, orDash(m.GetHostname()), orDash(m.GetIp()), md, timeOf(u.GetStart()), dur)
		}
	}
	// Machines in maintenance but no longer in the schedule.
	for _, m := range status.GetGetMaintenanceStatus().GetStatus().GetDownMachines() {
		if !shown[key(m)] {
			row(tw, orDash(m.GetHostname()), orDash(m.GetIp()), "DOWN", "-", "-")
		}
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ReadSchedule reads a maintenance schedule, the JSON of
// mesos.v1.maintenance.Schedule ({"windows":[...]}), from a file.
func ReadSchedule(file string) (*maintenance.Schedule, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	s := &maintenance.Schedule{}
	if err := codec.Unmarshal(codec.JSON, b, s); err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	return s, nil
}

// UpdateSchedule replaces the maintenance schedule
// (UPDATE_MAINTENANCE_SCHEDULE).
func UpdateSchedule(ctx context.Context, c *operator.Client, s *maintenance.Schedule, w io.Writer) error {
	call := &masterpb.Call{Type: masterpb.Call_UPDATE_MAINTENANCE_SCHEDULE.Enum(),
		UpdateMaintenanceSchedule: &masterpb.Call_UpdateMaintenanceSchedule{Schedule: s}}
	if _, err := c.Call(ctx, call); err != nil {
		return err
	}
	fmt.Fprintf(w, "Maintenance schedule updated: %d window(s)\n", len(s.GetWindows()))
	return nil
}

// ParseMachines parses machine arguments, HOSTNAME or HOSTNAME/IP (a bare
// IP is written /IP).
func ParseMachines(args []string) ([]*mesos.MachineID, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("expecting machines, HOSTNAME or HOSTNAME/IP")
	}
	var out []*mesos.MachineID
	for _, a := range args {
		host, ip, _ := strings.Cut(a, "/")
		if host == "" && ip == "" {
			return nil, fmt.Errorf("%q: expecting HOSTNAME or HOSTNAME/IP", a)
		}
		m := &mesos.MachineID{}
		if host != "" {
			m.Hostname = proto.String(host)
		}
		if ip != "" {
			m.Ip = proto.String(ip)
		}
		out = append(out, m)
	}
	return out, nil
}

// MachinesDown starts maintenance on machines (START_MAINTENANCE); up
// ends it (STOP_MAINTENANCE).
func MachinesDown(ctx context.Context, c *operator.Client, machines []*mesos.MachineID, up bool, w io.Writer) error {
	call := &masterpb.Call{Type: masterpb.Call_START_MAINTENANCE.Enum(), StartMaintenance: &masterpb.Call_StartMaintenance{Machines: machines}}
	word := "down"
	if up {
		call = &masterpb.Call{Type: masterpb.Call_STOP_MAINTENANCE.Enum(), StopMaintenance: &masterpb.Call_StopMaintenance{Machines: machines}}
		word = "up"
	}
	if _, err := c.Call(ctx, call); err != nil {
		return err
	}
	for _, m := range machines {
		fmt.Fprintf(w, "Machine %s/%s is %s\n", m.GetHostname(), m.GetIp(), word)
	}
	return nil
}

// DrainOptions are DRAIN_AGENT's arguments.
type DrainOptions struct {
	MaxGracePeriod time.Duration // 0: the tasks' own kill grace periods
	MarkGone       bool
}

// Drain drains an agent (DRAIN_AGENT).
func Drain(ctx context.Context, c *operator.Client, agentID string, opts DrainOptions, w io.Writer) error {
	d := &masterpb.Call_DrainAgent{AgentId: &mesos.AgentID{Value: proto.String(agentID)}}
	if opts.MaxGracePeriod > 0 {
		d.MaxGracePeriod = durationpb.New(opts.MaxGracePeriod)
	}
	if opts.MarkGone {
		d.MarkGone = proto.Bool(true)
	}
	if _, err := c.Call(ctx, &masterpb.Call{Type: masterpb.Call_DRAIN_AGENT.Enum(), DrainAgent: d}); err != nil {
		return err
	}
	fmt.Fprintf(w, "Agent %s is draining\n", agentID)
	return nil
}

// AgentCall sends one of the calls on an agent that take only its id:
// DEACTIVATE_AGENT, REACTIVATE_AGENT or MARK_AGENT_GONE.
func AgentCall(ctx context.Context, c *operator.Client, t masterpb.Call_Type, agentID string, w io.Writer) error {
	id := &mesos.AgentID{Value: proto.String(agentID)}
	call := &masterpb.Call{Type: t.Enum()}
	var done string
	switch t {
	case masterpb.Call_DEACTIVATE_AGENT:
		call.DeactivateAgent, done = &masterpb.Call_DeactivateAgent{AgentId: id}, "deactivated"
	case masterpb.Call_REACTIVATE_AGENT:
		call.ReactivateAgent, done = &masterpb.Call_ReactivateAgent{AgentId: id}, "reactivated"
	case masterpb.Call_MARK_AGENT_GONE:
		call.MarkAgentGone, done = &masterpb.Call_MarkAgentGone{AgentId: id}, "marked gone"
	default:
		return fmt.Errorf("%s is not a call on an agent", t)
	}
	if _, err := c.Call(ctx, call); err != nil {
		return err
	}
	fmt.Fprintf(w, "Agent %s %s\n", agentID, done)
	return nil
}

// Teardown tears a framework down (TEARDOWN): its tasks are killed and it
// is removed.
func Teardown(ctx context.Context, c *operator.Client, frameworkID string, w io.Writer) error {
	call := &masterpb.Call{Type: masterpb.Call_TEARDOWN.Enum(),
		Teardown: &masterpb.Call_Teardown{FrameworkId: &mesos.FrameworkID{Value: proto.String(frameworkID)}}}
	if _, err := c.Call(ctx, call); err != nil {
		return err
	}
	fmt.Fprintf(w, "Framework %s torn down\n", frameworkID)
	return nil
}
