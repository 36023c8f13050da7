package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/internal/testutil"
)

// proc is a gomesos process started by a test.
type proc struct {
	cmd    *exec.Cmd
	stdout *lineReader
	stderr bytes.Buffer
	done   chan struct{}
}

// lineReader collects a process's stdout lines for the test to match.
type lineReader struct {
	lines chan string
	all   bytes.Buffer
}

func startProc(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(gomesosBin, args...), done: make(chan struct{})}
	p.cmd.Stderr = &p.stderr
	out, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	p.stdout = &lineReader{lines: make(chan string, 1000)}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			p.stdout.all.WriteString(sc.Text() + "\n")
			p.stdout.lines <- sc.Text()
		}
		close(p.stdout.lines)
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s stderr:\n%s", strings.Join(args, " "), p.stderr.String())
		}
	})
	return p
}

// expect waits for a stdout line matching re and returns its submatches.
func (p *proc) expect(t *testing.T, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(patience)
	for {
		select {
		case line, ok := <-p.stdout.lines:
			if !ok {
				<-p.done // stderr is complete (and no longer written) once the process has been waited for
				t.Fatalf("process ended before printing /%s/; stderr:\n%s", re, p.stderr.String())
			}
			if m := rx.FindStringSubmatch(line); m != nil {
				return m
			}
		case <-deadline:
			t.Fatalf("timed out waiting for /%s/", re)
		}
	}
}

func (p *proc) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(patience):
		t.Fatal("timed out waiting for the process to exit")
	}
	return p.cmd.ProcessState.ExitCode()
}

// `gomesos local` runs a whole cluster; `gomesos execute` exits with the
// task's exit status, and the task's stdout is readable via /files/read;
// Ctrl-C stops the cluster and kills its tasks.
func TestLocalClusterExecuteAndInterrupt(t *testing.T) {
	local := startProc(t, "local", "--port=0", "--work_dir="+t.TempDir(), "--num_agents=2")
	m := local.expect(t, `master (http://\S+) with 2 agent`)
	masterURL := m[1]
	masterAddr := strings.TrimPrefix(masterURL, "http://")
	waitFor(t, "two agents", func() bool {
		var s struct{ Slaves []any }
		getJSON(t, masterURL+"/master/slaves", &s)
		return len(s.Slaves) == 2
	})

	exe := exec.Command(gomesosBin, "execute", "--master="+masterAddr, "--name=three", "--command=echo to-stdout; exit 3")
	var out bytes.Buffer
	exe.Stdout, exe.Stderr = &out, &out
	err := exe.Run()
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != 3 {
		t.Fatalf("gomesos execute: %v, want exit status 3; output:\n%s", err, out.String())
	}
	for _, want := range []string{"Subscribed with ID ", "Submitted task 'three' to agent '", "Received status update TASK_RUNNING for task 'three'",
		"Received status update TASK_FAILED for task 'three'", "  message: 'Command exited with status 3'"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("execute output lacks %q:\n%s", want, out.String())
		}
	}
	// Find the task's agent and sandbox, and read its stdout over HTTP.
	var tasks struct {
		Tasks []struct {
			SlaveID string `json:"slave_id"`
		} `json:"tasks"`
	}
	getJSON(t, masterURL+"/master/tasks", &tasks)
	var slaves struct {
		Slaves []struct {
			ID  string `json:"id"`
			PID string `json:"pid"`
		} `json:"slaves"`
	}
	getJSON(t, masterURL+"/master/slaves", &slaves)
	var agentAddr string
	for _, s := range slaves.Slaves {
		if len(tasks.Tasks) == 1 && s.ID == tasks.Tasks[0].SlaveID {
			agentAddr = strings.TrimPrefix(s.PID, "slave(1)@")
		}
	}
	if agentAddr == "" {
		t.Fatalf("no agent found for the task: tasks %+v slaves %+v", tasks, slaves)
	}
	dir := sandboxOf(t, agentAddr, "three")
	if got := readFile(t, agentAddr, dir+"/stdout"); got != "to-stdout\n" {
		t.Errorf("stdout via /files/read = %q", got)
	}

	// A long task is running when the cluster is interrupted.
	long := exec.Command(gomesosBin, "execute", "--master="+masterAddr, "--name=long", "--command=echo $$ > pid; exec sleep 1000")
	longOut, _ := long.StdoutPipe()
	if err := long.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = long.Process.Kill(); _ = long.Wait() })
	sc := bufio.NewScanner(longOut)
	for sc.Scan() && !strings.Contains(sc.Text(), "TASK_RUNNING") {
	}
	go io.Copy(io.Discard, longOut)
	var longAgent, longDir string
	waitFor(t, "the long task's sandbox", func() bool {
		getJSON(t, masterURL+"/master/slaves", &slaves)
		for _, s := range slaves.Slaves {
			addr := strings.TrimPrefix(s.PID, "slave(1)@")
			var st map[string]any
			getJSON(t, "http://"+addr+"/state", &st)
			if strings.Contains(fmt.Sprint(st), "long") {
				longAgent = addr
			}
		}
		return longAgent != ""
	})
	longDir = sandboxOf(t, longAgent, "long")
	var pid int
	waitFor(t, "the task's pid file", func() bool {
		b, err := os.ReadFile(longDir + "/pid")
		if err != nil {
			return false
		}
		_, err = fmt.Sscan(string(b), &pid)
		return err == nil
	})
	if err := syscall.Kill(pid, 0); err != nil {
		t.Fatalf("task process %d not running: %v", pid, err)
	}
	if err := local.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := local.wait(t); code != 0 {
		t.Errorf("gomesos local exited %d after SIGINT, want 0; stderr:\n%s", code, local.stderr.String())
	}
	waitFor(t, "the task process to be gone", func() bool { return testutil.ProcessGone(pid) })
}

