// Package checks runs a task's health check (mesos.HealthCheck) and its
// general check (mesos.CheckInfo) for the built-in executors, as Mesos's
// health checker and checker do:
//
//   - The first check runs delay_seconds after Start, then each next one
//     interval_seconds after the previous one finished. A check that runs
//     longer than timeout_seconds (0: no limit) fails; a COMMAND check's
//     process group is then killed.
//   - COMMAND runs the command (`/bin/sh -c value` when shell, the default)
//     as a child process in the task's directory and environment plus
//     CommandInfo.environment, stdin /dev/null, output to the executor's
//     stderr. HTTP GETs scheme://127.0.0.1:port+path (scheme http unless
//     https is given, following redirects and not verifying certificates, as
//     curl -L -k does). TCP connects to 127.0.0.1:port.
//   - A health check succeeds on exit status 0, an HTTP status in
//     [200, 400), or a TCP connection. Its callback gets healthy=true on the
//     first success and on the first success after failures; a failure
//     within grace_period_seconds of Start is ignored as long as no check
//     has succeeded yet; any other failure gives healthy=false with the
//     count of consecutive failures, and KillTask once that count reaches
//     consecutive_failures. Failure messages are Mesos's ("COMMAND health
//     check failed: Command returned exited with status 1").
//   - A general check reports CheckStatusInfo (exit_code, status_code or
//     succeeded, false when the connection fails; the type's message left
//     empty when the check could not be performed or timed out) and calls
//     back only when the result differs from the previous one.
//
// Differences from Mesos: checks are plain child processes of the executor
// and Go network calls, not nested containers, curl or mesos-tcp-connect;
// HealthCheck.HTTPCheckInfo.protocol and TCPCheckInfo.protocol (IPv6) and
// statuses are ignored (127.0.0.1 is always used).
package checks

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/internal/checkspec"
)

// Target is where a COMMAND check runs: the task's directory and
// environment.
type Target struct {
	Dir string
	Env []string
	// Stderr receives the check command's output (both streams); nil
	// discards it.
	Stderr io.Writer
	// Start starts a check command's process (prepared, in a process
	// group of its own); nil is cmd.Start. An executor host uses it to
	// start the command in the task's container (its cgroups).
	Start func(cmd *exec.Cmd) error
}

// Clock lets tests replace the time source used for the grace period.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// HealthStatus is one health update.
type HealthStatus struct {
	Healthy             bool
	ConsecutiveFailures int
	KillTask            bool
	// Message says why the check failed; empty when healthy.
	Message string
}

// probe is one kind of check: it returns the outcome of one attempt.
type probe struct{ checkspec.Probe }

// outcome is the result of one attempt: err non-nil when the check could
// not be performed (or timed out); otherwise the exit code, HTTP status or
// TCP success.
type outcome struct {
	exitCode   int
	statusCode int
	connected  bool
	timedOut   bool
	err        error
}

func (p probe) run(ctx context.Context, t Target, timeout time.Duration) outcome {
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	var o outcome
	switch p.Kind {
	case mesos.CheckInfo_COMMAND:
		o.exitCode, o.err = runCommand(ctx, p.Command, t)
	case mesos.CheckInfo_HTTP:
		o.statusCode, o.err = p.get(ctx)
	case mesos.CheckInfo_TCP:
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(p.Port))))
		if err == nil {
			o.connected = true
			c.Close()
		} else {
			o.err = err
		}
	}
	if o.err != nil && ctx.Err() == context.DeadlineExceeded {
		o.timedOut = true
		what := "Command"
		if p.Kind != mesos.CheckInfo_COMMAND {
			what = p.Kind.String() + " check"
		}
		o.err = fmt.Errorf("%s has not returned after %v; aborting", what, timeout)
	}
	return o
}

var insecureTransport = &http.Transport{
	TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // as curl -k, which Mesos uses
	DisableKeepAlives: true,
}

func (p probe) get(ctx context.Context) (int, error) {
	url := fmt.Sprintf("%s://127.0.0.1:%d%s", p.Scheme, p.Port, p.Path)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := (&http.Client{Transport: insecureTransport}).Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp.StatusCode, nil
}

func runCommand(ctx context.Context, c *mesos.CommandInfo, t Target) (int, error) {
	var cmd *exec.Cmd
	if c.GetShell() {
		cmd = exec.Command("/bin/sh", "-c", c.GetValue())
	} else {
		args := c.GetArguments()
		cmd = exec.Command(c.GetValue())
		if len(args) > 0 {
			cmd.Args = append([]string(nil), args...)
		} else {
			cmd.Args = []string{c.GetValue()}
		}
	}
	env := append([]string(nil), t.Env...)
	for _, v := range c.GetEnvironment().GetVariables() {
		env = append(env, v.GetName()+"="+v.GetValue())
	}
	cmd.Env = env
	cmd.Dir = t.Dir
	if t.Stderr != nil {
		cmd.Stdout, cmd.Stderr = t.Stderr, t.Stderr
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	start := cmd.Start
	if t.Start != nil {
		start = func() error { return t.Start(cmd) }
	}
	if err := start(); err != nil {
		return 0, fmt.Errorf("failed to create subprocess: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			return 0, fmt.Errorf("failed to reap the command process: %w", err)
		}
		return cmd.ProcessState.ExitCode(), nil
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return 0, ctx.Err()
	}
}

// runner is the loop shared by both checkers.
type runner struct {
	cancel context.CancelFunc
	done   chan struct{}
	once   sync.Once
}

func start(ctx context.Context, s checkspec.Schedule, attempt func(context.Context)) *runner {
	ctx, cancel := context.WithCancel(ctx)
	r := &runner{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		timer := time.NewTimer(s.Delay)
		defer timer.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-timer.C:
			}
			attempt(ctx)
			if ctx.Err() != nil {
				return
			}
			timer.Reset(s.Interval)
		}
	}()
	return r
}

