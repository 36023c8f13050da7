package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	masterpb "github.com/gomesos/gomesos/api/v1/master"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/operator"
	"google.golang.org/protobuf/proto"
)

// Output says how the listings print: a table, or the operator API's
// response as JSON.
type Output struct {
	W    io.Writer
	JSON bool
}

// printJSON prints msg as the operator API's JSON, indented.
func printJSON(w io.Writer, msg proto.Message) error {
	b, err := codec.Marshal(codec.JSON, msg)
	if err != nil {
		return fmt.Errorf("encoding JSON: %w", err)
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		return fmt.Errorf("indenting JSON: %w", err)
	}
	out.WriteByte('\n')
	_, err = w.Write(out.Bytes())
	return err
}

// scalars sums the scalar resources of rs by name.
func scalars(rs []*mesos.Resource) map[string]float64 {
	out := map[string]float64{}
	for _, r := range rs {
		if r.GetType() == mesos.Value_SCALAR {
			out[r.GetName()] += r.GetScalar().GetValue()
		}
	}
	return out
}

// Agents prints the master's agents (GET_AGENTS) as a table: ID, HOSTNAME,
// CPUS, MEM, DISK, USED CPUS, USED MEM (allocated), ACTIVE, and STATE
// (DRAINING, DRAINED or DEACTIVATED when the agent is). Memory and disk
// are in MB, as Mesos reports them.
func Agents(ctx context.Context, c *operator.Client, out Output) error {
	resp, err := c.Do(ctx, masterpb.Call_GET_AGENTS)
	if err != nil {
		return err
	}
	if out.JSON {
		return printJSON(out.W, resp)
	}
	tw := newTable(out.W, "ID", "HOSTNAME", "CPUS", "MEM", "DISK", "USED CPUS", "USED MEM", "ACTIVE", "STATE")
	for _, a := range resp.GetGetAgents().GetAgents() {
		total, used := scalars(a.GetTotalResources()), scalars(a.GetAllocatedResources())
		if len(a.GetTotalResources()) == 0 {
			total = scalars(a.GetAgentInfo().GetResources())
		}
		state := "-"
		switch {
		case a.GetDrainInfo() != nil:
			state = a.GetDrainInfo().GetState().String()
		case a.GetDeactivated():
			state = "DEACTIVATED"
		}
		row(tw, a.GetAgentInfo().GetId().GetValue(), a.GetAgentInfo().GetHostname(), num(total["cpus"]), num(total["mem"]),
			num(total["disk"]), num(used["cpus"]), num(used["mem"]), strconv.FormatBool(a.GetActive()), state)
	}
	return tw.Flush()
}

// Frameworks prints the frameworks registered with the master
// (GET_FRAMEWORKS; completed frameworks are left out) as a table: ID, NAME,
// ROLE, ACTIVE, TASKS (active tasks, from GET_TASKS), CPUS, MEM (allocated
// to the framework, MB). With JSON it prints the GET_FRAMEWORKS response.
func Frameworks(ctx context.Context, c *operator.Client, out Output) error {
	resp, err := c.Do(ctx, masterpb.Call_GET_FRAMEWORKS)
	if err != nil {
		return err
	}
	if out.JSON {
		return printJSON(out.W, resp)
	}
	tasks, err := c.Do(ctx, masterpb.Call_GET_TASKS)
	if err != nil {
		return err
	}
	active := map[string]int{}
	for _, list := range [][]*mesos.Task{tasks.GetGetTasks().GetPendingTasks(), tasks.GetGetTasks().GetTasks()} {
		for _, t := range list {
			active[t.GetFrameworkId().GetValue()]++
		}
	}
	tw := newTable(out.W, "ID", "NAME", "ROLE", "ACTIVE", "TASKS", "CPUS", "MEM")
	for _, f := range resp.GetGetFrameworks().GetFrameworks() {
		info := f.GetFrameworkInfo()
		role := info.GetRole()
		if len(info.GetRoles()) > 0 {
			role = strings.Join(info.GetRoles(), ",")
		}
		used := scalars(f.GetAllocatedResources())
		row(tw, info.GetId().GetValue(), info.GetName(), role, strconv.FormatBool(f.GetActive()),
			strconv.Itoa(active[info.GetId().GetValue()]), num(used["cpus"]), num(used["mem"]))
	}
	return tw.Flush()
}

