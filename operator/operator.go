// Package operator is a small typed client of the Mesos v1 operator API
// (POST /api/v1 on the master). Call sends one call and returns the typed
// response; Subscribe opens the SUBSCRIBE event stream. The client is given
// every master's address: it asks them in turn until one answers, and
// follows the 307 redirect a non-leading master answers with to the leader.
//
// Failures the master reports (400 with a reason, 501 for calls not
// implemented yet, ...) come back as *Error, carrying the status and the
// master's own message.
package operator

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	masterpb "github.com/gomesos/gomesos/api/v1/master"
	"github.com/gomesos/gomesos/codec"
)

// Client calls a Mesos master's operator API. The zero value is not
// usable; make one with New.
type Client struct {
	masters  []string // base URLs, scheme://host:port
	encoding codec.Encoding
	http     *http.Client
}

// Option configures a Client.
type Option func(*Client)

// WithEncoding makes the client speak enc (protobuf by default).
func WithEncoding(enc codec.Encoding) Option { return func(c *Client) { c.encoding = enc } }

// WithHTTPClient makes the client send its requests through hc.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// New returns a client of the masters named by masters: "host:port" or
// http(s) URLs, as a list or comma-separated (Mesos's --master syntax).
func New(masters []string, opts ...Option) (*Client, error) {
	c := &Client{encoding: codec.Protobuf, http: http.DefaultClient}
	for _, m := range masters {
		for _, s := range strings.Split(m, ",") {
			if s = strings.TrimSpace(s); s == "" {
				continue
			}
			u, err := baseURL(s)
			if err != nil {
				return nil, err
			}
			c.masters = append(c.masters, u)
		}
	}
	if len(c.masters) == 0 {
		return nil, errors.New("no master address given")
	}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// baseURL turns "host:port" or a URL into "scheme://host:port".
func baseURL(s string) (string, error) {
	raw := s
	if !strings.Contains(s, "://") {
		raw = "http://" + strings.TrimPrefix(s, "//")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("master address %q: %w", s, err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("master address %q: want host:port or an http(s) URL", s)
	}
	return u.Scheme + "://" + u.Host, nil
}

// Masters returns the base URLs the client asks, in order.
func (c *Client) Masters() []string { return append([]string(nil), c.masters...) }

// Error is a call the master answered with a failure status.
type Error struct {
	Call    masterpb.Call_Type
	Status  int    // the HTTP status code
	Message string // the master's message (the response body)
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s: %d %s", e.Call, e.Status, http.StatusText(e.Status))
	if e.Message != "" {
		msg += ": " + e.Message
	}
	return msg
}

// retryable says whether another master may answer where this one failed:
// it has no leader, or is not one.
func retryable(status int) bool {
	return status == http.StatusServiceUnavailable || status == http.StatusBadGateway || status == http.StatusGatewayTimeout
}

// post sends call to each master in turn and returns the first answer that
// is not a failure another master could avoid (no leader, connection
// refused). The caller closes the body of the response it gets.
func (c *Client) post(ctx context.Context, call *masterpb.Call, accept string) (*http.Response, error) {
	body, err := codec.Marshal(c.encoding, call)
	if err != nil {
		return nil, fmt.Errorf("%s: encoding the call: %w", call.GetType(), err)
	}
	var errs []error
	for _, m := range c.masters {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, m+"/api/v1", bytes.NewReader(body))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", call.GetType(), err)
		}
		req.Header.Set("Content-Type", c.encoding.ContentType())
		req.Header.Set("Accept", accept)
		// A bytes.Reader body lets the HTTP client resend it on a 307
		// from a master that is not the leader.
		resp, err := c.http.Do(req)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", call.GetType(), err))
			if ctx.Err() != nil {
				break
			}
			continue
		}
		if resp.StatusCode == http.StatusOK {
			return resp, nil
		}
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		resp.Body.Close()
		e := &Error{Call: call.GetType(), Status: resp.StatusCode, Message: strings.TrimSpace(string(b))}
		if !retryable(resp.StatusCode) {
			return nil, e
		}
		errs = append(errs, fmt.Errorf("%s: %w", m, e))
	}
	return nil, errors.Join(errs...)
}

// Call sends one call and returns the master's response. Calls that Mesos
// answers with an empty 200 (TEARDOWN, UPDATE_WEIGHTS, ...) return an
// empty Response (no type).
func (c *Client) Call(ctx context.Context, call *masterpb.Call) (*masterpb.Response, error) {
	if call.GetType() == masterpb.Call_SUBSCRIBE {
		return nil, errors.New("SUBSCRIBE: use Subscribe")
	}
	resp, err := c.post(ctx, call, c.encoding.ContentType())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("%s: reading the response: %w", call.GetType(), err)
	}
	out := &masterpb.Response{}
	if len(bytes.TrimSpace(b)) == 0 {
		return out, nil
	}
	enc := c.encoding
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		if e, err := codec.FromContentType(ct); err == nil {
			enc = e
		}
	}
	if err := codec.Unmarshal(enc, b, out); err != nil {
		return nil, fmt.Errorf("%s: decoding the response: %w", call.GetType(), err)
	}
	return out, nil
}

// Do sends a call of type t with no arguments (GET_AGENTS, GET_TASKS, ...).
func (c *Client) Do(ctx context.Context, t masterpb.Call_Type) (*masterpb.Response, error) {
	return c.Call(ctx, &masterpb.Call{Type: t.Enum()})
}

// Stream is an open SUBSCRIBE stream.
type Stream struct {
	body io.ReadCloser
	rr   *codec.RecordReader
	enc  codec.Encoding
	// closed makes Next fail after Close, even with records still
	// buffered from the stream.
	closed atomic.Bool
}

// Subscribe opens the master's operator event stream. The first event is
// SUBSCRIBED, with the master's state; HEARTBEATs follow at intervals.
// Cancelling ctx, or Close, ends the stream.
func (c *Client) Subscribe(ctx context.Context) (*Stream, error) {
	call := &masterpb.Call{Type: masterpb.Call_SUBSCRIBE.Enum()}
	resp, err := c.post(ctx, call, c.encoding.ContentType())
	if err != nil {
		return nil, err
	}
	enc := c.encoding
	if e, err := codec.FromContentType(resp.Header.Get("Content-Type")); err == nil {
		enc = e
	}
	return &Stream{body: resp.Body, rr: codec.NewRecordReader(resp.Body, 0), enc: enc}, nil
}

// Next returns the next event. At the end of the stream it returns io.EOF.
func (s *Stream) Next() (*masterpb.Event, error) {
	if s.closed.Load() {
		return nil, errors.New("reading the event stream: the stream is closed")
	}
	rec, err := s.rr.ReadRecord()
	if err != nil {
		if err == io.EOF {
			return nil, io.EOF
		}
		return nil, fmt.Errorf("reading the event stream: %w", err)
	}
	ev := &masterpb.Event{}
	if err := codec.Unmarshal(s.enc, rec, ev); err != nil {
		return nil, fmt.Errorf("decoding an event: %w", err)
	}
	return ev, nil
}

// Close ends the stream.
func (s *Stream) Close() error {
	s.closed.Store(true)
	return s.body.Close()
}
