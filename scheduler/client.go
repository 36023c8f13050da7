package scheduler

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
)

// Defaults for Config fields left zero.
const (
	DefaultMinBackoff       = 500 * time.Millisecond
	DefaultMaxBackoff       = 15 * time.Second
	DefaultMissedHeartbeats = 5

	// defaultHeartbeatInterval is Mesos's DEFAULT_HEARTBEAT_INTERVAL, used
	// until SUBSCRIBED reports the real one.
	defaultHeartbeatInterval = 15 * time.Second
	maxHeartbeatInterval     = 24 * time.Hour
	maxRedirects             = 5
	maxErrorBody             = 64 << 10

	// StreamIDHeader carries the subscription's stream id on every call.
	StreamIDHeader = "Mesos-Stream-Id"
)

// Handler receives every event of the subscription in order, including
// SUBSCRIBED, HEARTBEAT and a final ERROR. It runs on Run's goroutine; the
// heartbeat watchdog is paused while it runs, and it may call the Client's
// methods (Call, Accept, Teardown, ...). Returning an error ends Run with that
// error. ctx is the context passed to Run.
type Handler func(ctx context.Context, event *schedpb.Event) error

// Config configures a Client. Masters and Framework are required.
type Config struct {
	// Masters lists the masters to try in turn: "host:port" or a URL such
	// as "http://host:5050". Non-leading masters redirect to the leader
	// (307), which the client follows. A master that refuses or resets the
	// connection, answers 503 (no leader elected, or not recovered yet) or
	// closes the stream before SUBSCRIBED is left for the next one, round
	// robin; the masters of a round are tried one after the other at once,
	// and a round in which none subscribed the framework waits one backoff
	// step. When the leader's stream breaks (say, it died) the client tries
	// it once more, then the others, and re-subscribes with its framework
	// id wherever the new leader is.
	Masters []string

	// Framework is sent in SUBSCRIBE; Mesos requires user and name. When
	// its id is set the client subscribes as that existing framework
	// (failover). New clones it; the client fills in the id that SUBSCRIBED
	// assigns so that re-subscriptions keep the framework. Set
	// failover_timeout if the framework should survive a broken connection:
	// with the default 0 the master removes it as soon as the stream drops.
	Framework *mesos.FrameworkInfo

	// Encoding of calls and events: codec.JSON (the default) or
	// codec.Protobuf.
	Encoding codec.Encoding

	// HTTPClient sends the requests. Its CheckRedirect is ignored (the
	// client follows Mesos's redirects itself) and its Timeout does not
	// apply to the long-lived SUBSCRIBE stream. Nil means a client of our
	// own, whose idle connections are closed when Run returns.
	HTTPClient *http.Client

	// Logger receives connection-level logs; nil discards them.
	Logger *slog.Logger

	// MinBackoff and MaxBackoff bound the jittered exponential delay
	// between rounds of subscription attempts over Masters (defaults 500ms
	// and 15s).
	MinBackoff, MaxBackoff time.Duration

	// MissedHeartbeats is how many heartbeat intervals may pass without
	// any event before the connection is treated as broken (default 5).
	MissedHeartbeats int
}

// Client is one framework's connection to the master. Create it with New,
// drive it with Run, and send calls from any goroutine while Run is running.
type Client struct {
	masters    []*url.URL
	enc        codec.Encoding
	calls      *http.Client // CheckRedirect disabled
	stream     *http.Client // same, without Timeout
	own        *http.Transport
	log        *slog.Logger
	minBackoff time.Duration
	maxBackoff time.Duration
	missed     int

	running atomic.Bool

	mu            sync.Mutex
	framework     *mesos.FrameworkInfo // id filled in from SUBSCRIBED
	next          int                  // index into masters to try next
	leader        *url.URL             // master that accepted the last SUBSCRIBE
	subscribed    bool
	streamID      string
	cancelSession context.CancelCauseFunc
	teardown      *teardownState // TEARDOWN in flight or done
	tornDown      bool
}

type teardownState struct {
	done chan struct{}
	err  error
}

