// Package executor is the public Go SDK for writing Mesos v1 executors: a
// client of the agent's executor API (POST /api/v1/executor) that subscribes,
// decodes the RecordIO event stream, sends UPDATE and MESSAGE calls, tracks
// status updates until the agent acknowledges them, and re-subscribes after
// the agent restarts the way Mesos's own executor library does.
//
// It owns the executor side of the wire only. It never starts or kills
// processes (that is package executor/builtin, or the user's executor) and
// never touches agent state. Configuration comes from the MESOS_* environment
// the agent sets (ConfigFromEnv).
//
// Connection policy, as in Mesos's executor library:
//   - Before the first SUBSCRIBED, failed attempts (connection errors, 503,
//     404, 5xx) are retried after a random backoff of at most
//     Config.SubscriptionBackoffMax, for up to the registration timeout
//     (WithRegistrationTimeout, default 1 minute, the agent's own
//     --executor_registration_timeout).
//   - When an established subscription breaks, a non-checkpointing executor
//     gives up at once; a checkpointing one (MESOS_CHECKPOINT=1) re-subscribes
//     with the same backoff until Config.RecoveryTimeout has passed since the
//     break, sending its unacknowledged tasks and updates in the SUBSCRIBE
//     call. Updates made meanwhile are queued, and go in that call too. This
//     is how an executor outlives an agent restart.
//   - Giving up delivers a locally made SHUTDOWN event to the handler, then
//     Run returns an error wrapping ErrAgentLost.
package executor

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	execpb "github.com/gomesos/gomesos/api/v1/executor"
	"github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
)

// Defaults for the client's own timers.
const (
	// DefaultHeartbeatInterval is how often a subscribed client sends a
	// HEARTBEAT call (Mesos's DEFAULT_HEARTBEAT_CALL_INTERVAL).
	DefaultHeartbeatInterval = 30 * time.Minute
	// DefaultCallTimeout bounds one non-streaming call.
	DefaultCallTimeout = 30 * time.Second
	// DefaultRegistrationTimeout bounds the attempts before the first
	// successful subscription.
	DefaultRegistrationTimeout = time.Minute
)

const minBackoff = 10 * time.Millisecond

var (
	// ErrAgentLost is wrapped by the error Run returns when it gives up on
	// the agent.
	ErrAgentLost = errors.New("executor: lost the agent")
	// ErrRunning is returned by Run when the client is already running.
	ErrRunning = errors.New("executor: client is already running")

	errStreamEOF = errors.New("the agent closed the event stream")
)

// HTTPError is an unexpected HTTP status from the agent.
type HTTPError struct {
	Call       execpb.Call_Type
	StatusCode int
	Status     string
	Body       string
}

func (e *HTTPError) Error() string {
	if e.Body == "" {
		return fmt.Sprintf("executor: %s call: agent answered %s", e.Call, e.Status)
	}
	return fmt.Sprintf("executor: %s call: agent answered %s: %s", e.Call, e.Status, e.Body)
}

// retryable reports whether a failed SUBSCRIBE with this status is worth
// retrying: the agent is recovering (503), has not set up its routes yet
// (404), or failed in some transient way (5xx).
func (e *HTTPError) retryable() bool {
	return e.StatusCode == http.StatusNotFound || e.StatusCode >= 500
}

// Handler receives the events of a subscription, one at a time and in order.
type Handler interface {
	HandleEvent(ctx context.Context, ev *execpb.Event) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, ev *execpb.Event) error

// HandleEvent calls f.
func (f HandlerFunc) HandleEvent(ctx context.Context, ev *execpb.Event) error { return f(ctx, ev) }

// Option configures a Client.
type Option func(*Client)

// WithEncoding picks the encoding of calls and events (codec.JSON by default;
// codec.Protobuf is what Mesos's own executors use).
func WithEncoding(enc codec.Encoding) Option { return func(c *Client) { c.enc = enc } }

// WithHTTPClient replaces the HTTP client. It must not set a Timeout, which
// would cut the event stream.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) { c.hc, c.ownTransport = hc, nil }
}

// WithLogger sets the logger (slog.Default() otherwise).
func WithLogger(l *slog.Logger) Option { return func(c *Client) { c.log = l } }

// WithHeartbeatInterval sets how often HEARTBEAT calls are sent while
// subscribed; 0 disables them.
func WithHeartbeatInterval(d time.Duration) Option { return func(c *Client) { c.heartbeat = d } }

