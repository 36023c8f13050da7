// Package checkspec owns the meaning of a task's HealthCheck and CheckInfo:
// it validates them with Mesos's messages and turns them into what one
// attempt does (a Probe) and when attempts run (a Schedule). It does no
// I/O: the master validates tasks with it, and the built-in executors'
// checks package runs what it returns.
package checkspec

import (
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/gomesos/gomesos/api/v1/mesos"
)

// Probe is what one attempt of a check does: run Command (COMMAND), GET
// Scheme://127.0.0.1:Port+Path (HTTP) or connect to 127.0.0.1:Port (TCP).
type Probe struct {
	Kind    mesos.CheckInfo_Type
	Command *mesos.CommandInfo
	Scheme  string
	Port    uint32
	Path    string
}

// Schedule is when a check runs: first Delay after it starts, then
// Interval after each attempt ends; an attempt longer than Timeout (0: no
// limit) fails.
type Schedule struct {
	Delay, Interval, Timeout time.Duration
}

// Seconds converts a check's seconds field to a duration, refusing what
// Mesos refuses.
func Seconds(name string, v float64) (time.Duration, error) {
	if math.IsNaN(v) || v < 0 || math.IsInf(v, 0) {
		return 0, fmt.Errorf("Expecting '%s' to be non-negative", name)
	}
	return time.Duration(v * float64(time.Second)), nil
}

func newSchedule(delay, interval, timeout float64) (Schedule, error) {
	var s Schedule
	var err error
	if s.Delay, err = Seconds("delay_seconds", delay); err != nil {
		return s, err
	}
	if s.Interval, err = Seconds("interval_seconds", interval); err != nil {
		return s, err
	}
	if s.Timeout, err = Seconds("timeout_seconds", timeout); err != nil {
		return s, err
	}
	return s, nil
}

// ValidateHealthCheck returns the error Mesos gives for an invalid health
// check, or nil.
func ValidateHealthCheck(hc *mesos.HealthCheck) error {
	_, _, err := Health(hc)
	return err
}

// ValidateCheck returns the error Mesos gives for an invalid check, or nil.
func ValidateCheck(ci *mesos.CheckInfo) error {
	_, _, err := Check(ci)
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

// Health validates a health check as Mesos does and returns what it
// runs and when.
func Health(hc *mesos.HealthCheck) (Probe, Schedule, error) {
	var p Probe
	if hc.Type == nil {
		return p, Schedule{}, errors.New("HealthCheck must specify 'type'")
	}
	switch hc.GetType() {
	case mesos.HealthCheck_COMMAND:
		if hc.Command == nil {
			return p, Schedule{}, errors.New("Expecting 'command' to be set for COMMAND health check")
		}
		if err := validateCommand(hc.Command, "health check"); err != nil {
			return p, Schedule{}, err
		}
		p = Probe{Kind: mesos.CheckInfo_COMMAND, Command: hc.Command}
	case mesos.HealthCheck_HTTP:
		h := hc.GetHttp()
		if h == nil {
			return p, Schedule{}, errors.New("Expecting 'http' to be set for HTTP health check")
		}
		if h.Scheme != nil && h.GetScheme() != "http" && h.GetScheme() != "https" {
			return p, Schedule{}, fmt.Errorf("Unsupported HTTP health check scheme: '%s'", h.GetScheme())
		}
		if h.Path != nil && !strings.HasPrefix(h.GetPath(), "/") {
			return p, Schedule{}, fmt.Errorf("The path '%s' of HTTP health check must start with '/'", h.GetPath())
		}
		scheme := h.GetScheme()
		if scheme == "" {
			scheme = "http"
		}
		p = Probe{Kind: mesos.CheckInfo_HTTP, Scheme: scheme, Port: h.GetPort(), Path: h.GetPath()}
	case mesos.HealthCheck_TCP:
		if hc.Tcp == nil {
			return p, Schedule{}, errors.New("Expecting 'tcp' to be set for TCP health check")
		}
		p = Probe{Kind: mesos.CheckInfo_TCP, Port: hc.GetTcp().GetPort()}
	default:
		return p, Schedule{}, fmt.Errorf("'%s' is not a valid health check type", hc.GetType())
	}
	s, err := newSchedule(hc.GetDelaySeconds(), hc.GetIntervalSeconds(), hc.GetTimeoutSeconds())
	if err != nil {
		return p, s, err
	}
	if _, err := Seconds("grace_period_seconds", hc.GetGracePeriodSeconds()); err != nil {
		return p, s, err
	}
	return p, s, nil
}

// Check validates a general check as Mesos does and returns what it runs
// and when.
func Check(ci *mesos.CheckInfo) (Probe, Schedule, error) {
	var p Probe
	if ci.Type == nil {
		return p, Schedule{}, errors.New("CheckInfo must specify 'type'")
	}
	switch ci.GetType() {
	case mesos.CheckInfo_COMMAND:
		if ci.GetCommand().GetCommand() == nil {
			return p, Schedule{}, errors.New("Expecting 'command' to be set for COMMAND check")
		}
		if err := validateCommand(ci.GetCommand().GetCommand(), "check"); err != nil {
			return p, Schedule{}, err
		}
		p = Probe{Kind: mesos.CheckInfo_COMMAND, Command: ci.GetCommand().GetCommand()}
	case mesos.CheckInfo_HTTP:
		h := ci.GetHttp()
		if h == nil {
			return p, Schedule{}, errors.New("Expecting 'http' to be set for HTTP check")
		}
		if h.Path != nil && !strings.HasPrefix(h.GetPath(), "/") {
			return p, Schedule{}, fmt.Errorf("The path '%s' of HTTP check must start with '/'", h.GetPath())
		}
		p = Probe{Kind: mesos.CheckInfo_HTTP, Scheme: "http", Port: h.GetPort(), Path: h.GetPath()}
	case mesos.CheckInfo_TCP:
		if ci.Tcp == nil {
			return p, Schedule{}, errors.New("Expecting 'tcp' to be set for TCP check")
		}
		p = Probe{Kind: mesos.CheckInfo_TCP, Port: ci.GetTcp().GetPort()}
	default:
		return p, Schedule{}, fmt.Errorf("'%s' is not a valid check type", ci.GetType())
	}
	s, err := newSchedule(ci.GetDelaySeconds(), ci.GetIntervalSeconds(), ci.GetTimeoutSeconds())
	return p, s, err
}
