package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	masterpb "github.com/gomesos/gomesos/api/v1/master"
	"github.com/gomesos/gomesos/internal/cli"
	"github.com/gomesos/gomesos/internal/flagx"
	"github.com/gomesos/gomesos/operator"
)

// callTimeout bounds the commands that make a few calls and end.
const callTimeout = 30 * time.Second

// opCommand is the wiring every operator API command shares: its flag set
// with --master, and how it reports errors.
type opCommand struct {
	name   string
	fs     *flag.FlagSet
	master *string
	stderr io.Writer
}

func newOpCommand(name, synopsis string, stderr io.Writer) *opCommand {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = flagx.Usage(fs, "gomesos "+name+" [--master=HOST:PORT[,HOST:PORT...]] "+synopsis)
	master := fs.String("master", "127.0.0.1:5050", "the master's HOST:PORT, or the masters' HOST:PORT,HOST:PORT,... (asked in turn; the others redirect to the leader)")
	return &opCommand{name: name, fs: fs, master: master, stderr: stderr}
}

// parse parses the flags, which may come before, between or after the
// positional arguments, and checks that there are between min and max of
// those (max < 0: no limit). ok false means: return code.
func (o *opCommand) parse(args []string, min, max int, what string) (pos []string, code int, ok bool) {
	err := flagx.Parse(o.fs, args, flagx.Environ())
	for err == nil && o.fs.NArg() > 0 {
		pos = append(pos, o.fs.Arg(0))
		err = o.fs.Parse(o.fs.Args()[1:])
	}
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, 0, false
		}
		fmt.Fprintf(o.stderr, "gomesos %s: %v\n", o.name, err)
		return nil, 2, false
	}
	if len(pos) < min || (max >= 0 && len(pos) > max) {
		if len(pos) < min {
			fmt.Fprintf(o.stderr, "gomesos %s: expecting %s\n", o.name, what)
		} else {
			fmt.Fprintf(o.stderr, "gomesos %s: unexpected arguments %q (expecting %s)\n", o.name, pos[min:], what)
		}
		return nil, 2, false
	}
	return pos, 0, true
}

// client makes the operator API client of --master.
func (o *opCommand) client() (*operator.Client, int, bool) {
	c, err := operator.New([]string{*o.master})
	if err != nil {
		fmt.Fprintf(o.stderr, "gomesos %s: --master: %v\n", o.name, err)
		return nil, 2, false
	}
	return c, 0, true
}

// done reports err: exit 1 with the error, or 0.
func (o *opCommand) done(err error) int {
	if err != nil {
		fmt.Fprintf(o.stderr, "gomesos %s: %v\n", o.name, err)
		return 1
	}
	return 0
}

// listCommand runs a listing: a table, or the response's JSON with --json.
func listCommand(name string, list func(context.Context, *operator.Client, cli.Output) error) func(context.Context, []string, io.Writer, io.Writer) int {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		o := newOpCommand(name, "[--json]", stderr)
		asJSON := o.fs.Bool("json", false, "print the operator API's response as JSON rather than a table")
		if _, code, ok := o.parse(args, 0, 0, "no arguments"); !ok {
			return code
		}
		c, code, ok := o.client()
		if !ok {
			return code
		}
		ctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		return o.done(list(ctx, c, cli.Output{W: stdout, JSON: *asJSON}))
	}
}

var (
	runAgents     = listCommand("agents", cli.Agents)
	runFrameworks = listCommand("frameworks", cli.Frameworks)
	runTasks      = listCommand("tasks", cli.Tasks)
	runRoles      = listCommand("roles", cli.Roles)
)

// runWeights lists the roles' weights, or with "set ROLE=W ..." sets them.
func runWeights(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "set" {
		o := newOpCommand("weights set", "ROLE=WEIGHT ...", stderr)
		pos, code, ok := o.parse(args[1:], 1, -1, "ROLE=WEIGHT arguments")
		if !ok {
			return code
		}
		if _, err := cli.ParseWeights(pos); err != nil {
			fmt.Fprintf(stderr, "gomesos weights set: %v\n", err)
			return 2
		}
		c, code, ok := o.client()
		if !ok {
			return code
		}
		ctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		return o.done(cli.SetWeights(ctx, c, pos, stdout))
	}
	return listCommand("weights", cli.Weights)(ctx, args, stdout, stderr)
}