// WithCallTimeout bounds each non-streaming call.
func WithCallTimeout(d time.Duration) Option { return func(c *Client) { c.callTimeout = d } }

// WithRegistrationTimeout bounds the subscription attempts made before the
// first successful subscription.
func WithRegistrationTimeout(d time.Duration) Option {
	return func(c *Client) { c.registrationTimeout = d }
}

// Client speaks the executor API to one agent. Its methods are safe for
// concurrent use; Run (or Subscribe) may be active once at a time.
type Client struct {
	cfg                 Config
	url                 string
	enc                 codec.Encoding
	hc                  *http.Client
	ownTransport        *http.Transport
	log                 *slog.Logger
	heartbeat           time.Duration
	callTimeout         time.Duration
	registrationTimeout time.Duration

	running atomic.Bool

	// sendMu keeps UPDATE calls in the order the executor made them, also
	// across the re-delivery that follows a subscription.
	sendMu sync.Mutex

	mu         sync.Mutex
	gen        uint64 // subscription attempt counter
	subscribed bool   // SUBSCRIBED seen on attempt gen
	updates    []*pendingUpdate
	tasks      []*mesos.TaskInfo
	info       *execpb.Event_Subscribed
	err        error // Run's result, for Subscribe
}

type pendingUpdate struct {
	update  *execpb.Call_Update
	sentGen uint64 // the attempt on which it was last sent, 0 for never
}

// New returns a client for the agent named in cfg.
func New(cfg Config, opts ...Option) *Client {
	c := &Client{
		cfg:                 cfg,
		url:                 cfg.URL(),
		enc:                 codec.JSON,
		log:                 slog.Default(),
		heartbeat:           DefaultHeartbeatInterval,
		callTimeout:         DefaultCallTimeout,
		registrationTimeout: DefaultRegistrationTimeout,
	}
	for _, o := range opts {
		o(c)
	}
	if c.hc == nil {
		// A transport of its own only when none was given: the executors
		// of a host share theirs, and a clone per executor is garbage.
		c.ownTransport = http.DefaultTransport.(*http.Transport).Clone()
		c.hc = &http.Client{Transport: c.ownTransport}
	}
	return c
}

// Config returns the client's configuration.
func (c *Client) Config() Config { return c.cfg }

// Subscribed returns the payload of the latest SUBSCRIBED event, or nil.
func (c *Client) Subscribed() *execpb.Event_Subscribed {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.info == nil {
		return nil
	}
	return proto.Clone(c.info).(*execpb.Event_Subscribed)
}

// Connected reports whether the client holds a subscription now: SUBSCRIBED
// arrived on the current event stream and the stream has not broken.
func (c *Client) Connected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.subscribed
}

// Unacknowledged returns copies of the tasks no update of which has been
// acknowledged yet and of the updates not acknowledged yet, in the order they
// were received and made. They are what a re-subscription sends.
func (c *Client) Unacknowledged() (tasks []*mesos.TaskInfo, updates []*execpb.Call_Update) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, t := range c.tasks {
		tasks = append(tasks, proto.Clone(t).(*mesos.TaskInfo))
	}
	for _, u := range c.updates {
		updates = append(updates, proto.Clone(u.update).(*execpb.Call_Update))
	}
	return tasks, updates
}

