package containerizer

// The executor host runs every built-in command executor of an agent as
// goroutines of one long-lived process instead of two processes (a
// supervisor and an executor) per container. It is this same binary run
// with HostArg:
//
//	<binary> _executor_host <runtime dir>
//
// started by the containerizer at its first command-executor launch, in a
// session of its own, so that it outlives the agent as supervisors do. It
// listens on <runtime dir>/executor_host.sock (a SOCK_SEQPACKET Unix
// socket, for the agent's user alone) and serves:
//
//	launch   run one container's executor (its environment in the request,
//	         the sandbox's stdout and stderr passed as descriptors)
//	signal   SIGTERM, SIGINT, SIGHUP or SIGQUIT end an executor as they would
//	         end an executor process (its task killed at once); SIGKILL is
//	         destroy; any other signal goes to the task's process group
//	destroy  kill the tasks' process groups and end their executors
//	watch    the containers running now, then an event for each task
//	         started and each executor ended; the latest watcher replaces
//	         any earlier one
//
// A connection carries one request and its answer, or, for launch, signal
// and destroy requests that ask to keep it (Keep), one after another.
//
// Each executor speaks the v1 executor HTTP API to the agent exactly as an
// executor process does, with its own connection. Its task is a direct
// child of the host, in a session of its own, born in the container's
// cgroups, so the host reaps it and knows its exit status. For each
// container the host keeps the runtime records a supervisor does: its
// processes (the host, standing for the executor, and the task) as a line
// of its task journal (host_journal.go) and the executor's end in status (the wait status of a process
// that exited with the executor's exit code, or SIGKILL's for a destroyed
// one). A restarted agent reconnects to the host and adopts the containers
// it still runs.
//
// The host exits when it runs no container and no containerizer watches
// it. If it dies, every container in it ends: the containerizer kills what
// is left of their tasks and reports them ended with an unknown status.

// HostArg, as a binary's first argument, makes it an executor host (if its
// main calls MainIfSupervisor, as gomesos's does).
const HostArg = "_executor_host"

const (
	hostSocket  = "executor_host.sock"
	hostLock    = "executor_host.lock"
	hostLogFile = "executor_host.log"
)

// hostRequest is one request to the host: one packet.
type hostRequest struct {
	Op string `json:"op"` // launch, signal, destroy, watch
	// IDs are the containers a destroy is for; ID the one of the others.
	ID  string   `json:"id,omitempty"`
	IDs []string `json:"ids,omitempty"`
	// Wait makes a destroy answer only once the executors have ended.
	Wait bool `json:"wait,omitempty"`
	// RunDir is the container's runtime directory (launch).
	RunDir string `json:"run_dir,omitempty"`
	// Dir is the sandbox; Env the executor's whole environment (launch).
	Dir string   `json:"dir,omitempty"`
	Env []string `json:"env,omitempty"`
	// CgroupTasks are the "tasks" files of the container's cgroups v1
	// hierarchies; CgroupDir its cgroup v2 directory. A task process is
	// born there (launch).
	CgroupTasks []string `json:"cgroup_tasks,omitempty"`
	CgroupDir   string   `json:"cgroup_dir,omitempty"`
	Signal      int      `json:"signal,omitempty"`
	// Keep asks the host to keep the connection open for another request
	// (launch, signal, destroy) after the answer.
	Keep bool `json:"keep,omitempty"`
}

// hostReply answers a request: one packet.
type hostReply struct {
	Error string `json:"error,omitempty"`
	// Kept: the host reads another request on the connection (it was
	// asked to, and knows how; an earlier version hangs up).
	Kept bool `json:"kept,omitempty"`
	// Pid is the host's (launch, watch).
	Pid int `json:"pid,omitempty"`
	// Live are the containers the host runs (watch).
	Live []hostLive `json:"live,omitempty"`
}

type hostLive struct {
	ID   string     `json:"id"`
	Task procRecord `json:"task"`
	// Dir is the container's sandbox.
	Dir string `json:"dir,omitempty"`
}

// hostEvent is one packet on a watch connection, after its reply.
type hostEvent struct {
	Event  string     `json:"event"` // started, exited, replaced
	ID     string     `json:"id,omitempty"`
	Task   procRecord `json:"task"`
	Status int        `json:"status,omitempty"`
	// OOM: the executor ended because its task was killed for the
	// container's memory limit.
	OOM bool `json:"oom,omitempty"`
}

// commandKindEnv marks a built-in command executor's environment.
const commandKindEnv = "GOMESOS_EXECUTOR=command"

// hostEnd is how a hosted container ended: with the status the host
// reported, or with the host itself (died).
type hostEnd struct {
	status int
	died   bool
	// released: another containerizer watches the host now.
	released bool
	oom      bool
}

// hostSafe reports whether every isolator keeps its meaning for a
// container whose executor is the host's: those that measure or limit the
// container's processes through its cgroups or its task's session do;
// namespaces (which need a supervisor), network/ports, Docker and any
// isolator unknown here do not.
func hostSafe(isolators []Isolator) bool {
	for _, iso := range isolators {
		switch iso.(type) {
		case PosixCPU, PosixMem, *PosixCPU, *PosixMem, *Cgroups, *DiskDu:
		default:
			return false
		}
	}
	return true
}