// runQuota lists the roles' quotas ("quota" or "quota get"), sets one
// ("quota set ROLE --guarantee=... --limit=... [--force]") or removes one
// ("quota remove ROLE").
func runQuota(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "set" && args[0] != "remove" {
		if len(args) > 0 && args[0] == "get" {
			args = args[1:]
		}
		return listCommand("quota", cli.Quota)(ctx, args, stdout, stderr)
	}
	sub := args[0]
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if sub == "remove" {
		o := newOpCommand("quota remove", "ROLE", stderr)
		pos, code, ok := o.parse(args[1:], 1, 1, "ROLE")
		if !ok {
			return code
		}
		c, code, ok := o.client()
		if !ok {
			return code
		}
		return o.done(cli.RemoveQuota(ctx, c, pos[0], stdout))
	}
	o := newOpCommand("quota set", "ROLE [--guarantee=NAME:VALUE;...] [--limit=NAME:VALUE;...] [--force]", stderr)
	guarantee := o.fs.String("guarantee", "", "what the role is guaranteed, e.g. 'cpus:2;mem:1024' (the role's whole quota is replaced: what is not given is not guaranteed)")
	limit := o.fs.String("limit", "", "the most the role and its sub-roles may hold, e.g. 'cpus:8' (what is not given is not limited)")
	force := o.fs.Bool("force", false, "set the quota even when the cluster cannot hold every guarantee")
	pos, code, ok := o.parse(args[1:], 1, 1, "ROLE")
	if !ok {
		return code
	}
	for flagName, v := range map[string]string{"guarantee": *guarantee, "limit": *limit} {
		if _, err := cli.ParseQuantities(v); err != nil {
			fmt.Fprintf(stderr, "gomesos quota set: --%s: %v\n", flagName, err)
			return 2
		}
	}
	if *guarantee == "" && *limit == "" {
		fmt.Fprintln(stderr, "gomesos quota set: expecting --guarantee or --limit (quota remove ROLE removes a quota)")
		return 2
	}
	c, code, ok := o.client()
	if !ok {
		return code
	}
	return o.done(cli.SetQuota(ctx, c, pos[0], *guarantee, *limit, *force, stdout))
}

// runMaintenance shows the maintenance schedule and status; "schedule
// --file=F" replaces the schedule, "down HOST..." and "up HOST..." start
// and stop maintenance on machines.
func runMaintenance(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "schedule" && args[0] != "down" && args[0] != "up" {
		return listCommand("maintenance", cli.Maintenance)(ctx, args, stdout, stderr)
	}
	sub := args[0]
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if sub == "schedule" {
		o := newOpCommand("maintenance schedule", "--file=SCHEDULE.json", stderr)
		file := o.fs.String("file", "", "the schedule, the JSON of a mesos.v1.maintenance.Schedule ({\"windows\":[...]}) (required)")
		if _, code, ok := o.parse(args[1:], 0, 0, "no arguments besides --file"); !ok {
			return code
		}
		if *file == "" {
			fmt.Fprintln(stderr, "gomesos maintenance schedule: --file is required")
			return 2
		}
		s, err := cli.ReadSchedule(*file)
		if err != nil {
			fmt.Fprintf(stderr, "gomesos maintenance schedule: --file: %v\n", err)
			return 2
		}
		c, code, ok := o.client()
		if !ok {
			return code
		}
		return o.done(cli.UpdateSchedule(ctx, c, s, stdout))
	}
	o := newOpCommand("maintenance "+sub, "HOSTNAME[/IP] ...", stderr)
	pos, code, ok := o.parse(args[1:], 1, -1, "machines, HOSTNAME or HOSTNAME/IP")
	if !ok {
		return code
	}
	machines, err := cli.ParseMachines(pos)
	if err != nil {
		fmt.Fprintf(stderr, "gomesos maintenance %s: %v\n", sub, err)
		return 2
	}
	c, code, ok := o.client()
	if !ok {
		return code
	}
	return o.done(cli.MachinesDown(ctx, c, machines, sub == "up", stdout))
}

