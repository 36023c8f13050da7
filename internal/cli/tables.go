package cli

import (
	"context"
	"fmt"
	"io"
	"math"
	"strconv"
	"text/tabwriter"
)

// legacyResources is the part of the legacy JSON endpoints' resources object
// that the tables show (cpus, gpus, mem and disk are always present; mem and
// disk are in MB).
type legacyResources struct {
	CPUs float64 `json:"cpus"`
	Mem  float64 `json:"mem"`
	Disk float64 `json:"disk"`
}

type legacyAgent struct {
	ID            string          `json:"id"`
	Hostname      string          `json:"hostname"`
	Resources     legacyResources `json:"resources"`
	UsedResources legacyResources `json:"used_resources"`
	Active        bool            `json:"active"`
}

type legacyTask struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	FrameworkID string `json:"framework_id"`
	AgentID     string `json:"slave_id"`
	State       string `json:"state"`
}

type legacyFramework struct {
	ID            string          `json:"id"`
	Name          string          `json:"name"`
	Active        bool            `json:"active"`
	Tasks         []legacyTask    `json:"tasks"`
	UsedResources legacyResources `json:"used_resources"`
}

// Agents prints the master's agents (GET /master/slaves) as a table: ID,
// HOSTNAME, CPUS, MEM, DISK, USED CPUS, USED MEM, ACTIVE. Memory and disk
// are in MB, as Mesos reports them.
func Agents(ctx context.Context, master string, w io.Writer) error {
	var body struct {
		Slaves []legacyAgent `json:"slaves"`
	}
	if err := getJSON(ctx, master, "/master/slaves", &body); err != nil {
		return err
	}
	tw := newTable(w, "ID", "HOSTNAME", "CPUS", "MEM", "DISK", "USED CPUS", "USED MEM", "ACTIVE")
	for _, a := range body.Slaves {
		row(tw, a.ID, a.Hostname, num(a.Resources.CPUs), num(a.Resources.Mem), num(a.Resources.Disk),
			num(a.UsedResources.CPUs), num(a.UsedResources.Mem), strconv.FormatBool(a.Active))
	}
	return tw.Flush()
}

// Frameworks prints the frameworks registered with the master (GET
// /master/frameworks; completed frameworks are left out) as a table: ID,
// NAME, ACTIVE, TASKS (active tasks), CPUS, MEM (used by those tasks, MB).
func Frameworks(ctx context.Context, master string, w io.Writer) error {
	var body struct {
		Frameworks []legacyFramework `json:"frameworks"`
	}
	if err := getJSON(ctx, master, "/master/frameworks", &body); err != nil {
		return err
	}
	tw := newTable(w, "ID", "NAME", "ACTIVE", "TASKS", "CPUS", "MEM")
	for _, f := range body.Frameworks {
		row(tw, f.ID, f.Name, strconv.FormatBool(f.Active), strconv.Itoa(len(f.Tasks)),
			num(f.UsedResources.CPUs), num(f.UsedResources.Mem))
	}
	return tw.Flush()
}

// Tasks prints the master's tasks (GET /master/tasks: those of registered and
// completed frameworks, at most the master's default limit of 100) as a
// table: ID, NAME, FRAMEWORK, AGENT, STATE.
func Tasks(ctx context.Context, master string, w io.Writer) error {
	var body struct {
		Tasks []legacyTask `json:"tasks"`
	}
	if err := getJSON(ctx, master, "/master/tasks", &body); err != nil {
		return err
	}
	tw := newTable(w, "ID", "NAME", "FRAMEWORK", "AGENT", "STATE")
	for _, t := range body.Tasks {
		row(tw, t.ID, t.Name, t.FrameworkID, t.AgentID, t.State)
	}
	return tw.Flush()
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