// Tasks prints the master's tasks (GET_TASKS: pending, active,
// unreachable, completed and orphan) as a table: ID, NAME, FRAMEWORK,
// AGENT, STATE.
func Tasks(ctx context.Context, c *operator.Client, out Output) error {
	resp, err := c.Do(ctx, masterpb.Call_GET_TASKS)
	if err != nil {
		return err
	}
	if out.JSON {
		return printJSON(out.W, resp)
	}
	g := resp.GetGetTasks()
	tw := newTable(out.W, "ID", "NAME", "FRAMEWORK", "AGENT", "STATE")
	for _, list := range [][]*mesos.Task{g.GetPendingTasks(), g.GetTasks(), g.GetUnreachableTasks(), g.GetCompletedTasks(), g.GetOrphanTasks()} {
		for _, t := range list {
			row(tw, t.GetTaskId().GetValue(), t.GetName(), t.GetFrameworkId().GetValue(), t.GetAgentId().GetValue(), t.GetState().String())
		}
	}
	return tw.Flush()
}

// Roles prints the master's roles (GET_ROLES) as a table: NAME, WEIGHT,
// FRAMEWORKS (how many), CPUS, MEM (allocated to the role, MB).
func Roles(ctx context.Context, c *operator.Client, out Output) error {
	resp, err := c.Do(ctx, masterpb.Call_GET_ROLES)
	if err != nil {
		return err
	}
	if out.JSON {
		return printJSON(out.W, resp)
	}
	tw := newTable(out.W, "NAME", "WEIGHT", "FRAMEWORKS", "CPUS", "MEM")
	for _, r := range resp.GetGetRoles().GetRoles() {
		used := scalars(r.GetResources())
		row(tw, r.GetName(), num(r.GetWeight()), strconv.Itoa(len(r.GetFrameworks())), num(used["cpus"]), num(used["mem"]))
	}
	return tw.Flush()
}

// Weights prints the weights set on roles (GET_WEIGHTS) as a table: ROLE,
// WEIGHT.
func Weights(ctx context.Context, c *operator.Client, out Output) error {
	resp, err := c.Do(ctx, masterpb.Call_GET_WEIGHTS)
	if err != nil {
		return err
	}
	if out.JSON {
		return printJSON(out.W, resp)
	}
	tw := newTable(out.W, "ROLE", "WEIGHT")
	for _, w := range resp.GetGetWeights().GetWeightInfos() {
		row(tw, w.GetRole(), num(w.GetWeight()))
	}
	return tw.Flush()
}

// ParseWeights parses ROLE=WEIGHT arguments; a weight must be a positive
// number.
func ParseWeights(args []string) ([]*mesos.WeightInfo, error) {
	if len(args) == 0 {
		return nil, fmt.Errorf("expecting ROLE=WEIGHT arguments")
	}
	var out []*mesos.WeightInfo
	for _, a := range args {
		role, ws, ok := strings.Cut(a, "=")
		if !ok || role == "" {
			return nil, fmt.Errorf("%q: expecting ROLE=WEIGHT", a)
		}
		w, err := strconv.ParseFloat(ws, 64)
		if err != nil || w <= 0 || math.IsInf(w, 0) || math.IsNaN(w) {
			return nil, fmt.Errorf("%q: the weight must be a positive number", a)
		}
		out = append(out, &mesos.WeightInfo{Role: proto.String(role), Weight: proto.Float64(w)})
	}
	return out, nil
}

// SetWeights sets role weights (UPDATE_WEIGHTS) from ROLE=WEIGHT arguments.
func SetWeights(ctx context.Context, c *operator.Client, args []string, w io.Writer) error {
	infos, err := ParseWeights(args)
	if err != nil {
		return err
	}
	call := &masterpb.Call{Type: masterpb.Call_UPDATE_WEIGHTS.Enum(), UpdateWeights: &masterpb.Call_UpdateWeights{WeightInfos: infos}}
	if _, err := c.Call(ctx, call); err != nil {
		return err
	}
	for _, i := range infos {
		fmt.Fprintf(w, "Weight of role '%s' set to %s\n", i.GetRole(), num(i.GetWeight()))
	}
	return nil
}

func newTable(w io.Writer, header ...string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	row(tw, header...)
	return tw
}

func row(tw *tabwriter.Writer, cells ...string) {
	for i, c := range cells {
		if i > 0 {
			fmt.Fprint(tw, "\t")
		}
		fmt.Fprint(tw, c)
	}
	fmt.Fprint(tw, "\n")
}

// num prints a Mesos scalar: at most three decimals (Mesos keeps scalars to
// a thousandth), no trailing zeros.
func num(f float64) string {
	return strconv.FormatFloat(math.Round(f*1000)/1000, 'f', -1, 64)
}

// timeOf prints a TimeInfo as UTC RFC 3339.
func timeOf(t *mesos.TimeInfo) string {
	if t == nil {
		return "-"
	}
	return time.Unix(0, t.GetNanoseconds()).UTC().Format(time.RFC3339)
}