// Stop ends the checks. A check already running is abandoned without a
// callback; Done is closed once the checker's goroutine has ended.
func (r *runner) Stop() { r.once.Do(r.cancel) }

// Done is closed when the checker's goroutine has ended.
func (r *runner) Done() <-chan struct{} { return r.done }

// HealthChecker runs a HealthCheck.
type HealthChecker struct {
	*runner
}

// StartHealthChecker validates hc and starts checking; callback is called
// from the checker's goroutine. clock may be nil.
func StartHealthChecker(ctx context.Context, hc *mesos.HealthCheck, t Target, clock Clock, callback func(HealthStatus)) (*HealthChecker, error) {
	sp, s, err := checkspec.Health(hc)
	p := probe{sp}
	if err != nil {
		return nil, err
	}
	if clock == nil {
		clock = realClock{}
	}
	grace, _ := checkspec.Seconds("grace_period_seconds", hc.GetGracePeriodSeconds())
	limit := int(hc.GetConsecutiveFailures())
	started := clock.Now()
	initializing := true
	failures := 0
	attempt := func(ctx context.Context) {
		o := p.run(ctx, t, s.Timeout)
		if ctx.Err() != nil {
			return // stopped
		}
		msg := ""
		switch {
		case o.err != nil:
			msg = o.err.Error()
		case p.Kind == mesos.CheckInfo_COMMAND && o.exitCode != 0:
			msg = fmt.Sprintf("Command returned exited with status %d", o.exitCode)
		case p.Kind == mesos.CheckInfo_HTTP && (o.statusCode < 200 || o.statusCode >= 400):
			msg = fmt.Sprintf("Unexpected HTTP response code: %d %s", o.statusCode, http.StatusText(o.statusCode))
		}
		if msg == "" {
			if initializing || failures > 0 {
				callback(HealthStatus{Healthy: true})
			}
			initializing, failures = false, 0
			return
		}
		if initializing && grace > 0 && clock.Now().Sub(started) <= grace {
			return
		}
		msg = fmt.Sprintf("%s health check failed: %s", p.Kind, msg)
		failures++
		callback(HealthStatus{
			Healthy:             false,
			ConsecutiveFailures: failures,
			KillTask:            failures >= limit,
			Message:             msg,
		})
	}
	return &HealthChecker{start(ctx, s, attempt)}, nil
}

// Checker runs a CheckInfo.
type Checker struct {
	*runner
}

// EmptyStatus is the CheckStatusInfo a task's updates carry before its
// check's first result: the type with an empty result message.
func EmptyStatus(ci *mesos.CheckInfo) *mesos.CheckStatusInfo {
	st := &mesos.CheckStatusInfo{Type: ci.GetType().Enum()}
	switch ci.GetType() {
	case mesos.CheckInfo_COMMAND:
		st.Command = &mesos.CheckStatusInfo_Command{}
	case mesos.CheckInfo_HTTP:
		st.Http = &mesos.CheckStatusInfo_Http{}
	case mesos.CheckInfo_TCP:
		st.Tcp = &mesos.CheckStatusInfo_Tcp{}
	}
	return st
}

// StartChecker validates ci and starts checking; callback gets each result
// that differs from the previous one (the first compared with EmptyStatus).
func StartChecker(ctx context.Context, ci *mesos.CheckInfo, t Target, callback func(*mesos.CheckStatusInfo)) (*Checker, error) {
	sp, s, err := checkspec.Check(ci)
	p := probe{sp}
	if err != nil {
		return nil, err
	}
	prev := EmptyStatus(ci)
	attempt := func(ctx context.Context) {
		o := p.run(ctx, t, s.Timeout)
		if ctx.Err() != nil {
			return // stopped
		}
		st := EmptyStatus(ci)
		switch p.Kind {
		case mesos.CheckInfo_COMMAND:
			if o.err == nil {
				st.Command.ExitCode = proto.Int32(int32(o.exitCode))
			}
		case mesos.CheckInfo_HTTP:
			if o.err == nil {
				st.Http.StatusCode = proto.Uint32(uint32(o.statusCode))
			}
		case mesos.CheckInfo_TCP:
			if !o.timedOut {
				// Refused or unreachable is a result; a timeout is not.
				st.Tcp.Succeeded = proto.Bool(o.err == nil)
			}
		}
		if o.err != nil {
			fmt.Fprintf(stderrOf(t), "%s check failed: %v\n", p.Kind, o.err)
		}
		if !proto.Equal(st, prev) {
			prev = st
			callback(proto.Clone(st).(*mesos.CheckStatusInfo))
		}
	}
	return &Checker{start(ctx, s, attempt)}, nil
}

func stderrOf(t Target) io.Writer {
	if t.Stderr != nil {
		return t.Stderr
	}
	return os.Stderr
}