// New checks cfg and returns a Client. It does not contact the master.
func New(cfg Config) (*Client, error) {
	if len(cfg.Masters) == 0 {
		return nil, errors.New("scheduler: no master address configured")
	}
	c := &Client{
		enc:        cfg.Encoding,
		log:        cfg.Logger,
		minBackoff: cfg.MinBackoff,
		maxBackoff: cfg.MaxBackoff,
		missed:     cfg.MissedHeartbeats,
	}
	for _, m := range cfg.Masters {
		u, err := endpointURL(m)
		if err != nil {
			return nil, err
		}
		c.masters = append(c.masters, u)
	}
	if cfg.Framework == nil {
		return nil, errors.New("scheduler: no FrameworkInfo configured")
	}
	if cfg.Framework.GetName() == "" || cfg.Framework.GetUser() == "" {
		return nil, errors.New("scheduler: FrameworkInfo needs a name and a user")
	}
	if cfg.Encoding != codec.JSON && cfg.Encoding != codec.Protobuf {
		return nil, fmt.Errorf("scheduler: unknown encoding %d", cfg.Encoding)
	}
	c.framework = proto.Clone(cfg.Framework).(*mesos.FrameworkInfo)
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.minBackoff <= 0 {
		c.minBackoff = DefaultMinBackoff
	}
	if c.maxBackoff <= 0 {
		c.maxBackoff = DefaultMaxBackoff
	}
	c.maxBackoff = max(c.maxBackoff, c.minBackoff)
	if c.missed <= 0 {
		c.missed = DefaultMissedHeartbeats
	}
	base := cfg.HTTPClient
	if base == nil {
		c.own = http.DefaultTransport.(*http.Transport).Clone()
		// Calls to the master often come several at once (a framework
		// acknowledging updates from a few goroutines, say): Go's default
		// of 2 idle connections per host would close and dial one for
		// nearly every call beyond the second.
		c.own.MaxIdleConnsPerHost = ownIdleConns
		base = &http.Client{Transport: c.own}
	}
	calls := *base
	calls.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	stream := calls
	stream.Timeout = 0
	c.calls, c.stream = &calls, &stream
	return c, nil
}

// ownIdleConns bounds the idle connections to the master that a client
// without Config.HTTPClient keeps for its calls.
const ownIdleConns = 16

// FrameworkID is the framework's id: the one configured, or the one the
// master assigned in SUBSCRIBED; "" before that.
func (c *Client) FrameworkID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.framework.GetId().GetValue()
}

// StreamID is the Mesos-Stream-Id of the live subscription, "" when there is
// none.
func (c *Client) StreamID() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.streamID
}

// Master is the scheduler endpoint URL of the master that accepted the last
// SUBSCRIBE (after redirects), "" before that.
func (c *Client) Master() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.leader == nil {
		return ""
	}
	return c.leader.String()
}

