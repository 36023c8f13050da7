package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	masterpb "github.com/gomesos/gomesos/api/v1/master"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/operator"
)

// TaskLogOptions say which task's output TaskLog prints, and how.
type TaskLogOptions struct {
	TaskID      string
	FrameworkID string        // needed only when several frameworks have a task of that id
	Stderr      bool          // the task's stderr rather than its stdout
	Follow      bool          // keep printing until the task is terminal and the file drained
	Interval    time.Duration // how often Follow polls; 0 means 250ms
	HTTP        *http.Client  // for the agent's endpoints; nil means http.DefaultClient
}

// taskLocation is where a task runs.
type taskLocation struct {
	frameworkID, agentID string
	state                mesos.TaskState
}

// locateTask finds the task in GET_TASKS.
func locateTask(ctx context.Context, c *operator.Client, taskID, frameworkID string) (taskLocation, error) {
	resp, err := c.Do(ctx, masterpb.Call_GET_TASKS)
	if err != nil {
		return taskLocation{}, err
	}
	g := resp.GetGetTasks()
	var found []taskLocation
	for _, list := range [][]*mesos.Task{g.GetPendingTasks(), g.GetTasks(), g.GetUnreachableTasks(), g.GetCompletedTasks(), g.GetOrphanTasks()} {
		for _, t := range list {
			if t.GetTaskId().GetValue() != taskID || (frameworkID != "" && t.GetFrameworkId().GetValue() != frameworkID) {
				continue
			}
			loc := taskLocation{frameworkID: t.GetFrameworkId().GetValue(), agentID: t.GetAgentId().GetValue(), state: t.GetState()}
			dup := false
			for _, f := range found {
				dup = dup || f.frameworkID == loc.frameworkID
			}
			if !dup {
				found = append(found, loc)
			}
		}
	}
	switch len(found) {
	case 0:
		if frameworkID != "" {
			return taskLocation{}, fmt.Errorf("no task %q of framework %s is known to the master", taskID, frameworkID)
		}
		return taskLocation{}, fmt.Errorf("no task %q is known to the master", taskID)
	case 1:
		return found[0], nil
	}
	var fws []string
	for _, f := range found {
		fws = append(fws, f.frameworkID)
	}
	return taskLocation{}, fmt.Errorf("task %q is in several frameworks (%s): name one with --framework", taskID, strings.Join(fws, ", "))
}

// isTerminal says whether a task state is one a task does not leave.
func isTerminal(s mesos.TaskState) bool {
	switch s {
	case mesos.TaskState_TASK_FINISHED, mesos.TaskState_TASK_FAILED, mesos.TaskState_TASK_KILLED,
		mesos.TaskState_TASK_ERROR, mesos.TaskState_TASK_LOST, mesos.TaskState_TASK_DROPPED,
		mesos.TaskState_TASK_GONE, mesos.TaskState_TASK_GONE_BY_OPERATOR:
		return true
	}
	return false
}

// agentAddress finds the agent's host:port from its pid in GET_AGENTS
// ("slave(1)@ip:port").
func agentAddress(ctx context.Context, c *operator.Client, agentID string) (string, error) {
	resp, err := c.Do(ctx, masterpb.Call_GET_AGENTS)
	if err != nil {
		return "", err
	}
	for _, a := range resp.GetGetAgents().GetAgents() {
		if a.GetAgentInfo().GetId().GetValue() != agentID {
			continue
		}
		if _, addr, ok := strings.Cut(a.GetPid(), "@"); ok && addr != "" {
			return addr, nil
		}
		info := a.GetAgentInfo()
		if info.GetHostname() != "" && info.GetPort() != 0 {
			return info.GetHostname() + ":" + strconv.Itoa(int(info.GetPort())), nil
		}
		return "", fmt.Errorf("agent %s has no address (pid %q)", agentID, a.GetPid())
	}
	return "", fmt.Errorf("agent %s is not registered with the master", agentID)
}

// agentState is the part of the agent's /state that locates sandboxes.
type agentState struct {
	Frameworks          []agentFramework `json:"frameworks"`
	CompletedFrameworks []agentFramework `json:"completed_frameworks"`
}

type agentFramework struct {
	ID                 string          `json:"id"`
	Executors          []agentExecutor `json:"executors"`
	CompletedExecutors []agentExecutor `json:"completed_executors"`
}

type agentExecutor struct {
	ID             string        `json:"id"`
	Directory      string        `json:"directory"`
	Tasks          []agentTaskID `json:"tasks"`
	QueuedTasks    []agentTaskID `json:"queued_tasks"`
	CompletedTasks []agentTaskID `json:"completed_tasks"`
}

type agentTaskID struct {
	ID string `json:"id"`
}

