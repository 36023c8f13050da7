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
	"math"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/v1/mesos"
)

// Target is where a COMMAND check runs: the task's directory and
// environment.
type Target struct {
	Dir string
	Env []string
	// Stderr receives the check command's output (both streams); nil
	// discards it.
	Stderr io.Writer
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
type probe struct {
	kind    mesos.CheckInfo_Type
	command *mesos.CommandInfo
	scheme  string
	port    uint32
	path    string
}

type schedule struct {
	delay, interval, timeout time.Duration
}

func seconds(name string, v float64) (time.Duration, error) {
	if math.IsNaN(v) || v < 0 || math.IsInf(v, 0) {
		return 0, fmt.Errorf("Expecting '%s' to be non-negative", name)
	}
	return time.Duration(v * float64(time.Second)), nil
}

func newSchedule(delay, interval, timeout float64) (schedule, error) {
	var s schedule
	var err error
	if s.delay, err = seconds("delay_seconds", delay); err != nil {
		return s, err
	}
	if s.interval, err = seconds("interval_seconds", interval); err != nil {
		return s, err
	}
	if s.timeout, err = seconds("timeout_seconds", timeout); err != nil {
		return s, err
	}
	return s, nil
}

// ValidateHealthCheck returns the error Mesos gives for an invalid health
// check, or nil.
func ValidateHealthCheck(hc *mesos.HealthCheck) error {
	_, _, err := healthProbe(hc)
	return err
}

// ValidateCheck returns the error Mesos gives for an invalid check, or nil.
func ValidateCheck(ci *mesos.CheckInfo) error {
	_, _, err := checkProbe(ci)
	return err
}

func validateCommand(c *mesos.CommandInfo, what string) error {
	if c.Value == nil {
		kind := "'shell command'"
		if !c.GetShell() {
			kind = "'executable path'"
		}
		return fmt.Errorf("Command %s must contain %s", what, kind)
	}
	return nil
}

func healthProbe(hc *mesos.HealthCheck) (probe, schedule, error) {
	var p probe
	if hc.Type == nil {
		return p, schedule{}, errors.New("HealthCheck must specify 'type'")
	}
	switch hc.GetType() {
	case mesos.HealthCheck_COMMAND:
		if hc.Command == nil {
			return p, schedule{}, errors.New("Expecting 'command' to be set for command health check")
		}
		if err := validateCommand(hc.Command, "health check"); err != nil {
			return p, schedule{}, err
		}
		p = probe{kind: mesos.CheckInfo_COMMAND, command: hc.Command}
	case mesos.HealthCheck_HTTP:
		h := hc.GetHttp()
		if h == nil {
			return p, schedule{}, errors.New("Expecting 'http' to be set for HTTP health check")
		}
		if h.Scheme != nil && h.GetScheme() != "http" && h.GetScheme() != "https" {
			return p, schedule{}, fmt.Errorf("Unsupported HTTP health check scheme: '%s'", h.GetScheme())
		}
		if h.Path != nil && !strings.HasPrefix(h.GetPath(), "/") {
			return p, schedule{}, fmt.Errorf("The path '%s' of HTTP health check must start with '/'", h.GetPath())
		}
		scheme := h.GetScheme()
		if scheme == "" {
			scheme = "http"
		}
		p = probe{kind: mesos.CheckInfo_HTTP, scheme: scheme, port: h.GetPort(), path: h.GetPath()}
	case mesos.HealthCheck_TCP:
		if hc.Tcp == nil {
			return p, schedule{}, errors.New("Expecting 'tcp' to be set for TCP health check")
		}
		p = probe{kind: mesos.CheckInfo_TCP, port: hc.GetTcp().GetPort()}
	default:
		return p, schedule{}, fmt.Errorf("'%s' is not a valid health check type", hc.GetType())
	}
	s, err := newSchedule(hc.GetDelaySeconds(), hc.GetIntervalSeconds(), hc.GetTimeoutSeconds())
	if err != nil {
		return p, s, err
	}
	if _, err := seconds("grace_period_seconds", hc.GetGracePeriodSeconds()); err != nil {
		return p, s, err
	}
	return p, s, nil
}

func checkProbe(ci *mesos.CheckInfo) (probe, schedule, error) {
	var p probe
	if ci.Type == nil {
		return p, schedule{}, errors.New("CheckInfo must specify 'type'")
	}
	switch ci.GetType() {
	case mesos.CheckInfo_COMMAND:
		if ci.GetCommand().GetCommand() == nil {
			return p, schedule{}, errors.New("Expecting 'command' to be set for COMMAND check")
		}
		if err := validateCommand(ci.GetCommand().GetCommand(), "check"); err != nil {
			return p, schedule{}, err
		}
		p = probe{kind: mesos.CheckInfo_COMMAND, command: ci.GetCommand().GetCommand()}
	case mesos.CheckInfo_HTTP:
		h := ci.GetHttp()
		if h == nil {
			return p, schedule{}, errors.New("Expecting 'http' to be set for HTTP check")
		}
		if h.Path != nil && !strings.HasPrefix(h.GetPath(), "/") {
			return p, schedule{}, fmt.Errorf("The path '%s' of HTTP check must start with '/'", h.GetPath())
		}
		p = probe{kind: mesos.CheckInfo_HTTP, scheme: "http", port: h.GetPort(), path: h.GetPath()}
	case mesos.CheckInfo_TCP:
		if ci.Tcp == nil {
			return p, schedule{}, errors.New("Expecting 'tcp' to be set for TCP check")
		}
		p = probe{kind: mesos.CheckInfo_TCP, port: ci.GetTcp().GetPort()}
	default:
		return p, schedule{}, fmt.Errorf("'%s' is not a valid check type", ci.GetType())
	}
	s, err := newSchedule(ci.GetDelaySeconds(), ci.GetIntervalSeconds(), ci.GetTimeoutSeconds())
	return p, s, err
}

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
	switch p.kind {
	case mesos.CheckInfo_COMMAND:
		o.exitCode, o.err = runCommand(ctx, p.command, t)
	case mesos.CheckInfo_HTTP:
		o.statusCode, o.err = p.get(ctx)
	case mesos.CheckInfo_TCP:
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(int(p.port))))
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
		if p.kind != mesos.CheckInfo_COMMAND {
			what = p.kind.String() + " check"
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
	url := fmt.Sprintf("%s://127.0.0.1:%d%s", p.scheme, p.port, p.path)
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
	if err := cmd.Start(); err != nil {
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

func start(ctx context.Context, s schedule, attempt func(context.Context)) *runner {
	ctx, cancel := context.WithCancel(ctx)
	r := &runner{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		timer := time.NewTimer(s.delay)
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
			timer.Reset(s.interval)
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
	p, s, err := healthProbe(hc)
	if err != nil {
		return nil, err
	}
	if clock == nil {
		clock = realClock{}
	}
	grace, _ := seconds("grace_period_seconds", hc.GetGracePeriodSeconds())
	limit := int(hc.GetConsecutiveFailures())
	started := clock.Now()
	initializing := true
	failures := 0
	attempt := func(ctx context.Context) {
		o := p.run(ctx, t, s.timeout)
		if ctx.Err() != nil {
			return // stopped
		}
		msg := ""
		switch {
		case o.err != nil:
			msg = o.err.Error()
		case p.kind == mesos.CheckInfo_COMMAND && o.exitCode != 0:
			msg = fmt.Sprintf("Command returned exited with status %d", o.exitCode)
		case p.kind == mesos.CheckInfo_HTTP && (o.statusCode < 200 || o.statusCode >= 400):
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
		msg = fmt.Sprintf("%s health check failed: %s", p.kind, msg)
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
	p, s, err := checkProbe(ci)
	if err != nil {
		return nil, err
	}
	prev := EmptyStatus(ci)
	attempt := func(ctx context.Context) {
		o := p.run(ctx, t, s.timeout)
		if ctx.Err() != nil {
			return // stopped
		}
		st := EmptyStatus(ci)
		switch p.kind {
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
			fmt.Fprintf(stderrOf(t), "%s check failed: %v\n", p.kind, o.err)
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