// Run subscribes and delivers events to h until the subscription ends for
// good, re-subscribing after a broken stream or a heartbeat timeout. It
// returns
//   - ctx.Err() when ctx is done;
//   - nil after a successful Teardown;
//   - a *MasterError when the master sent ERROR (after h has seen it);
//   - an *HTTPError when the master refused SUBSCRIBE with a 4xx status;
//   - the error h returned.
//
// Run leaves no goroutine behind. Only one Run may be active at a time.
func (c *Client) Run(ctx context.Context, h Handler) error {
	if h == nil {
		h = func(context.Context, *schedpb.Event) error { return nil }
	}
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("scheduler: Run is already running")
	}
	defer c.running.Store(false)
	if c.own != nil {
		defer c.own.CloseIdleConnections()
	}
	c.mu.Lock()
	tornDown := c.tornDown
	c.mu.Unlock()
	if tornDown {
		return errTornDown
	}

	bo := backoff{min: c.minBackoff, max: c.maxBackoff}
	// failed counts the attempts that failed in this round over the
	// masters: the masters of a round are tried one after the other at
	// once, and only a round that found no leader waits a backoff step.
	failed := 0
	for {
		subscribed, err := c.session(ctx, h)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var herr *handlerError
		var merr *MasterError
		var hterr *HTTPError
		switch {
		case errors.As(err, &herr):
			return herr.err
		case errors.As(err, &merr):
			return merr
		case errors.As(err, &hterr) && hterr.permanent():
			return hterr
		case errors.Is(err, errPermanent):
			return err
		}
		if done, terr := c.awaitTeardown(ctx); done {
			return terr
		}
		c.mu.Lock()
		master := c.target()
		c.mu.Unlock()
		if subscribed {
			bo.reset()
			failed = 0
		} else if failed++; failed < len(c.masters) {
			c.log.Info("scheduler: trying the next master", "master", master.String(), "err", err)
			continue
		}
		failed = 0
		delay := bo.next()
		c.log.Warn("scheduler: disconnected; re-subscribing", "master", master.String(), "err", err, "after", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// awaitTeardown reports whether a TEARDOWN was sent (waiting for its answer if
// it is still in flight) and, if it succeeded, that Run should return nil.
func (c *Client) awaitTeardown(ctx context.Context) (bool, error) {
	c.mu.Lock()
	td := c.teardown
	c.mu.Unlock()
	if td == nil {
		return false, nil
	}
	select {
	case <-td.done:
		return td.err == nil, nil
	case <-ctx.Done():
		return true, ctx.Err()
	}
}

type handlerError struct{ err error }

func (e *handlerError) Error() string { return e.err.Error() }

var errPermanent = errors.New("scheduler: cannot subscribe")

// moveOn gives up on the master the last SUBSCRIBE went to: it refused the
// connection, reset it, answered an error (503 "No leader elected") or
// never subscribed the framework. The next SUBSCRIBE goes to the master
// after it in Config.Masters (after the one that redirected to it, for a
// leader outside the list), round robin; a leader that lost the stream
// after SUBSCRIBED is tried once more first, since it may still lead.
func (c *Client) moveOn() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.leader = nil
	c.next = (c.next + 1) % len(c.masters)
}

// target is where the next SUBSCRIBE goes. Callers hold c.mu.
func (c *Client) target() *url.URL {
	if c.leader != nil {
		return c.leader
	}
	return c.masters[c.next]
}

// session runs one subscription: SUBSCRIBE, then the event loop until the
// stream ends. subscribed reports whether SUBSCRIBED arrived.
func (c *Client) session(ctx context.Context, h Handler) (subscribed bool, err error) {
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	timeout := time.Duration(c.missed) * defaultHeartbeatInterval
	// The watchdog also bounds connecting and waiting for the first event.
	dog := time.AfterFunc(timeout, func() { cancel(errHeartbeatTimeout) })
	defer dog.Stop()

	resp, endpoint, err := c.subscribe(sctx)
	if err != nil {
		c.moveOn()
		if cause := context.Cause(sctx); cause != nil && ctx.Err() == nil {
			err = fmt.Errorf("%w (%v)", cause, err)
		}
		return false, err
	}
	defer resp.Body.Close()
	streamID := resp.Header.Get(StreamIDHeader)
	if streamID == "" {
		c.log.Warn("scheduler: SUBSCRIBE response has no Mesos-Stream-Id", "master", endpoint.String())
	}
	enc, err := codec.FromContentType(resp.Header.Get("Content-Type"))
	if err != nil {
		enc = c.enc
	}
	c.mu.Lock()
	c.leader = endpoint
	if i := slices.IndexFunc(c.masters, func(m *url.URL) bool { return m.Host == endpoint.Host }); i >= 0 {
		c.next = i // should it fail, the masters after it are tried next
	}
	c.cancelSession = cancel
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.subscribed = false
		c.streamID = ""
		c.cancelSession = nil
		c.mu.Unlock()
		if !subscribed {
			// It took SUBSCRIBE but never said SUBSCRIBED: as good as
			// refused (say, a master that just lost its leadership).
			c.moveOn()
		}
	}()

	rr := codec.NewRecordReader(resp.Body, 0)
	for {
		rec, err := rr.ReadRecord()
		if err != nil {
			if cause := context.Cause(sctx); cause != nil {
				return subscribed, cause
			}
			if errors.Is(err, io.EOF) {
				return subscribed, fmt.Errorf("scheduler: master %s closed the event stream", endpoint)
			}
			return subscribed, fmt.Errorf("scheduler: reading events from %s: %w", endpoint, err)
		}
		dog.Stop()
		ev := &schedpb.Event{}
		if err := codec.Unmarshal(enc, rec, ev); err != nil {
			c.log.Warn("scheduler: skipping an event that does not decode", "master", endpoint.String(), "err", err)
			dog.Reset(timeout)
			continue
		}
		switch ev.GetType() {
		case schedpb.Event_SUBSCRIBED:
			sub := ev.GetSubscribed()
			c.mu.Lock()
			c.framework.Id = proto.Clone(sub.GetFrameworkId()).(*mesos.FrameworkID)
			c.streamID = streamID
			c.subscribed = true
			c.mu.Unlock()
			subscribed = true
			if hb := sub.GetHeartbeatIntervalSeconds(); hb > 0 {
				timeout = time.Duration(c.missed) * min(time.Duration(hb*float64(time.Second)), maxHeartbeatInterval)
			}
			c.log.Info("scheduler: subscribed", "master", endpoint.String(),
				"framework_id", sub.GetFrameworkId().GetValue(), "stream_id", streamID, "heartbeat_timeout", timeout)
		case schedpb.Event_ERROR:
			merr := &MasterError{Message: ev.GetError().GetMessage()}
			c.log.Warn("scheduler: master sent ERROR", "master", endpoint.String(), "message", merr.Message)
			if err := h(ctx, ev); err != nil {
				return subscribed, &handlerError{err}
			}
			return subscribed, merr
		}
		if err := h(ctx, ev); err != nil {
			return subscribed, &handlerError{err}
		}
		if sctx.Err() != nil {
			return subscribed, context.Cause(sctx)
		}
		dog.Reset(timeout)
	}
}

