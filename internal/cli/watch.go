package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	masterpb "github.com/gomesos/gomesos/api/v1/master"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/operator"
)

// WatchOptions say how Watch prints and how long it tries to get a
// dropped stream back.
type WatchOptions struct {
	Output
	// Reconnect is how long Watch keeps trying to subscribe again (to
	// whichever master leads) when the stream drops; 0 ends Watch when the
	// stream ends.
	Reconnect time.Duration
	// Stderr gets the notes on dropped and regained streams (nil: none).
	Stderr io.Writer
}

// Watch subscribes to the master's operator events (SUBSCRIBE) and prints
// one line per event (HEARTBEATs left out), or each event's JSON on a line
// of its own. It returns nil when ctx ends, and an error when the stream
// cannot be had (again).
func Watch(ctx context.Context, c *operator.Client, opts WatchOptions) error {
	stderr := opts.Stderr
	if stderr == nil {
		stderr = io.Discard
	}
	s, err := c.Subscribe(ctx)
	if err != nil {
		return err
	}
	stop := context.AfterFunc(ctx, func() { s.Close() })
	defer func() { stop() }()
	for {
		ev, err := s.Next()
		if err != nil {
			s.Close()
			if ctx.Err() != nil {
				return nil
			}
			if opts.Reconnect <= 0 {
				if errors.Is(err, io.EOF) {
					return nil
				}
				return err
			}
			fmt.Fprintf(stderr, "The event stream ended (%v); subscribing again\n", err)
			if s, err = resubscribe(ctx, c, opts.Reconnect); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			stop()
			stop = context.AfterFunc(ctx, func() { s.Close() })
			continue
		}
		if ev.GetType() == masterpb.Event_HEARTBEAT {
			continue
		}
		if opts.JSON {
			b, err := codec.Marshal(codec.JSON, ev)
			if err != nil {
				return fmt.Errorf("encoding an event: %w", err)
			}
			b = append(b, '\n')
			if _, err := opts.W.Write(b); err != nil {
				return err
			}
			continue
		}
		if _, err := fmt.Fprintln(opts.W, EventLine(ev)); err != nil {
			return err
		}
	}
}

// resubscribe tries to subscribe again every half second for up to d.
func resubscribe(ctx context.Context, c *operator.Client, d time.Duration) (*operator.Stream, error) {
	deadline := time.Now().Add(d)
	for {
		s, err := c.Subscribe(ctx)
		if err == nil {
			return s, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("subscribing again for %v: %w", d, err)
		}
		if !sleepCtx(ctx, 500*time.Millisecond) {
			return nil, ctx.Err()
		}
	}
}

// EventLine describes an operator event on one line: its type, then the
// ids and states it carries as key=value.
func EventLine(ev *masterpb.Event) string {
	var b strings.Builder
	b.WriteString(ev.GetType().String())
	kv := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, " %s=%s", k, v)
		}
	}
	switch ev.GetType() {
	case masterpb.Event_SUBSCRIBED:
		st := ev.GetSubscribed().GetGetState()
		fmt.Fprintf(&b, " agents=%d frameworks=%d tasks=%d", len(st.GetGetAgents().GetAgents()),
			len(st.GetGetFrameworks().GetFrameworks()), len(st.GetGetTasks().GetTasks())+len(st.GetGetTasks().GetPendingTasks()))
	case masterpb.Event_TASK_ADDED:
		t := ev.GetTaskAdded().GetTask()
		kv("task", t.GetTaskId().GetValue())
		kv("framework", t.GetFrameworkId().GetValue())
		kv("agent", t.GetAgentId().GetValue())
		kv("state", t.GetState().String())
	case masterpb.Event_TASK_UPDATED:
		u := ev.GetTaskUpdated()
		kv("task", u.GetStatus().GetTaskId().GetValue())
		kv("framework", u.GetFrameworkId().GetValue())
		kv("agent", u.GetStatus().GetAgentId().GetValue())
		kv("state", u.GetState().String())
		if u.GetStatus().GetState() != u.GetState() {
			kv("status", u.GetStatus().GetState().String())
		}
	case masterpb.Event_AGENT_ADDED:
		a := ev.GetAgentAdded().GetAgent()
		kv("agent", a.GetAgentInfo().GetId().GetValue())
		kv("hostname", a.GetAgentInfo().GetHostname())
	case masterpb.Event_AGENT_REMOVED:
		kv("agent", ev.GetAgentRemoved().GetAgentId().GetValue())
	case masterpb.Event_FRAMEWORK_ADDED:
		f := ev.GetFrameworkAdded().GetFramework().GetFrameworkInfo()
		kv("framework", f.GetId().GetValue())
		kv("name", quoteIfSpace(f.GetName()))
	case masterpb.Event_FRAMEWORK_UPDATED:
		f := ev.GetFrameworkUpdated().GetFramework()
		kv("framework", f.GetFrameworkInfo().GetId().GetValue())
		kv("name", quoteIfSpace(f.GetFrameworkInfo().GetName()))
		fmt.Fprintf(&b, " active=%t connected=%t", f.GetActive(), f.GetConnected())
	case masterpb.Event_FRAMEWORK_REMOVED:
		f := ev.GetFrameworkRemoved().GetFrameworkInfo()
		kv("framework", f.GetId().GetValue())
		kv("name", quoteIfSpace(f.GetName()))
	}
	return b.String()
}

func quoteIfSpace(s string) string {
	if strings.ContainsAny(s, " \t\"") {
		return fmt.Sprintf("%q", s)
	}
	return s
}