// runDrain drains an agent.
func runDrain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := newOpCommand("drain", "AGENT_ID [--max-grace-period=DURATION] [--mark-gone]", stderr)
	var opts cli.DrainOptions
	o.fs.Var(flagx.Duration{D: &opts.MaxGracePeriod}, "max-grace-period", "the longest the agent's tasks get to end when killed (default: each task's own grace period)")
	o.fs.BoolVar(&opts.MarkGone, "mark-gone", false, "mark the agent gone once it is drained")
	pos, code, ok := o.parse(args, 1, 1, "AGENT_ID")
	if !ok {
		return code
	}
	if opts.MaxGracePeriod < 0 {
		fmt.Fprintln(stderr, "gomesos drain: --max-grace-period must not be negative")
		return 2
	}
	c, code, ok := o.client()
	if !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	return o.done(cli.Drain(ctx, c, pos[0], opts, stdout))
}

// agentCommand runs a call that takes only an agent's id.
func agentCommand(name string, t masterpb.Call_Type) func(context.Context, []string, io.Writer, io.Writer) int {
	return func(ctx context.Context, args []string, stdout, stderr io.Writer) int {
		o := newOpCommand(name, "AGENT_ID", stderr)
		pos, code, ok := o.parse(args, 1, 1, "AGENT_ID")
		if !ok {
			return code
		}
		c, code, ok := o.client()
		if !ok {
			return code
		}
		ctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		return o.done(cli.AgentCall(ctx, c, t, pos[0], stdout))
	}
}

var (
	runDeactivate = agentCommand("deactivate", masterpb.Call_DEACTIVATE_AGENT)
	runReactivate = agentCommand("reactivate", masterpb.Call_REACTIVATE_AGENT)
	runMarkGone   = agentCommand("mark-gone", masterpb.Call_MARK_AGENT_GONE)
)

// runTeardown tears a framework down.
func runTeardown(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := newOpCommand("teardown", "FRAMEWORK_ID", stderr)
	pos, code, ok := o.parse(args, 1, 1, "FRAMEWORK_ID")
	if !ok {
		return code
	}
	c, code, ok := o.client()
	if !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	return o.done(cli.Teardown(ctx, c, pos[0], stdout))
}

// runTask runs "task log".
func runTask(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "log" {
		fmt.Fprintln(stderr, "Usage: gomesos task log TASK_ID [--follow] [--stderr] [--framework=ID] [--master=HOST:PORT[,HOST:PORT...]]")
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-help" || args[0] == "-h") {
			return 0
		}
		return 2
	}
	o := newOpCommand("task log", "TASK_ID [--follow] [--stderr] [--framework=ID]", stderr)
	var opts cli.TaskLogOptions
	o.fs.BoolVar(&opts.Follow, "follow", false, "keep printing the output until the task ends (or an interrupt)")
	o.fs.BoolVar(&opts.Stderr, "stderr", false, "print the task's stderr rather than its stdout")
	o.fs.StringVar(&opts.FrameworkID, "framework", "", "the task's framework, when tasks of several frameworks have its id")
	pos, code, ok := o.parse(args[1:], 1, 1, "TASK_ID")
	if !ok {
		return code
	}
	opts.TaskID = pos[0]
	c, code, ok := o.client()
	if !ok {
		return code
	}
	if !opts.Follow {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, callTimeout)
		defer cancel()
	}
	return o.done(cli.TaskLog(ctx, c, opts, stdout))
}

// runWatch prints the master's operator events until interrupted.
func runWatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := newOpCommand("watch", "[--json]", stderr)
	asJSON := o.fs.Bool("json", false, "print each event's JSON on a line of its own")
	reconnect := time.Minute
	o.fs.Var(flagx.Duration{D: &reconnect}, "reconnect", "how long to keep subscribing again (to the new leader) when the stream drops; 0secs ends at the stream's end")
	if _, code, ok := o.parse(args, 0, 0, "no arguments"); !ok {
		return code
	}
	if reconnect < 0 {
		fmt.Fprintln(stderr, "gomesos watch: --reconnect must not be negative")
		return 2
	}
	c, code, ok := o.client()
	if !ok {
		return code
	}
	return o.done(cli.Watch(ctx, c, cli.WatchOptions{Output: cli.Output{W: stdout, JSON: *asJSON}, Reconnect: reconnect, Stderr: stderr}))
}