// sandbox finds the directory of the executor that runs the task, in the
// agent's /state: the executor listing the task, or else the one of the
// same id (the command executor's). Running executors win over completed
// ones (the latest run).
func (st *agentState) sandbox(frameworkID, taskID string) string {
	byID := ""
	for _, fws := range [][]agentFramework{st.Frameworks, st.CompletedFrameworks} {
		for _, fw := range fws {
			if fw.ID != frameworkID {
				continue
			}
			for _, exs := range [][]agentExecutor{fw.Executors, fw.CompletedExecutors} {
				for _, ex := range exs {
					for _, ts := range [][]agentTaskID{ex.Tasks, ex.QueuedTasks, ex.CompletedTasks} {
						for _, t := range ts {
							if t.ID == taskID && ex.Directory != "" {
								return ex.Directory
							}
						}
					}
					if ex.ID == taskID && byID == "" {
						byID = ex.Directory
					}
				}
			}
		}
	}
	return byID
}

// getAgentJSON GETs path (with its query) from the agent at addr and
// decodes the JSON answer into v.
func getAgentJSON(ctx context.Context, hc *http.Client, addr, path string, v any) error {
	u := "http://" + addr + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		msg := fmt.Sprintf("GET %s: %s", u, resp.Status)
		if body := strings.TrimSpace(string(b)); body != "" {
			msg += ": " + body
		}
		return errors.New(msg)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("GET %s: decoding the answer: %w", u, err)
	}
	return nil
}

// readChunk is the most asked of /files/read at once (the agent caps a
// read at 64 KiB).
const readChunk = 64 << 10

// TaskLog prints a task's stdout (or stderr) from its sandbox on its
// agent: it finds the task's agent in GET_TASKS, the agent's address in
// GET_AGENTS, the sandbox in the agent's /state, and reads the file with
// the agent's /files/read. With Follow it keeps reading until the task is
// terminal and the file is drained, or ctx ends (then it returns nil).
func TaskLog(ctx context.Context, c *operator.Client, opts TaskLogOptions, w io.Writer) error {
	hc := opts.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	interval := opts.Interval
	if interval <= 0 {
		interval = 250 * time.Millisecond
	}
	file := "stdout"
	if opts.Stderr {
		file = "stderr"
	}
	loc, err := locateTask(ctx, c, opts.TaskID, opts.FrameworkID)
	if err != nil {
		return err
	}
	if loc.agentID == "" {
		return fmt.Errorf("task %s is not on an agent yet (%s)", opts.TaskID, loc.state)
	}
	addr, err := agentAddress(ctx, c, loc.agentID)
	if err != nil {
		return err
	}
	var dir string
	for {
		var st agentState
		if err := getAgentJSON(ctx, hc, addr, "/state", &st); err != nil {
			return err
		}
		if dir = st.sandbox(loc.frameworkID, opts.TaskID); dir != "" {
			break
		}
		// A task just launched may not have its executor yet.
		if !opts.Follow || isTerminal(loc.state) {
			return fmt.Errorf("agent %s (%s) has no sandbox of task %s", loc.agentID, addr, opts.TaskID)
		}
		if !sleepCtx(ctx, interval) {
			return nil
		}
		if loc, err = locateTask(ctx, c, opts.TaskID, loc.frameworkID); err != nil {
			return err
		}
	}
	path := strings.TrimSuffix(dir, "/") + "/" + file
	var offset int64
	for {
		n, err := readFile(ctx, hc, addr, path, &offset, w)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if n > 0 {
			continue // more may be waiting
		}
		if !opts.Follow || isTerminal(loc.state) {
			// The task was terminal before this read found nothing
			// more: the file is drained.
			return nil
		}
		if !sleepCtx(ctx, interval) {
			return nil
		}
		if loc, err = locateTask(ctx, c, opts.TaskID, loc.frameworkID); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
	}
}

// readFile reads the next chunk of path from offset, prints it and moves
// offset on; it returns how many bytes it read.
func readFile(ctx context.Context, hc *http.Client, addr, path string, offset *int64, w io.Writer) (int, error) {
	q := url.Values{"path": {path}, "offset": {strconv.FormatInt(*offset, 10)}, "length": {strconv.Itoa(readChunk)}}
	var chunk struct {
		Offset int64  `json:"offset"`
		Data   string `json:"data"`
	}
	if err := getAgentJSON(ctx, hc, addr, "/files/read?"+q.Encode(), &chunk); err != nil {
		return 0, err
	}
	if _, err := io.WriteString(w, chunk.Data); err != nil {
		return 0, err
	}
	*offset += int64(len(chunk.Data))
	return len(chunk.Data), nil
}

// sleepCtx waits d; it returns false when ctx ended first.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