// subscribe sends SUBSCRIBE and returns the open 200 response and the
// endpoint (after redirects) that answered it.
func (c *Client) subscribe(ctx context.Context) (*http.Response, *url.URL, error) {
	c.mu.Lock()
	fw := proto.Clone(c.framework).(*mesos.FrameworkInfo)
	target := c.target()
	c.mu.Unlock()
	call := &schedpb.Call{
		Type:      schedpb.Call_SUBSCRIBE.Enum(),
		Subscribe: &schedpb.Call_Subscribe{FrameworkInfo: fw},
	}
	if fw.Id != nil {
		call.FrameworkId = proto.Clone(fw.Id).(*mesos.FrameworkID)
	}
	body, err := codec.Marshal(c.enc, call)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: encoding SUBSCRIBE: %v", errPermanent, err)
	}
	resp, endpoint, err := c.post(ctx, c.stream, target, body, "", schedpb.Call_SUBSCRIBE)
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, nil, readHTTPError(resp, endpoint, schedpb.Call_SUBSCRIBE)
	}
	return resp, endpoint, nil
}

// post sends one call, following up to maxRedirects 307/308 redirects. The
// caller closes the returned response's body.
func (c *Client) post(ctx context.Context, hc *http.Client, target *url.URL, body []byte, streamID string, typ schedpb.Call_Type) (*http.Response, *url.URL, error) {
	for n := 0; ; n++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, target.String(), bytes.NewReader(body))
		if err != nil {
			return nil, target, err
		}
		req.Header.Set("Content-Type", c.enc.ContentType())
		req.Header.Set("Accept", c.enc.ContentType())
		if streamID != "" {
			req.Header.Set(StreamIDHeader, streamID)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return nil, target, fmt.Errorf("scheduler: %s: %w", typ, err)
		}
		if resp.StatusCode != http.StatusTemporaryRedirect && resp.StatusCode != http.StatusPermanentRedirect {
			return resp, target, nil
		}
		loc := resp.Header.Get("Location")
		drain(resp)
		if n >= maxRedirects {
			return nil, target, fmt.Errorf("scheduler: %s: too many redirects, the last from %s to %q", typ, target, loc)
		}
		next, err := resolveRedirect(target, loc)
		if err != nil {
			return nil, target, err
		}
		c.log.Debug("scheduler: following redirect", "call", typ.String(), "from", target.String(), "to", next.String())
		target = next
	}
}

func readHTTPError(resp *http.Response, endpoint *url.URL, typ schedpb.Call_Type) error {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	return &HTTPError{Call: typ, URL: endpoint.String(), StatusCode: resp.StatusCode, Body: trimBody(b)}
}

func drain(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxErrorBody))
	resp.Body.Close()
}

// backoff yields exponentially growing delays between min and max with
// "equal jitter": each delay is uniformly drawn from [d/2, d].
type backoff struct {
	min, max, cur time.Duration
}

func (b *backoff) reset() { b.cur = 0 }

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	half := b.cur / 2
	return half + rand.N(b.cur-half+1)
}