// Subscribe runs the client (see Run) in a goroutine and returns its events on
// a channel, which is closed when Run returns; Err then tells why. The caller
// must keep reading or cancel ctx.
func (c *Client) Subscribe(ctx context.Context) <-chan *execpb.Event {
	ch := make(chan *execpb.Event)
	go func() {
		defer close(ch)
		err := c.Run(ctx, HandlerFunc(func(ctx context.Context, ev *execpb.Event) error {
			select {
			case ch <- ev:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}))
		c.mu.Lock()
		c.err = err
		c.mu.Unlock()
	}()
	return ch
}

// Err returns the error that ended the last Subscribe, once its channel is
// closed.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Run subscribes and calls h for every event, re-subscribing according to
// the connection policy in the package documentation. It returns ctx.Err()
// when ctx ends, h's error when h fails, and an error wrapping ErrAgentLost
// (after a local SHUTDOWN event) when it gives up on the agent.
func (c *Client) Run(ctx context.Context, h Handler) error {
	if !c.running.CompareAndSwap(false, true) {
		return ErrRunning
	}
	defer c.running.Store(false)
	defer c.closeIdle()

	start := time.Now()
	var everSubscribed bool
	var lostAt time.Time
	for {
		subscribed, err := c.session(ctx, h)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var stop stopError
		if errors.As(err, &stop) {
			return stop.err
		}
		if subscribed {
			everSubscribed, lostAt = true, time.Now()
			if !c.cfg.Checkpoint {
				c.log.Warn("lost the agent; not checkpointing, so giving up", "err", err)
				return c.giveUp(ctx, h, fmt.Errorf("%w: %v", ErrAgentLost, err))
			}
			c.log.Warn("lost the agent; re-subscribing", "err", err, "recovery_timeout", c.cfg.RecoveryTimeout)
		} else {
			c.log.Warn("subscription attempt failed", "err", err)
		}
		var herr *HTTPError
		if errors.As(err, &herr) && !herr.retryable() {
			return c.giveUp(ctx, h, fmt.Errorf("%w: subscription refused: %w", ErrAgentLost, err))
		}

		deadline := start.Add(c.registrationTimeout)
		if everSubscribed {
			deadline = lostAt.Add(c.cfg.RecoveryTimeout)
		}
		left := time.Until(deadline)
		if left <= 0 {
			return c.giveUp(ctx, h, fmt.Errorf("%w: no subscription in time: %v", ErrAgentLost, err))
		}
		if err := sleep(ctx, min(c.backoff(), left)); err != nil {
			return err
		}
	}
}

// backoff is the wait before the next subscription attempt: random, as in
// Mesos's executor library, and never longer than SubscriptionBackoffMax
// (nor shorter than minBackoff, which keeps a zero maximum from spinning).
func (c *Client) backoff() time.Duration {
	return backoffWithin(c.cfg.SubscriptionBackoffMax)
}

func backoffWithin(limit time.Duration) time.Duration {
	if limit <= minBackoff {
		return minBackoff
	}
	return minBackoff + mrand.N(limit-minBackoff+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stopError ends Run with err: the handler failed, or the call could not
// even be built.
type stopError struct{ err error }

func (e stopError) Error() string { return e.err.Error() }

// giveUp tells the handler to shut down, as Mesos's library does when it
// loses the agent, and returns err.
func (c *Client) giveUp(ctx context.Context, h Handler, err error) error {
	c.log.Error("giving up on the agent", "err", err)
	if herr := h.HandleEvent(ctx, &execpb.Event{Type: execpb.Event_SHUTDOWN.Enum()}); herr != nil && ctx.Err() == nil {
		c.log.Warn("handler failed on SHUTDOWN", "err", herr)
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func (c *Client) closeIdle() {
	if c.ownTransport != nil {
		c.ownTransport.CloseIdleConnections()
	}
}

// session makes one subscription and reads its stream until it ends. It
// reports whether SUBSCRIBED arrived.
func (c *Client) session(ctx context.Context, h Handler) (subscribed bool, err error) {
	var wg sync.WaitGroup
	defer wg.Wait()
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()

	gen, call := c.beginSubscription()
	defer c.endSubscription(gen)
	body, err := codec.Marshal(c.enc, call)
	if err != nil {
		return false, stopError{fmt.Errorf("executor: encoding SUBSCRIBE: %w", err)}
	}
	req, err := c.newRequest(sctx, body)
	if err != nil {
		return false, stopError{err}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, httpError(execpb.Call_SUBSCRIBE, resp)
	}
	enc := c.enc
	if e, err := codec.FromContentType(resp.Header.Get("Content-Type")); err == nil {
		enc = e
	}
	rr := codec.NewRecordReader(resp.Body, 0)
	for {
		data, err := rr.ReadRecord()
		if err != nil {
			if err == io.EOF {
				err = errStreamEOF
			}
			return subscribed, err
		}
		ev := new(execpb.Event)
		if err := codec.Unmarshal(enc, data, ev); err != nil {
			c.log.Error("failed to decode an event", "err", err)
			ev = &execpb.Event{
				Type:  execpb.Event_ERROR.Enum(),
				Error: &execpb.Event_Error{Message: proto.String("Failed to de-serialize event: " + err.Error())},
			}
		}
		switch ev.GetType() {
		case execpb.Event_SUBSCRIBED:
			first := !subscribed
			subscribed = true
			c.subscribedOn(sctx, gen, ev.GetSubscribed())
			if first && c.heartbeat > 0 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					c.heartbeats(sctx)
				}()
			}
		case execpb.Event_ACKNOWLEDGED:
			c.acknowledged(ev.GetAcknowledged())
		case execpb.Event_LAUNCH:
			c.track(ev.GetLaunch().GetTask())
		case execpb.Event_LAUNCH_GROUP:
			c.track(ev.GetLaunchGroup().GetTaskGroup().GetTasks()...)
		}
		if err := h.HandleEvent(ctx, ev); err != nil {
			return subscribed, stopError{err}
		}
	}
}

// beginSubscription starts attempt gen and builds its SUBSCRIBE call, which
// carries every unacknowledged task and update.
func (c *Client) beginSubscription() (uint64, *execpb.Call) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.subscribed = false
	// The tasks and updates held are never modified, so the call can share them.
	sub := &execpb.Call_Subscribe{UnacknowledgedTasks: append([]*mesos.TaskInfo(nil), c.tasks...)}
	for _, u := range c.updates {
		sub.UnacknowledgedUpdates = append(sub.UnacknowledgedUpdates, u.update)
		u.sentGen = c.gen
	}
	call := c.newCall(execpb.Call_SUBSCRIBE)
	call.Subscribe = sub
	return c.gen, call
}

func (c *Client) endSubscription(gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.gen == gen {
		c.subscribed = false
	}
}

// subscribedOn marks attempt gen subscribed and sends the updates made after
// its SUBSCRIBE call was built, in order.
func (c *Client) subscribedOn(ctx context.Context, gen uint64, info *execpb.Event_Subscribed) {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	c.mu.Lock()
	if c.gen != gen {
		c.mu.Unlock()
		return
	}
	c.subscribed = true
	c.info = info
	var unsent []*pendingUpdate
	for _, u := range c.updates {
		if u.sentGen != gen {
			u.sentGen = gen
			unsent = append(unsent, u)
		}
	}
	c.mu.Unlock()
	for _, u := range unsent {
		if err := c.deliver(ctx, u); err != nil {
			c.log.Error("agent refused a status update", "err", err)
		}
	}
}

func (c *Client) acknowledged(ack *execpb.Event_Acknowledged) {
	c.mu.Lock()
	defer c.mu.Unlock()
	found := false
	for i, u := range c.updates {
		if bytes.Equal(u.update.GetStatus().GetUuid(), ack.GetUuid()) {
			c.updates = append(c.updates[:i], c.updates[i+1:]...)
			found = true
			break
		}
	}
	if !found {
		c.log.Warn("acknowledgement for an unknown status update", "task_id", ack.GetTaskId().GetValue())
	}
	for i, t := range c.tasks {
		if t.GetTaskId().GetValue() == ack.GetTaskId().GetValue() {
			c.tasks = append(c.tasks[:i], c.tasks[i+1:]...)
			break
		}
	}
}

func (c *Client) track(tasks ...*mesos.TaskInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
next:
	for _, t := range tasks {
		for _, have := range c.tasks {
			if have.GetTaskId().GetValue() == t.GetTaskId().GetValue() {
				continue next
			}
		}
		c.tasks = append(c.tasks, proto.Clone(t).(*mesos.TaskInfo))
	}
}

func (c *Client) heartbeats(ctx context.Context) {
	t := time.NewTicker(c.heartbeat)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := c.post(ctx, c.newCall(execpb.Call_HEARTBEAT)); err != nil && ctx.Err() == nil {
				c.log.Warn("heartbeat failed", "err", err)
			}
		}
	}
}

