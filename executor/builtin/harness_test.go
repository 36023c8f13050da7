package builtin_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	execpb "github.com/gomesos/gomesos/api/v1/executor"
	"github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/executor/builtin"
	"github.com/gomesos/gomesos/executor/internal/fakeagent"
)

// TestMain turns the test binary into a built-in executor when the agent
// (here the tests themselves) starts it with builtin.EnvKind set, as the
// gomesos binary's main does.
func TestMain(m *testing.M) {
	builtin.MainIfExecutor()
	os.Exit(m.Run())
}

// wait is the deadline for anything a test waits for.
const wait = 20 * time.Second

// execProc is a built-in executor process started the way the agent does.
type execProc struct {
	t       *testing.T
	sandbox string
	cmd     *exec.Cmd
	done    chan struct{}
}

// startExecutor runs the test binary as a built-in executor of the given
// kind against agent, with its stdout and stderr in the sandbox's files.
func startExecutor(t *testing.T, kind string, agent *fakeagent.Agent, env ...string) *execProc {
	t.Helper()
	sandbox, err := filepath.EvalSymlinks(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := os.Create(filepath.Join(sandbox, "stdout"))
	if err != nil {
		t.Fatal(err)
	}
	defer stdout.Close()
	stderr, err := os.Create(filepath.Join(sandbox, "stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()

	cmd := exec.Command(self)
	cmd.Env = append(os.Environ(), agent.Env(sandbox)...)
	cmd.Env = append(cmd.Env, builtin.EnvKind+"="+kind)
	cmd.Env = append(cmd.Env, env...)
	if _, ok := os.LookupEnv("GORACE"); !ok {
		// Under -race, do not linger a second at exit.
		cmd.Env = append(cmd.Env, "GORACE=atexit_sleep_ms=0")
	}
	cmd.Dir = sandbox
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &execProc{t: t, sandbox: sandbox, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		// A test that failed may leave the executor running: SIGTERM makes
		// it kill its tasks and exit; SIGKILL if even that hangs.
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(wait):
				_ = cmd.Process.Kill()
				<-p.done
			}
		}
		if t.Failed() {
			log, _ := os.ReadFile(filepath.Join(sandbox, "stderr"))
			t.Logf("executor stderr:\n%s", log)
		}
	})
	agent.Wait(t, wait, "the executor to subscribe", agent.Subscribed)
	return p
}

// exitCode waits for the executor to exit.
func (p *execProc) exitCode() int {
	p.t.Helper()
	select {
	case <-p.done:
		return p.cmd.ProcessState.ExitCode()
	case <-time.After(wait):
		p.t.Fatalf("executor did not exit within %v", wait)
		return -1
	}
}

func (p *execProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *execProc) file(name string) string {
	b, _ := os.ReadFile(filepath.Join(p.sandbox, name))
	return string(b)
}

func shellTask(id, command string) *mesos.TaskInfo {
	return &mesos.TaskInfo{
		Name:    proto.String("task " + id),
		TaskId:  &mesos.TaskID{Value: proto.String(id)},
		AgentId: &mesos.AgentID{Value: proto.String(fakeagent.AgentID)},
		Command: &mesos.CommandInfo{Value: proto.String(command)},
	}
}

func withGrace(t *mesos.TaskInfo, d time.Duration) *mesos.TaskInfo {
	t.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: proto.Int64(int64(d))}}
	return t
}

func launch(t *testing.T, a *fakeagent.Agent, task *mesos.TaskInfo) {
	t.Helper()
	send(t, a, &execpb.Event{Type: execpb.Event_LAUNCH.Enum(), Launch: &execpb.Event_Launch{Task: task}})
}

func launchGroup(t *testing.T, a *fakeagent.Agent, tasks ...*mesos.TaskInfo) {
	t.Helper()
	send(t, a, &execpb.Event{
		Type:        execpb.Event_LAUNCH_GROUP.Enum(),
		LaunchGroup: &execpb.Event_LaunchGroup{TaskGroup: &mesos.TaskGroupInfo{Tasks: tasks}},
	})
}

func kill(t *testing.T, a *fakeagent.Agent, id string, grace *time.Duration) {
	t.Helper()
	k := &execpb.Event_Kill{TaskId: &mesos.TaskID{Value: proto.String(id)}}
	if grace != nil {
		k.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: proto.Int64(int64(*grace))}}
	}
	send(t, a, &execpb.Event{Type: execpb.Event_KILL.Enum(), Kill: k})
}

func send(t *testing.T, a *fakeagent.Agent, ev *execpb.Event) {
	t.Helper()
	if err := a.Send(ev); err != nil {
		t.Fatal(err)
	}
}

func wantStates(t *testing.T, a *fakeagent.Agent, id string, want ...mesos.TaskState) {
	t.Helper()
	got := a.States(id)
	if !equalStates(got, want) {
		t.Errorf("task %s went through %v, want %v", id, got, want)
	}
}

func equalStates(a, b []mesos.TaskState) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func noProblems(t *testing.T, a *fakeagent.Agent) {
	t.Helper()
	for _, p := range a.Problems() {
		t.Errorf("agent saw: %s", p)
	}
}
