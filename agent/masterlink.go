package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/agent/core"
	"github.com/gomesos/gomesos/api/agentproto"
	"github.com/gomesos/gomesos/codec"
)

// The master's side of the agent protocol (see api/agentproto).
const (
	subscribePath     = "/internal/agent/subscribe"
	messagePath       = "/internal/agent/message"
	headerStreamID    = "Gomesos-Stream-Id"
	headerAgentID     = "Gomesos-Agent-Id"
	sendTimeout       = 10 * time.Second
	subscribeTimeout  = 30 * time.Second // for the response headers
	maxMasterRecord   = 64 << 20
	sendQueueCapacity = 4096
)

// masterLink carries the core's Connect, Disconnect and Send outputs to
// the master over HTTP and feeds what comes back in as inputs. It holds no
// protocol state of its own except where the master is (which a redirect
// changes).
type masterLink struct {
	log       *slog.Logger
	deliver   func(core.Input) bool
	transport *http.Transport
	client    *http.Client

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	sendq  chan core.Send

	mu           sync.Mutex
	master       string // host:port
	streamGen    uint64
	streamCancel context.CancelFunc
}

func newMasterLink(master string, log *slog.Logger, deliver func(core.Input) bool) *masterLink {
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ResponseHeaderTimeout: subscribeTimeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &masterLink{
		log:       log,
		deliver:   deliver,
		transport: tr,
		client: &http.Client{
			Transport: tr,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		ctx:    ctx,
		cancel: cancel,
		sendq:  make(chan core.Send, sendQueueCapacity),
		master: master,
	}
	l.wg.Add(1)
	go l.sender()
	return l
}

// close stops every request and waits for the link's goroutines.
func (l *masterLink) close() {
	l.cancel()
	l.wg.Wait()
	l.transport.CloseIdleConnections()
}

func (l *masterLink) masterAddr() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.master
}

// followRedirect takes the new master from a Location header, which Mesos
// writes protocol-relative: //host:port/path.
func (l *masterLink) followRedirect(resp *http.Response) bool {
	loc := resp.Header.Get("Location")
	u, err := url.Parse(loc)
	if err != nil || u.Host == "" {
		return false
	}
	l.mu.Lock()
	l.master = u.Host
	l.mu.Unlock()
	l.log.Info("following the master's redirect", "master", u.Host)
	return true
}

// connect opens a subscribe stream for attempt gen, closing any other.
func (l *masterLink) connect(gen uint64, msg *agentproto.AgentMessage) {
	body, err := proto.Marshal(msg)
	if err != nil {
		l.deliver(core.MasterStreamEnded{Gen: gen, Err: err})
		return
	}
	ctx, cancel := context.WithCancel(l.ctx)
	l.mu.Lock()
	if l.streamCancel != nil {
		l.streamCancel()
	}
	l.streamGen, l.streamCancel = gen, cancel
	l.mu.Unlock()
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer cancel()
		err, redirected := l.stream(ctx, gen, body)
		if ctx.Err() != nil && l.ctx.Err() != nil {
			return // the agent is stopping
		}
		l.deliver(core.MasterStreamEnded{Gen: gen, Err: err, Redirected: redirected})
	}()
}

// disconnect closes the stream of attempt gen.
func (l *masterLink) disconnect(gen uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.streamGen == gen && l.streamCancel != nil {
		l.streamCancel()
		l.streamCancel = nil
	}
}

func (l *masterLink) stream(ctx context.Context, gen uint64, body []byte) (err error, redirected bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+l.masterAddr()+subscribePath, bytes.NewReader(body))
	if err != nil {
		return err, false
	}
	req.Header.Set("Content-Type", codec.MediaProtobuf)
	req.Header.Set("Accept", codec.MediaProtobuf)
	resp, err := l.client.Do(req)
	if err != nil {
		return err, false
	}
	defer resp.Body.Close()
	switch {
	case isRedirect(resp.StatusCode):
		if l.followRedirect(resp) {
			return errors.New("redirected"), true
		}
		return fmt.Errorf("redirect without a usable Location %q", resp.Header.Get("Location")), false
	case resp.StatusCode != http.StatusOK:
		text, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("master answered %s: %s", resp.Status, bytes.TrimSpace(text)), false
	}
	if !l.deliver(core.MasterStream{Gen: gen, StreamID: resp.Header.Get(headerStreamID)}) {
		return nil, false
	}
	rr := codec.NewRecordReader(resp.Body, maxMasterRecord)
	for {
		rec, err := rr.ReadRecord()
		if err != nil {
			if err == io.EOF {
				err = errors.New("the master closed the stream")
			}
			return err, false
		}
		msg := &agentproto.MasterMessage{}
		if err := proto.Unmarshal(rec, msg); err != nil {
			return fmt.Errorf("bad message from the master: %w", err), false
		}
		if !l.deliver(core.MasterMessage{Gen: gen, Msg: msg}) {
			return nil, false
		}
	}
}

// send queues a message; the queue is sent in order by one goroutine. When
// it is full the message is dropped (status updates are retried anyway).
func (l *masterLink) send(s core.Send) {
	select {
	case l.sendq <- s:
	default:
		l.log.Warn("dropping a message for the master: queue full", "type", s.Msg.GetType())
	}
}

func (l *masterLink) sender() {
	defer l.wg.Done()
	for {
		select {
		case <-l.ctx.Done():
			return
		case s := <-l.sendq:
			l.post(l.ctx, s)
		}
	}
}

// postWithin sends one message now, giving up after d; the agent uses it
// for its last words.
func (l *masterLink) postWithin(s core.Send, d time.Duration) {
	ctx, cancel := context.WithTimeout(l.ctx, d)
	defer cancel()
	l.post(ctx, s)
}

// post sends one message. A 4xx (or a redirect) means the stream it names
// is no longer the master's: the core then re-registers.
func (l *masterLink) post(ctx context.Context, s core.Send) {
	body, err := proto.Marshal(s.Msg)
	if err != nil {
		l.log.Error("encoding a message for the master", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+l.masterAddr()+messagePath, bytes.NewReader(body))
	if err != nil {
		return
	}
	req.Header.Set("Content-Type", codec.MediaProtobuf)
	req.Header.Set(headerAgentID, s.AgentID)
	req.Header.Set(headerStreamID, s.StreamID)
	resp, err := l.client.Do(req)
	if err != nil {
		if ctx.Err() == nil {
			l.log.Warn("sending to the master failed", "type", s.Msg.GetType(), "err", err)
		}
		return
	}
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusAccepted || resp.StatusCode == http.StatusOK:
	case isRedirect(resp.StatusCode):
		l.followRedirect(resp)
		l.deliver(core.MasterRejected{StreamID: s.StreamID, Status: resp.StatusCode})
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		l.log.Warn("the master refused a message", "type", s.Msg.GetType(), "status", resp.Status, "body", string(bytes.TrimSpace(text)))
		l.deliver(core.MasterRejected{StreamID: s.StreamID, Status: resp.StatusCode})
	default:
		l.log.Warn("the master failed a message", "type", s.Msg.GetType(), "status", resp.Status)
	}
}

func isRedirect(code int) bool {
	switch code {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}