// Send sends a non-SUBSCRIBE call (UPDATE, MESSAGE, HEARTBEAT), filling in
// executor_id and framework_id when they are missing. It expects 202 Accepted
// and returns an *HTTPError carrying the agent's answer otherwise. Prefer
// Update for status updates: Send does not track them.
func (c *Client) Send(ctx context.Context, call *execpb.Call) error {
	if call.GetType() == execpb.Call_SUBSCRIBE {
		return errors.New("executor: SUBSCRIBE is sent by Run, not Send")
	}
	call = proto.Clone(call).(*execpb.Call)
	if call.ExecutorId == nil {
		call.ExecutorId = &mesos.ExecutorID{Value: proto.String(c.cfg.ExecutorID)}
	}
	if call.FrameworkId == nil {
		call.FrameworkId = &mesos.FrameworkID{Value: proto.String(c.cfg.FrameworkID)}
	}
	return c.post(ctx, call)
}

// Message sends data to the scheduler (a MESSAGE call).
func (c *Client) Message(ctx context.Context, data []byte) error {
	call := c.newCall(execpb.Call_MESSAGE)
	call.Message = &execpb.Call_Message{Data: data}
	return c.post(ctx, call)
}

// Update sends a status update. It works on a copy of status, in which it
// sets a fresh random uuid (unless one is set), source SOURCE_EXECUTOR, the
// timestamp (unless set) and executor_id (unless set), and keeps the update
// until an ACKNOWLEDGED event with its uuid arrives; unacknowledged updates
// are re-sent when the client re-subscribes. While the client is not
// subscribed the update is only queued. Update returns nil once the agent
// accepted the update or it is held for re-delivery, and an error when the
// status is invalid or the agent refused it (the update is then dropped).
func (c *Client) Update(ctx context.Context, status *mesos.TaskStatus) error {
	if status.GetTaskId() == nil {
		return errors.New("executor: status update without task_id")
	}
	if status.GetState() == mesos.TaskState_TASK_STAGING {
		return errors.New("executor: status update with state TASK_STAGING")
	}
	st := proto.Clone(status).(*mesos.TaskStatus)
	if len(st.Uuid) == 0 {
		st.Uuid = NewUUID()
	}
	st.Source = mesos.TaskStatus_SOURCE_EXECUTOR.Enum()
	if st.Timestamp == nil {
		st.Timestamp = proto.Float64(float64(time.Now().UnixNano()) / 1e9)
	}
	if st.ExecutorId == nil {
		st.ExecutorId = &mesos.ExecutorID{Value: proto.String(c.cfg.ExecutorID)}
	}
	if err := proto.CheckInitialized(st); err != nil {
		return fmt.Errorf("executor: invalid status update: %w", err)
	}
	u := &pendingUpdate{update: &execpb.Call_Update{Status: st}}

	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	c.mu.Lock()
	c.updates = append(c.updates, u)
	send := c.subscribed
	if send {
		u.sentGen = c.gen
	}
	c.mu.Unlock()
	if !send {
		c.log.Info("not subscribed; status update queued",
			"task_id", st.GetTaskId().GetValue(), "state", st.GetState().String())
		return nil
	}
	return c.deliver(ctx, u)
}

