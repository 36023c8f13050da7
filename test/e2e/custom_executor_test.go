package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	execpb "github.com/gomesos/gomesos/api/v1/executor"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/executor"
)

// customExecutorEnv makes the test binary run as the tests' custom
// executor, built on the public executor SDK.
const customExecutorEnv = "GOMESOS_E2E_CUSTOM_EXECUTOR"

// runCustomExecutor is a framework's own executor: it writes its pid to
// executor.pid in its sandbox and reports each launched task RUNNING with the executor's environment in the status data, answers
// a framework message "echo X" with the message "X", finishes the task named
// by "finish ID", kills on KILL and exits on SHUTDOWN.
func runCustomExecutor() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	cfg, err := executor.ConfigFromEnv()
	if err != nil {
		fmt.Fprintln(os.Stderr, "custom executor:", err)
		return 1
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	c := executor.New(cfg)
	update := func(id *mesos.TaskID, state mesos.TaskState, data string) error {
		return c.Update(ctx, &mesos.TaskStatus{TaskId: id, State: state.Enum(), Data: []byte(data)})
	}
	err = c.Run(ctx, executor.HandlerFunc(func(ctx context.Context, ev *execpb.Event) error {
		switch ev.GetType() {
		case execpb.Event_LAUNCH:
			// The recovery tests tell the executor's process by this file.
			pidFile := filepath.Join(os.Getenv("MESOS_SANDBOX"), "executor.pid")
			if err := os.WriteFile(pidFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
				return fmt.Errorf("writing %s: %w", pidFile, err)
			}
			env := fmt.Sprintf("MESOS_FRAMEWORK_ID=%s MESOS_EXECUTOR_ID=%s MESOS_AGENT_ENDPOINT=%s MESOS_SANDBOX=%s",
				os.Getenv("MESOS_FRAMEWORK_ID"), os.Getenv("MESOS_EXECUTOR_ID"), os.Getenv("MESOS_AGENT_ENDPOINT"), os.Getenv("MESOS_SANDBOX"))
			return update(ev.GetLaunch().GetTask().GetTaskId(), mesos.TaskState_TASK_RUNNING, env)
		case execpb.Event_MESSAGE:
			msg := string(ev.GetMessage().GetData())
			if rest, ok := strings.CutPrefix(msg, "echo "); ok {
				return c.Message(ctx, []byte(rest))
			}
			if id, ok := strings.CutPrefix(msg, "finish "); ok {
				return update(&mesos.TaskID{Value: &id}, mesos.TaskState_TASK_FINISHED, "")
			}
		case execpb.Event_KILL:
			return update(ev.GetKill().GetTaskId(), mesos.TaskState_TASK_KILLED, "")
		case execpb.Event_SHUTDOWN:
			cancel()
		}
		return nil
	}))
	if err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "custom executor:", err)
		return 1
	}
	return 0
}
