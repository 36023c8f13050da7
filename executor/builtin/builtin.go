// Package builtin holds gomesos's built-in executors, run inside the
// gomesos binary: the command executor (kind "command", Mesos's
// mesos-executor: exactly one task from a LAUNCH), the default executor
// (kind "default", Mesos's mesos-default-executor: task groups from one or
// more LAUNCH_GROUPs) and the docker executor (kind "docker", Mesos's
// mesos-docker-executor: the command executor whose one task runs as the
// Docker container the agent names in MESOS_CONTAINER_NAME, through the
// Engine at GOMESOS_DOCKER_SOCKET; see docker.go). The agent starts the
// binary with EnvKind set to the kind and the usual MESOS_* environment;
// main (and the TestMain of tests that start executors) first calls
//
//	builtin.MainIfExecutor()
//
// which then runs the executor and exits.
//
// Both speak the v1 executor API through package executor, run every task as
// a child process in its own process group, and log to stderr with log/slog.
// They own their tasks' processes and nothing else: no agent state, no
// containers, no cgroups.
//
// Behaviour, following Mesos:
//   - Each task gets TASK_STARTING, then TASK_RUNNING once its process is
//     started, then one terminal update: TASK_FINISHED ("Command exited with
//     status 0"), TASK_FAILED ("Command exited with status N" or "Command
//     terminated with signal <name>", names as strsignal prints them) or
//     TASK_KILLED when the executor killed it.
//   - CommandInfo.shell (default true) runs `/bin/sh -c <value>`; otherwise
//     value is the executable (searched in the task's PATH when it has no
//     slash) and arguments its argv. The task's environment is the
//     executor's, then CommandInfo.environment (VALUE variables), then
//     MESOS_TASK_ID, MESOS_SANDBOX and MESOS_ALLOCATION_ROLE (the
//     allocation role of the task's resources).
//   - KILL sends TASK_KILLING when the framework has the TASK_KILLING_STATE
//     capability, SIGTERM to the task's process group, and SIGKILL to the
//     group after the grace period: the KILL's kill_policy, else the task's,
//     else 3 s. A later KILL may shorten the grace period, never lengthen it.
//     max_completion_time kills with no grace and reports TASK_FAILED with
//     REASON_MAX_COMPLETION_TIME_REACHED.
//   - SHUTDOWN kills every task with the shutdown grace period less one
//     second (left for reporting TASK_KILLED), and the executor exits at the
//     latest when the shutdown grace period is over.
//   - When all tasks are terminal the executor waits (at most 60 s, Mesos's
//     fail-safe) for the agent to acknowledge every update, then exits 0; it
//     exits 1 when acknowledgements never came or the agent was lost. Any
//     process still left in a task's process group is killed on exit, as
//     destroying the container would.
//   - With MESOS_CHECKPOINT=1 the executor outlives its agent: when the
//     agent goes away (restarts, or is killed) the tasks keep running and
//     their updates are queued, and the executor re-subscribes (package
//     executor's connection policy: a random backoff of at most
//     MESOS_SUBSCRIPTION_BACKOFF_MAX between attempts) with every
//     unacknowledged task and update. When MESOS_RECOVERY_TIMEOUT passes
//     without a subscription it shuts down as on SHUTDOWN: kills its tasks
//     and exits 1. Without checkpointing, losing the agent does the same at
//     once.
//   - A task's health check and check (package checks) start once it is
//     TASK_RUNNING and stop when it is being killed or ends. Each health
//     result checks reports is sent as an update in the task's latest state
//     with healthy set and REASON_TASK_HEALTH_CHECK_STATUS_UPDATED (a copy
//     of the task's latest update, so it keeps its check_status); when
//     the checker says to kill the task (consecutive_failures failures
//     after the grace period) it is killed as by KILL (TASK_KILLING when
//     understood, the task's kill policy) and its TASK_KILLED carries
//     healthy=false. A task with a check carries in its state updates an
//     empty check_status of the check's type; each change of the check's
//     result is sent as a copy of its latest update (keeping its healthy)
//     with the new check_status and REASON_TASK_CHECK_STATUS_UPDATED.
//     COMMAND checks run as child
//     processes in the task's sandbox with the task's environment.
//
// The command executor runs its task in the sandbox with the executor's own
// stdout and stderr (the sandbox's stdout and stderr files). A second LAUNCH
// fails that task; LAUNCH_GROUP shuts it down.
//
// The default executor runs each task in tasks/<task_id> under the sandbox,
// with stdout and stderr files there and MESOS_SANDBOX pointing at it (plus
// MESOS_CONTAINER_IP), after fetching the task's CommandInfo.uris there
// (with the agent's fetcher code, without its cache; a failed fetch fails
// the task with REASON_CONTAINER_LAUNCH_FAILED, as a nested container that
// cannot be launched does in Mesos). When a task of a group fails or is killed, the rest
// of its group is killed. It exits once every task is terminal. LAUNCH shuts
// it down.
//
// Differences from Mesos: the 60 s fail-safe wait for acknowledgements runs
// only while subscribed (re-armed on each re-subscription), so a task that
// ends while its agent restarts is still reported once the agent is back,
// however long that takes within the recovery timeout; the default executor
// runs tasks as plain child processes instead of nested containers launched
// through the agent's operator API (so no per-task isolation, images or
// volumes); the task sandbox is a directory, not a symlink to
// containers/<id>; a LAUNCH_GROUP that arrives while shutting down is
// answered with TASK_KILLED (REASON_TASK_KILLED_DURING_LAUNCH) instead of
// being ignored; CommandInfo.user and container images are not supported;
// an invalid health check or check fails its task at launch (TASK_FAILED,
// REASON_CONTAINER_LAUNCH_FAILED, "Failed to launch task: Task's health
// check is invalid: ...") where Mesos's master would refuse it.
package builtin

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/executor"
	"github.com/gomesos/gomesos/internal/execframes"
)

