package scheduler

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
)

// Call sends one non-SUBSCRIBE call to the master of the live subscription.
// It fills in framework_id when the call has none (call itself is not
// modified) and sets the Mesos-Stream-Id header. The master must answer 202
// Accepted (or 200 OK); any other answer is returned as an *HTTPError carrying
// the status code and the master's message. Without a live subscription it
// returns ErrNotSubscribed. Call is safe for concurrent use.
func (c *Client) Call(ctx context.Context, call *schedpb.Call) error {
	if call == nil {
		return errors.New("scheduler: nil call")
	}
	typ := call.GetType()
	if typ == schedpb.Call_SUBSCRIBE {
		return errors.New("scheduler: SUBSCRIBE is sent by Run, not Call")
	}
	c.mu.Lock()
	if !c.subscribed {
		c.mu.Unlock()
		return fmt.Errorf("%w (call %s)", ErrNotSubscribed, typ)
	}
	target, streamID := c.leader, c.streamID
	fwID := c.framework.GetId()
	c.mu.Unlock()

	if call.FrameworkId == nil {
		call = proto.Clone(call).(*schedpb.Call)
		call.FrameworkId = proto.Clone(fwID).(*mesos.FrameworkID)
	}
	body, err := codec.Marshal(c.enc, call)
	if err != nil {
		return fmt.Errorf("scheduler: encoding %s: %w", typ, err)
	}
	resp, endpoint, err := c.post(ctx, c.calls, target, body, streamID, typ)
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
		resp.Body.Close()
		return nil
	}
	return readHTTPError(resp, endpoint, typ)
}

// RefuseFor returns Filters that keep the declined resources away from the
// framework for d (Mesos caps it at 365 days; 0 means no filter).
func RefuseFor(d time.Duration) *mesos.Filters {
	return &mesos.Filters{RefuseSeconds: proto.Float64(d.Seconds())}
}

// Accept sends ACCEPT for offers (all from one agent) with the given
// operations. Resources left unused are declined with filters; nil filters
// mean Mesos's default of 5 seconds.
func (c *Client) Accept(ctx context.Context, offerIDs []*mesos.OfferID, ops []*mesos.Offer_Operation, filters *mesos.Filters) error {
	return c.Call(ctx, &schedpb.Call{
		Type: schedpb.Call_ACCEPT.Enum(),
		Accept: &schedpb.Call_Accept{
			OfferIds:   offerIDs,
			Operations: ops,
			Filters:    filters,
		},
	})
}

// Launch accepts offers with one LAUNCH operation of tasks.
func (c *Client) Launch(ctx context.Context, offerIDs []*mesos.OfferID, tasks []*mesos.TaskInfo, filters *mesos.Filters) error {
	return c.Accept(ctx, offerIDs, []*mesos.Offer_Operation{LaunchOp(tasks...)}, filters)
}

// LaunchGroup accepts offers with one LAUNCH_GROUP operation: the tasks of
// group run atomically under executor (which must be of type DEFAULT).
func (c *Client) LaunchGroup(ctx context.Context, offerIDs []*mesos.OfferID, executor *mesos.ExecutorInfo, group *mesos.TaskGroupInfo, filters *mesos.Filters) error {
	return c.Accept(ctx, offerIDs, []*mesos.Offer_Operation{LaunchGroupOp(executor, group)}, filters)
}

// LaunchOp is a LAUNCH operation for Accept.
func LaunchOp(tasks ...*mesos.TaskInfo) *mesos.Offer_Operation {
	return &mesos.Offer_Operation{
		Type:   mesos.Offer_Operation_LAUNCH.Enum(),
		Launch: &mesos.Offer_Operation_Launch{TaskInfos: tasks},
	}
}

// LaunchGroupOp is a LAUNCH_GROUP operation for Accept.
func LaunchGroupOp(executor *mesos.ExecutorInfo, group *mesos.TaskGroupInfo) *mesos.Offer_Operation {
	return &mesos.Offer_Operation{
		Type:        mesos.Offer_Operation_LAUNCH_GROUP.Enum(),
		LaunchGroup: &mesos.Offer_Operation_LaunchGroup{Executor: executor, TaskGroup: group},
	}
}