// An agent that dies (SIGKILL, no goodbye) stops answering pings; after
// the ping timeouts the master removes it and the framework learns its task
// is lost, with the reason, and that the agent failed.
func TestAgentLossReportsTasksLost(t *testing.T) {
	mst := startProc(t, "master", "--port=0", "--registry=in_memory", "--agent_ping_timeout=200ms", "--max_agent_ping_timeouts=3", "--allocation_interval=100ms", "--logging_level=WARNING")
	masterURL := mst.expect(t, `listening on (http://\S+)`)[1]
	masterAddr := strings.TrimPrefix(masterURL, "http://")
	ag := startProc(t, "agent", "--master="+masterAddr, "--port=0", "--ip=127.0.0.1", "--work_dir="+t.TempDir(),
		"--resources=cpus:1;mem:512;disk:512;ports:[31000-31100]", "--logging_level=WARNING")
	ag.expect(t, `Agent listening on`)

	fw := startFrameworkAt(t, masterAddr, frameworkOptions{})
	o := fw.nextOffer()
	if err := fw.client.Launch(ctxT(t), ids(o), []*mesos.TaskInfo{commandTask("doomed", o, "cpus:0.1;mem:32", "sleep 1000")}, nil); err != nil {
		t.Fatal(err)
	}
	for s := fw.nextUpdate(); s.GetState() != mesos.TaskState_TASK_RUNNING; s = fw.nextUpdate() {
	}
	if err := ag.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	s := fw.nextUpdate()
	if s.GetState() != mesos.TaskState_TASK_LOST || s.GetSource() != mesos.TaskStatus_SOURCE_MASTER || len(s.GetUuid()) != 0 {
		t.Fatalf("after the agent died: %s from %s (uuid %x), want TASK_LOST from the master", s.GetState(), s.GetSource(), s.GetUuid())
	}
	if r := s.GetReason(); r != mesos.TaskStatus_REASON_AGENT_REMOVED && r != mesos.TaskStatus_REASON_AGENT_DISCONNECTED {
		t.Errorf("reason %s, want REASON_AGENT_REMOVED or REASON_AGENT_DISCONNECTED", r)
	}
	f := fw.nextEvent(schedpb.Event_FAILURE)
	if f.GetFailure().GetAgentId().GetValue() != o.GetAgentId().GetValue() {
		t.Errorf("FAILURE for %v, want agent %s", f.GetFailure(), o.GetAgentId().GetValue())
	}
	waitFor(t, "the master to drop the agent", func() bool {
		var sl struct{ Slaves []any }
		getJSON(t, masterURL+"/master/slaves", &sl)
		var m map[string]float64
		getJSON(t, masterURL+"/metrics/snapshot", &m)
		return len(sl.Slaves) == 0 && m["master/slave_removals"] == 1 && m["master/tasks_lost"] == 1
	})
}