// EnvKind names the environment variable that tells the gomesos binary to
// run as a built-in executor, and which one.
const EnvKind = "GOMESOS_EXECUTOR"

// EnvEncoding optionally picks the executor API encoding: "protobuf" (the
// default, as Mesos's executors use) or "json".
const EnvEncoding = "GOMESOS_EXECUTOR_ENCODING"

// EnvDomainSocket names the unix socket on which the agent serves the
// executor API, when it gives one (Mesos's variable, set with
// --http_executor_domain_sockets): executors of an executor host reach the
// agent there, over one shared HTTP/2 connection.
const EnvDomainSocket = "MESOS_DOMAIN_SOCKET"

// The executor kinds.
const (
	KindCommand = "command"
	KindDefault = "default"
	// KindDocker is the docker executor (Mesos's mesos-docker-executor):
	// the command executor, with its one task run as a Docker container.
	KindDocker = "docker"
)

// MainIfExecutor makes the process a built-in executor when it was started
// as one, with EnvKind set: it runs Run until the executor is done, or
// until SIGTERM or an interrupt cancels it, and exits the process with its
// status. Otherwise it returns at once. A main (or TestMain) calls it first.
func MainIfExecutor() {
	kind := os.Getenv(EnvKind)
	if kind == "" {
		return
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	code := Run(ctx, kind)
	stop()
	os.Exit(code)
}

// Run runs the built-in executor of the given kind until it is done and
// returns the process exit status. Cancelling ctx kills every task at once.
func Run(ctx context.Context, kind string) int {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("executor", kind)
	if kind != KindCommand && kind != KindDefault && kind != KindDocker {
		log.Error(fmt.Sprintf("unknown executor kind %q; want %q, %q or %q", kind, KindCommand, KindDefault, KindDocker))
		return 2
	}
	cfg, err := executor.ConfigFromEnv()
	if err != nil {
		log.Error("bad executor environment", "err", err)
		return 1
	}
	enc := codec.Protobuf
	switch v := os.Getenv(EnvEncoding); v {
	case "", "protobuf":
	case "json":
		enc = codec.JSON
	default:
		log.Error(fmt.Sprintf("unknown %s %q", EnvEncoding, v))
		return 2
	}
	log = log.With("executor_id", cfg.ExecutorID, "framework_id", cfg.FrameworkID)
	log.Info("starting", "agent", cfg.AgentEndpoint, "sandbox", cfg.Sandbox, "checkpoint", cfg.Checkpoint, "encoding", enc.ContentType())
	client := executor.New(cfg, executor.WithEncoding(enc), executor.WithLogger(log))
	code := newEngine(kind, cfg, client, log).run(ctx)
	log.Info("exiting", "status", code)
	return code
}

// Hosted runs a built-in command executor inside another process, an
// executor host (see package agent/containerizer), instead of as a process
// of its own: its environment, standard output and error come from here, not
// from the process, and its task starts through Start.
type Hosted struct {
	// Env is the environment the agent gave the executor ("KEY=value"):
	// its configuration (MESOS_*) and its task's base environment.
	Env []string
	// Stdout and Stderr are the sandbox's files: the executor logs to
	// Stderr, and its task writes to both.
	Stdout, Stderr *os.File
	// Start starts a prepared task (or check) process, which is to lead
	// a session of its own; nil is cmd.Start. The host uses it to start the
	// process inside the container's cgroups.
	Start func(cmd *exec.Cmd) error
	// Spawn, when set, starts a task's process instead of Start (checks
	// still go through Start): path with argv and env in dir, as the
	// leader of a session of its own, its stdin /dev/null and its stdout
	// and stderr the files given. It returns the pid of the process, a
	// child of this process that the executor reaps. The host uses it to
	// fork from a thread that does not hold every descriptor of the host.
	// An error wrapping ErrNoSpawner sends the task through Start instead.
	Spawn func(path string, argv, env []string, dir string, stdout, stderr *os.File) (int, error)
	// Started, when set, is told the pid of the task's process once it
	// has started.
	Started func(pid int)
	// Abandon, when set, is asked about a task process's end before it is
	// reported: true means the container ends with it (the kernel killed
	// it for going over the container's memory limit), so the executor
	// exits without a terminal update and the agent reports the
	// container's limitation, as when the executor is in the container.
	Abandon func(ws syscall.WaitStatus) bool
}

// RunHosted runs a command executor as Run does, configured by h instead of
// the process's environment, and returns what Run would exit with.
// Cancelling ctx kills its task at once (as SIGTERM does to an executor
// process).
func RunHosted(ctx context.Context, h Hosted) int {
	// Its lines are written a little later, several at once (logbuf.go);
	// all of them before it returns and its files are closed.
	logw := newDelayedWriter(h.Stderr)
	defer logw.Flush()
	log := slog.New(slog.NewTextHandler(logw, nil)).With("executor", KindCommand)
	cfg, err := executor.ConfigFromLookup(func(k string) (string, bool) {
		v := lookupEnv(h.Env, k)
		return v, v != ""
	})
	if err != nil {
		log.Error("bad executor environment", "err", err)
		return 1
	}
	enc := codec.Protobuf
	if lookupEnv(h.Env, EnvEncoding) == "json" {
		enc = codec.JSON
	}
	log = log.With("executor_id", cfg.ExecutorID, "framework_id", cfg.FrameworkID)
	log.Info("starting in the executor host", "agent", cfg.AgentEndpoint, "sandbox", cfg.Sandbox, "checkpoint", cfg.Checkpoint)
	client := executor.New(cfg, executor.WithEncoding(enc), executor.WithLogger(log), executor.WithHTTPClient(hostedClient(lookupEnv(h.Env, EnvDomainSocket))))
	e := newEngine(KindCommand, cfg, client, log)
	e.env, e.stdout, e.stderr, e.hosted = h.Env, h.Stdout, h.Stderr, &h
	e.flushLog = logw.Flush
	code := e.run(ctx)
	log.Info("exiting", "status", code)
	return code
}

// hostedHTTP is the HTTP client of every executor of a host. Each
// executor's event stream keeps a connection of its own; their calls
// (updates, heartbeats) share a pool of idle connections to the agent
// instead of each dialing its own, so that a thousand executors hold about
// a thousand connections, not two thousand, and a task's updates go out on
// a connection already open.
var hostedHTTP = func() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // the agent is local
	tr.MaxIdleConnsPerHost = hostedIdleConns
	return &http.Client{Transport: tr}
}()