// Decline sends DECLINE for offers, filtering their resources for refuse
// (0 means no filter).
func (c *Client) Decline(ctx context.Context, offerIDs []*mesos.OfferID, refuse time.Duration) error {
	return c.Call(ctx, &schedpb.Call{
		Type:    schedpb.Call_DECLINE.Enum(),
		Decline: &schedpb.Call_Decline{OfferIds: offerIDs, Filters: RefuseFor(refuse)},
	})
}

// Acknowledge acknowledges a status update. Only updates that carry a uuid
// (those from agents and executors) may be acknowledged; for the others it
// does nothing and returns nil.
func (c *Client) Acknowledge(ctx context.Context, status *mesos.TaskStatus) error {
	if len(status.GetUuid()) == 0 {
		return nil
	}
	if status.GetAgentId() == nil {
		return fmt.Errorf("scheduler: status update for task %q has a uuid but no agent_id", status.GetTaskId().GetValue())
	}
	return c.Call(ctx, &schedpb.Call{
		Type: schedpb.Call_ACKNOWLEDGE.Enum(),
		Acknowledge: &schedpb.Call_Acknowledge{
			AgentId: status.GetAgentId(),
			TaskId:  status.GetTaskId(),
			Uuid:    status.GetUuid(),
		},
	})
}

// Kill asks the master to kill a task. agentID may be nil.
func (c *Client) Kill(ctx context.Context, taskID *mesos.TaskID, agentID *mesos.AgentID) error {
	return c.Call(ctx, &schedpb.Call{
		Type: schedpb.Call_KILL.Enum(),
		Kill: &schedpb.Call_Kill{TaskId: taskID, AgentId: agentID},
	})
}

// Shutdown asks the master to shut down a custom executor.
func (c *Client) Shutdown(ctx context.Context, executorID *mesos.ExecutorID, agentID *mesos.AgentID) error {
	return c.Call(ctx, &schedpb.Call{
		Type:     schedpb.Call_SHUTDOWN.Enum(),
		Shutdown: &schedpb.Call_Shutdown{ExecutorId: executorID, AgentId: agentID},
	})
}

// Reconcile asks for the latest state of tasks (explicit reconciliation), or
// of all the framework's tasks when tasks is empty (implicit
// reconciliation). The answers arrive as UPDATE events without a uuid.
func (c *Client) Reconcile(ctx context.Context, tasks []*schedpb.Call_Reconcile_Task) error {
	return c.Call(ctx, &schedpb.Call{
		Type:      schedpb.Call_RECONCILE.Enum(),
		Reconcile: &schedpb.Call_Reconcile{Tasks: tasks},
	})
}

// Revive clears offer filters and un-suppresses roles (all subscribed roles
// when none are given).
func (c *Client) Revive(ctx context.Context, roles ...string) error {
	return c.Call(ctx, &schedpb.Call{
		Type:   schedpb.Call_REVIVE.Enum(),
		Revive: &schedpb.Call_Revive{Roles: roles},
	})
}

// Suppress stops offers for roles (all subscribed roles when none are given).
func (c *Client) Suppress(ctx context.Context, roles ...string) error {
	return c.Call(ctx, &schedpb.Call{
		Type:     schedpb.Call_SUPPRESS.Enum(),
		Suppress: &schedpb.Call_Suppress{Roles: roles},
	})
}

// Message sends data to an executor, best effort.
func (c *Client) Message(ctx context.Context, agentID *mesos.AgentID, executorID *mesos.ExecutorID, data []byte) error {
	return c.Call(ctx, &schedpb.Call{
		Type:    schedpb.Call_MESSAGE.Enum(),
		Message: &schedpb.Call_Message{AgentId: agentID, ExecutorId: executorID, Data: data},
	})
}

// Teardown removes the framework: the master kills its tasks, shuts down its
// executors and closes the event stream. After a successful Teardown, Run
// returns nil and the Client cannot subscribe again.
func (c *Client) Teardown(ctx context.Context) error {
	td := &teardownState{done: make(chan struct{})}
	c.mu.Lock()
	c.teardown = td
	c.mu.Unlock()

	err := c.Call(ctx, &schedpb.Call{Type: schedpb.Call_TEARDOWN.Enum()})

	td.err = err
	close(td.done)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.teardown == td && err != nil {
		c.teardown = nil
	}
	if err == nil {
		c.tornDown = true
		if c.cancelSession != nil {
			c.cancelSession(errTornDown)
		}
	}
	return err
}
