package containerizer

import (
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
)

// SuperviseArg, as a binary's first argument, makes it the supervisor of
// one container (if its main calls MainIfSupervisor, as gomesos's does):
//
//	<binary> _supervise <container runtime dir> <executor path> <argv0> [args...]
//
// The supervisor is what Mesos's `mesos-containerizer launch` helper is to
// a container: the first process of the container's session and process
// group, it starts the executor as its child (in the same session and
// group, with its own environment, directory and standard output and
// error), records both processes in the runtime directory, waits for the
// executor and records its wait status there before exiting. So the
// executor's exit status is known even when the agent that launched it was
// gone when it ended: whoever reaps the executor, the supervisor does.
//
// The containerizer learns the executor's pid (or why it did not start)
// from the supervisor's file descriptor 3, which it reads to the end.
const SuperviseArg = "_supervise"

// reportFD is the supervisor's descriptor for telling the containerizer
// the executor's pid ("<pid>\n") or the launch error ("error: ...\n").
const reportFD = 3

// MainIfSupervisor makes the process a container supervisor when it was
// started as one (SuperviseArg first), and exits the process when the
// executor has ended; or the executor host (HostArg first, see host.go),
// exiting when the host is done; otherwise it returns at once. A main, and the
// TestMain of every test binary that runs an agent or a containerizer with
// a supervisor, calls it first of all, before builtin.MainIfExecutor: the
// supervisor runs with the executor's environment.
func MainIfSupervisor() {
	if len(os.Args) >= 2 && os.Args[1] == HostArg {
		os.Exit(runHost(os.Args[2:]))
	}
	if len(os.Args) < 2 || os.Args[1] != SuperviseArg {
		return
	}
	os.Exit(supervise(os.Args[2:]))
}

// reporter marks every inherited descriptor from reportFD up close-on-exec
// and returns the function that writes the one line the starter reads on
// reportFD, then closes it; later calls do nothing.
func reporter() func(msg string) {
	closeOnExecFrom(reportFD)
	report := os.NewFile(reportFD, "report")
	return func(msg string) {
		if report != nil {
			_, _ = report.WriteString(msg + "\n")
			_ = report.Close()
			report = nil
		}
	}
}

// supervise is the supervisor's life; it returns the exit status: the
// executor's exit code, 128 plus the signal that ended it, or 127 when it
// could not be started.
func supervise(args []string) int {
	runtime.GOMAXPROCS(1)
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "container supervisor")
	// Only the standard descriptors reach the executor: not the report
	// descriptor, on which the containerizer waits for the end, nor
	// anything the agent itself inherited and left open (a pipe from
	// whoever started it, say), which would tie the executor to it.
	tell := reporter()
	if len(args) < 3 {
		log.Error("usage: " + SuperviseArg + " <runtime dir> <path> <argv0> [args...]")
		tell("error: bad supervisor arguments")
		return 127
	}
	dir, path, argv := args[0], args[1], args[2:]

	// Signals sent to the container's process group are meant for the
	// executor; the supervisor outlives them to record how the executor
	// ended. They are caught, not ignored: an ignored signal would stay
	// ignored in the executor.
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGTERM,
		syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGALRM, syscall.SIGPIPE,
		syscall.SIGTSTP, syscall.SIGTTIN, syscall.SIGTTOU)
	go func() {
		for range sigs {
		}
	}()

	// Join the container's cgroups first: the executor and everything it
	// starts inherit them.
	if procs, ok := os.LookupEnv(cgroupProcsEnv); ok {
		_ = os.Unsetenv(cgroupProcsEnv)
		for _, f := range strings.Split(procs, ":") {
			if err := os.WriteFile(f, []byte(strconv.Itoa(os.Getpid())), 0); err != nil {
				tell("error: joining the container's cgroup: " + err.Error())
				return 127
			}
		}
	}
	// In namespaces of its own (namespaces/pid, filesystem/linux), the
	// supervisor mounts what the container is to see before the executor
	// starts. With a pid namespace it is the namespace's init: it knows
	// itself and the executor outside by the host's /proc, kept open
	// under the container's own, and records and reports those pids.
	host, err := setupMounts()
	if err != nil {
		tell("error: setting up the container's mounts: " + err.Error())
		return 127
	}
	if host != nil {
		defer host.close()
	}
	cmd := &exec.Cmd{Path: path, Args: argv, Env: os.Environ(), Stdout: os.Stdout, Stderr: os.Stderr}
	if err := cmd.Start(); err != nil {
		tell("error: " + err.Error())
		return 127
	}
	pid := cmd.Process.Pid
	rec := pidsRecord{BootID: bootID(), Root: recordProc(os.Getpid()), Executor: recordProc(pid)}
	hostPid := pid
	if host != nil {
		hostPid, err = host.child()
		if err == nil {
			rec.Root, rec.Executor = host.record(host.self), host.record(hostPid)
		}
	}
	if err == nil {
		err = writeJSON(filepath.Join(dir, pidsFile), rec)
	}
	if err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		tell("error: recording the container's processes: " + err.Error())
		return 127
	}
	tell(strconv.Itoa(hostPid))

	var ws syscall.WaitStatus
	if host != nil {
		ws, err = reapAsInit(pid)
		if err != nil {
			log.Error("waiting for the executor failed", "pid", hostPid, "err", err)
			return 127
		}
	} else {
		err := cmd.Wait()
		ok := cmd.ProcessState != nil
		if ok {
			ws, ok = cmd.ProcessState.Sys().(syscall.WaitStatus)
		}
		if !ok {
			log.Error("waiting for the executor failed", "pid", pid, "err", err)
			return 127
		}
	}
	if err := writeStatus(dir, int(ws)); err != nil {
		log.Error("recording the executor's exit status failed", "pid", pid, "err", err)
	}
	switch {
	case ws.Exited():
		return ws.ExitStatus()
	case ws.Signaled():
		return 128 + int(ws.Signal())
	}
	return 127
}

// superviseArgs is the supervisor's argv for a container.
func superviseArgs(supervisor, runDir, path string, argv []string) []string {
	return append([]string{supervisor, SuperviseArg, runDir, path}, argv...)
}