// deliver sends a pending update. An update the agent refuses for good is
// dropped; one that failed for a passing reason stays for re-delivery.
func (c *Client) deliver(ctx context.Context, u *pendingUpdate) error {
	call := c.newCall(execpb.Call_UPDATE)
	call.Update = u.update
	err := c.post(ctx, call)
	if err == nil {
		return nil
	}
	var herr *HTTPError
	if errors.As(err, &herr) && herr.StatusCode != http.StatusForbidden && !herr.retryable() {
		c.forget(u)
		return err
	}
	if ctx.Err() == nil {
		c.log.Warn("status update not delivered; will re-send on re-subscription",
			"task_id", u.update.GetStatus().GetTaskId().GetValue(), "err", err)
	}
	return nil
}

func (c *Client) forget(u *pendingUpdate) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, have := range c.updates {
		if have == u {
			c.updates = append(c.updates[:i], c.updates[i+1:]...)
			return
		}
	}
}

func (c *Client) newCall(t execpb.Call_Type) *execpb.Call {
	return &execpb.Call{
		Type:        t.Enum(),
		ExecutorId:  &mesos.ExecutorID{Value: proto.String(c.cfg.ExecutorID)},
		FrameworkId: &mesos.FrameworkID{Value: proto.String(c.cfg.FrameworkID)},
	}
}

func (c *Client) newRequest(ctx context.Context, body []byte) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", c.enc.ContentType())
	req.Header.Set("Accept", c.enc.ContentType())
	if c.cfg.AuthToken != "" {
		req.Header.Set("Authorization", "Bearer "+c.cfg.AuthToken)
	}
	return req, nil
}

// post sends a non-streaming call and expects 202.
func (c *Client) post(ctx context.Context, call *execpb.Call) error {
	body, err := codec.Marshal(c.enc, call)
	if err != nil {
		return fmt.Errorf("executor: encoding %s: %w", call.GetType(), err)
	}
	ctx, cancel := context.WithTimeout(ctx, c.callTimeout)
	defer cancel()
	req, err := c.newRequest(ctx, body)
	if err != nil {
		return err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("executor: %s call: %w", call.GetType(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		return httpError(call.GetType(), resp)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return nil
}

func httpError(t execpb.Call_Type, resp *http.Response) *HTTPError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	return &HTTPError{Call: t, StatusCode: resp.StatusCode, Status: resp.Status, Body: string(bytes.TrimSpace(b))}
}

// NewUUID returns 16 random bytes laid out as a version 4 UUID, the form
// Mesos uses for status update uuids.
func NewUUID() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return b
}