// socketClients holds, by socket path, the client of the executors of a
// host that reach the agent on its unix socket.
var socketClients sync.Map

// hostedClient is the HTTP client of a hosted executor: over the agent's
// unix socket when it gives one, in frames (package internal/execframes),
// so that every executor of the host shares one connection (a stream each
// for its event stream and its calls), or in HTTP/2 without TLS with an
// agent that does not speak frames; else hostedHTTP, over TCP.
func hostedClient(socket string) *http.Client {
	if socket == "" {
		return hostedHTTP
	}
	if c, ok := socketClients.Load(socket); ok {
		return c.(*http.Client)
	}
	dial := func(ctx context.Context) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "unix", socket)
	}
	h2 := &http.Transport{
		Proxy:       nil,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) { return dial(ctx) },
	}
	h2.Protocols = new(http.Protocols)
	h2.Protocols.SetUnencryptedHTTP2(true)
	tr := &execframes.Transport{Dial: dial, Fallback: h2}
	c, _ := socketClients.LoadOrStore(socket, &http.Client{Transport: tr})
	return c.(*http.Client)
}

// hostedIdleConns bounds the idle connections the executors of a host keep
// for their calls over TCP. A bigger pool saves dials when hundreds of
// calls come at once, but every descriptor the host holds is copied and
// closed again by each fork of a task.
const hostedIdleConns = 64

// lookupEnv is the last value of key in env, or "".
func lookupEnv(env []string, key string) string {
	v := ""
	for _, kv := range env {
		if k, val, ok := strings.Cut(kv, "="); ok && k == key {
			v = val
		}
	}
	return v
}
