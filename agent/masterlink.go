package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/agent/core"
	"github.com/gomesos/gomesos/api/agentproto"
	"github.com/gomesos/gomesos/codec"
)

// The master's side of the agent protocol (see api/agentproto).
const (
	subscribePath    = "/internal/agent/subscribe"
	messagePath      = "/internal/agent/message"
	headerStreamID   = "Gomesos-Stream-Id"
	headerAgentID    = "Gomesos-Agent-Id"
	sendTimeout      = 10 * time.Second
	subscribeTimeout = 30 * time.Second // for the response headers
	maxMasterRecord  = 64 << 20
	// sendQueueCapacity bounds the messages waiting for the master's
	// confirmation. Retransmitted status updates replace their waiting
	// copy, so the queue holds about one message per task and executor in
	// flight; more than this means the master is not keeping up.
	sendQueueCapacity = 16384
	// A message the master did not take (no answer, or a 5xx) is tried
	// again after a backoff from sendRetryMin doubling up to sendRetryMax.
	sendRetryMin = 50 * time.Millisecond
	sendRetryMax = 2 * time.Second
	// streamReadAhead bounds the master's messages read from the stream
	// and not yet handed to the loop.
	streamReadAhead = 4096
	// sendLanes is how many messages may be on their way to the master at
	// once.
	sendLanes = 8
	// sendBatch bounds the messages of a lane posted in one request to a
	// master that accepts batches: what queued up behind a request in
	// flight goes out together in the next one.
	sendBatch = 64
)

// errMasterBehind ends the master link when its send queue is full.
var errMasterBehind = errors.New("the master is not taking this agent's messages as fast as they come: the send queue is full")

// masterLink carries the core's Connect, Disconnect and Send outputs to
// the master over HTTP and feeds what comes back in as inputs. It holds no
// protocol state of its own except where the master is and which stream is
// open. With several masters (one leading, the others redirecting to it)
// it keeps their list: a redirect changes the master it talks to, and a
// failure moves it to the next one of the list (see nextMaster).
//
// Messages wait in one bounded queue, split into sendLanes lanes that post
// concurrently (one request at a time each, so that a thousand tasks'
// updates are not sent one round trip after another). The messages about
// one task or executor share a lane and go out in order. Each message is
// tried until the master confirms it (a 2xx answer), refuses it (the stream
// is stale: the core re-registers) or the stream it was sent on ends.
// Whatever is still queued for an ended stream is dropped: the registration
// that follows carries the agent's whole state, and the status update
// manager resends every unacknowledged update on the new stream. When the
// queue is full the master is not keeping up, and the link is dropped (the
// agent re-registers) instead of losing a message. PONGs take a lane of
// their own, so that a long queue never delays the answer to a ping; one
// waiting pong answers every ping.
type masterLink struct {
	log       *slog.Logger
	deliver   func(core.Input) bool
	urgent    func(core.Input) bool // for pings: ahead of the loop's queue, never blocking
	transport *http.Transport
	client    *http.Client

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	pongs  chan core.Send

	mu        sync.Mutex
	spec      string   // --master as given, re-resolved on every round (file://)
	masters   []string // the masters to try, round robin
	idx       int      // the entry of masters tried last
	failures  int      // attempts failed in this round over masters
	master    string   // host:port: masters[idx], or where it redirected
	moved     bool     // a redirect changed master since the stream began
	streamGen uint64
	// advanced is the last attempt after which the link moved on to the
	// next master (the stream's end or the core's disconnect, whichever
	// came first), so that one failure moves it once.
	advanced     uint64
	streamCancel context.CancelFunc
	live         string // the open stream's ID, "" when none
	// batches: the live stream's master said in REGISTERED that it takes
	// BATCH messages.
	batches bool
	// successor is the master the live stream's master named in
	// REGISTERED as the one expected to take over from it: when the
	// stream ends, the link tries it first (once), "" when none.
	successor string

	qmu    sync.Mutex
	lanes  [sendLanes]sendLane
	queued int                  // in every lane
	byKey  map[string]*outgoing // waiting status updates, by task and uuid
}

// sendLane is one lane of the send queue.
type sendLane struct {
	queue []*outgoing   // oldest first; the first may be in flight
	wake  chan struct{} // something was queued
}

// outgoing is a message in the send queue.
type outgoing struct {
	send core.Send
	key  string // for a status update, what a retransmission replaces
}

// newMasterLink makes the link to the masters resolved from spec (see
// ResolveMasters), starting with the first.
func newMasterLink(spec string, masters []string, log *slog.Logger, deliver, urgent func(core.Input) bool) *masterLink {
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ResponseHeaderTimeout: subscribeTimeout,
		MaxIdleConnsPerHost:   sendLanes + 2, // the lanes, pongs and the stream
		IdleConnTimeout:       90 * time.Second,
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &masterLink{
		log:       log,
		deliver:   deliver,
		urgent:    urgent,
		transport: tr,
		client: &http.Client{
			Transport: tr,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
		ctx:     ctx,
		cancel:  cancel,
		pongs:   make(chan core.Send, 1),
		spec:    spec,
		masters: masters,
		master:  masters[0],
		byKey:   make(map[string]*outgoing),
	}
	l.wg.Add(1 + sendLanes)
	go l.ponger()
	for i := range l.lanes {
		l.lanes[i].wake = make(chan struct{}, 1)
		go l.sender(&l.lanes[i])
	}
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

// nextMaster moves on, round robin, to the entry of the list after the one
// tried last, after an attempt at the current master failed (it refused
// the connection, answered an error such as 503 "No leader elected", or its
// stream ended without a redirect). It reports whether the round over the
// list goes on (a master not yet tried since the last backoff), or whether
// every master has now failed once and the next attempt should wait a
// backoff step; that starts a new round, for which a --master=file:// is
// read again. Callers hold l.mu.
func (l *masterLink) nextMaster() (untried bool) {
	l.failures++
	if next := l.successor; next != "" {
		// The master that served the stream named who takes over from
		// it: there first, then on round the list after it.
		l.successor = ""
		if next != l.master {
			l.log.Info("trying the master named to take over", "master", next, "after", l.master)
			l.master = next
			if i := slices.Index(l.masters, next); i >= 0 {
				l.idx = i
			}
			return true
		}
	}
	if l.failures >= len(l.masters) {
		l.failures = 0
		if strings.HasPrefix(l.spec, masterFilePrefix) {
			if list, err := ResolveMasters(l.spec); err != nil {
				l.log.Warn("cannot read the masters' addresses again; keeping the last ones", "master", l.spec, "err", err)
			} else if !slices.Equal(list, l.masters) {
				l.log.Info("the masters' addresses changed", "masters", list)
				l.masters, l.idx = list, len(list)-1
			}
		}
	}
	l.idx = (l.idx + 1) % len(l.masters)
	if l.master != l.masters[l.idx] {
		l.log.Info("trying the next master", "master", l.masters[l.idx], "after", l.master)
	}
	l.master = l.masters[l.idx]
	return l.failures > 0
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
	l.master, l.moved = u.Host, true
	if i := slices.Index(l.masters, u.Host); i >= 0 {
		l.idx = i // when the leader fails, the round goes on after it
	}
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
	l.streamGen, l.streamCancel, l.live = gen, cancel, ""
	l.moved = false
	l.mu.Unlock()
	l.dropQueue()
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer cancel()
		err, redirected := l.stream(ctx, gen, body)
		next := false
		l.mu.Lock()
		if l.streamGen == gen {
			l.live = ""
			// The stream failed, or the core closed it (no ping
			// from the master, no REGISTERED in time, a message
			// refused): on to the next master, unless a redirect
			// (of the subscription or of a message) named it.
			if !redirected && !l.moved && l.advanced != gen && l.ctx.Err() == nil {
				next = l.nextMaster()
			}
			l.advanced = gen
		}
		l.mu.Unlock()
		if ctx.Err() != nil && l.ctx.Err() != nil {
			return // the agent is stopping
		}
		l.deliver(core.MasterStreamEnded{Gen: gen, Err: err, Redirected: redirected, NextMaster: next})
	}()
}

// disconnect closes the stream of attempt gen.
func (l *masterLink) disconnect(gen uint64) {
	l.mu.Lock()
	current := l.streamGen == gen
	if current {
		if l.streamCancel != nil {
			l.streamCancel()
			l.streamCancel = nil
		}
		l.live = ""
		// The core gave up on this master (no ping, no REGISTERED in
		// time, a refused message): move on now, not when the stream's
		// goroutine ends, which the core's next attempt (after a random
		// delay that may be nothing) could overtake. The goroutine,
		// seeing another generation, moves no further.
		if !l.moved && l.advanced != gen && l.ctx.Err() == nil {
			l.nextMaster()
		}
		l.advanced = gen
	}
	l.mu.Unlock()
	if current {
		l.dropQueue()
	}
}

// isLive reports whether streamID names the open stream.
func (l *masterLink) isLive(streamID string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return streamID != "" && streamID == l.live
}

// batchSize is how many messages of a lane may go in one request: one,
// unless the live stream's master takes batches.
func (l *masterLink) batchSize() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.batches {
		return sendBatch
	}
	return 1
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
	streamID := resp.Header.Get(headerStreamID)
	l.mu.Lock()
	if l.streamGen == gen {
		l.live = streamID
		l.batches = false // until this master's REGISTERED says otherwise
		l.successor = ""  // likewise
		l.failures = 0    // a master took the agent: a new round begins
	}
	l.mu.Unlock()
	if !l.deliver(core.MasterStream{Gen: gen, StreamID: streamID}) {
		return nil, false
	}
	// The reader keeps reading while a forwarder hands the messages to the
	// loop in order, so that a PING can go to the loop at once, ahead of
	// whatever the master sent before it: however long the loop's queue,
	// the master's pings are answered.
	msgs := make(chan *agentproto.MasterMessage, streamReadAhead)
	forwarded := make(chan struct{})
	go func() {
		defer close(forwarded)
		for msg := range msgs {
			if !l.deliver(core.MasterMessage{Gen: gen, Msg: msg}) {
				return
			}
		}
	}()
	defer func() {
		close(msgs)
		<-forwarded // everything read reaches the loop before the stream's end
	}()
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
		if msg.GetType() == agentproto.MasterMessage_PING {
			l.urgent(core.MasterMessage{Gen: gen, Msg: msg})
			continue
		}
		if msg.GetType() == agentproto.MasterMessage_REGISTERED {
			l.mu.Lock()
			if l.streamGen == gen && l.live == streamID {
				l.batches = msg.GetRegistered().GetAcceptsBatches()
				l.successor = ""
				if next, err := checkMasterAddr(msg.GetRegistered().GetSuccessor()); err == nil {
					l.successor = next
				}
			}
			l.mu.Unlock()
		}
		select {
		case msgs <- msg:
		case <-forwarded:
			return nil, false // the agent is stopping
		case <-ctx.Done():
			return ctx.Err(), false
		}
	}
}

// send queues a message for the master without blocking. It returns false
// when the queue is full, with the attempt whose stream should then be
// dropped.
func (l *masterLink) send(s core.Send) (gen uint64, ok bool) {
	if s.Msg.GetType() == agentproto.AgentMessage_PONG {
		select {
		case l.pongs <- s:
		default: // a pong is already on its way
		}
		return 0, true
	}
	key := retransmissionKey(s)
	l.qmu.Lock()
	if o := l.byKey[key]; key != "" && o != nil {
		o.send = s // the newer copy carries the task's latest state
		l.qmu.Unlock()
		return 0, true
	}
	if l.queued >= sendQueueCapacity {
		n := l.queued
		l.qmu.Unlock()
		l.mu.Lock()
		gen = l.streamGen
		l.mu.Unlock()
		l.log.Warn("the master is not keeping up with this agent's messages; dropping the link to re-register",
			"queued", n, "type", s.Msg.GetType())
		return gen, false
	}
	o := &outgoing{send: s, key: key}
	lane := &l.lanes[laneOf(s.Msg)]
	lane.queue = append(lane.queue, o)
	l.queued++
	if key != "" {
		l.byKey[key] = o
	}
	l.qmu.Unlock()
	select {
	case lane.wake <- struct{}{}:
	default:
	}
	return 0, true
}

// laneOf picks a message's lane by the task or executor it is about, so
// that the messages about one go out in order. A command executor has its
// task's ID, so its task's updates and its exit share a lane too.
func laneOf(m *agentproto.AgentMessage) int {
	var fw, id string
	switch {
	case m.StatusUpdate != nil:
		fw, id = m.GetStatusUpdate().GetFrameworkId().GetValue(), m.GetStatusUpdate().GetStatus().GetTaskId().GetValue()
	case m.ExecutorExited != nil:
		fw, id = m.GetExecutorExited().GetFrameworkId().GetValue(), m.GetExecutorExited().GetExecutorId().GetValue()
	case m.ExecutorToFramework != nil:
		fw, id = m.GetExecutorToFramework().GetFrameworkId().GetValue(), m.GetExecutorToFramework().GetExecutorId().GetValue()
	}
	h := fnv.New32a()
	h.Write([]byte(fw))
	h.Write([]byte{0})
	h.Write([]byte(id))
	return int(h.Sum32() % sendLanes)
}

// retransmissionKey names a status update by stream, framework, task and
// uuid: the status update manager resends it until it is acknowledged, and
// a copy still waiting in the queue need not be sent twice.
func retransmissionKey(s core.Send) string {
	if s.Msg.GetType() != agentproto.AgentMessage_STATUS_UPDATE {
		return ""
	}
	u := s.Msg.GetStatusUpdate()
	return s.StreamID + "\x00" + u.GetFrameworkId().GetValue() + "\x00" + u.GetStatus().GetTaskId().GetValue() + "\x00" + string(u.GetStatus().GetUuid())
}

// dropQueue forgets every waiting message: its stream is over.
func (l *masterLink) dropQueue() {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	if l.queued > 0 {
		l.log.Debug("dropping messages for a stream that ended", "count", l.queued)
	}
	for i := range l.lanes {
		l.lanes[i].queue = nil
	}
	l.queued = 0
	clear(l.byKey)
}

// heads appends to dst a lane's oldest messages, at most max of them and
// all of the first one's stream, which from now on no retransmission
// replaces; none when the lane is empty.
func (l *masterLink) heads(dst []*outgoing, lane *sendLane, max int) []*outgoing {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	for _, o := range lane.queue {
		if len(dst) == max || len(dst) > 0 && o.send.StreamID != dst[0].send.StreamID {
			break
		}
		if o.key != "" && l.byKey[o.key] == o {
			delete(l.byKey, o.key)
		}
		dst = append(dst, o)
	}
	return dst
}

// pop removes outs from the front of their lane, unless the queue was
// dropped meanwhile.
func (l *masterLink) pop(lane *sendLane, outs []*outgoing) {
	l.qmu.Lock()
	defer l.qmu.Unlock()
	for _, o := range outs {
		if len(lane.queue) == 0 || lane.queue[0] != o {
			return
		}
		lane.queue[0] = nil
		lane.queue = lane.queue[1:]
		l.queued--
	}
}

// sender posts a lane's messages in order, each until it is done with;
// to a master that takes batches, what waits in the lane goes out
// together.
func (l *masterLink) sender(lane *sendLane) {
	defer l.wg.Done()
	retry := sendRetryMin
	var outs []*outgoing
	for {
		clear(outs)
		outs = l.heads(outs[:0], lane, l.batchSize())
		if len(outs) == 0 {
			select {
			case <-l.ctx.Done():
				return
			case <-lane.wake:
			}
			continue
		}
		if !l.isLive(outs[0].send.StreamID) {
			l.pop(lane, outs) // their stream ended: superseded by the next registration
			continue
		}
		send := outs[0].send
		if len(outs) > 1 {
			batch := &agentproto.AgentMessage{Type: agentproto.AgentMessage_BATCH.Enum(), Batch: make([]*agentproto.AgentMessage, len(outs))}
			for i, o := range outs {
				batch.Batch[i] = o.send.Msg
			}
			send.Msg = batch
		}
		if l.post(l.ctx, send) != postFailed {
			l.pop(lane, outs)
			retry = sendRetryMin
			continue
		}
		select {
		case <-l.ctx.Done():
			return
		case <-time.After(retry):
		}
		retry = min(2*retry, sendRetryMax)
	}
}

// ponger answers pings, apart from the queue.
func (l *masterLink) ponger() {
	defer l.wg.Done()
	for {
		select {
		case <-l.ctx.Done():
			return
		case s := <-l.pongs:
			if l.isLive(s.StreamID) {
				l.post(l.ctx, s)
			}
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

// postResult is how a message fared.
type postResult int

const (
	postDelivered postResult = iota // the master took it (2xx)
	postRefused                     // the master refused it, or it cannot be sent at all
	postFailed                      // no answer, or a 5xx: worth trying again
)

// post sends one message. A 4xx (or a redirect) means the stream it names
// is no longer the master's: the core then re-registers.
func (l *masterLink) post(ctx context.Context, s core.Send) postResult {
	body, err := proto.Marshal(s.Msg)
	if err != nil {
		l.log.Error("encoding a message for the master", "err", err)
		return postRefused
	}
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+l.masterAddr()+messagePath, bytes.NewReader(body))
	if err != nil {
		l.log.Error("making a request for the master", "err", err)
		return postRefused
	}
	req.Header.Set("Content-Type", codec.MediaProtobuf)
	req.Header.Set(headerAgentID, s.AgentID)
	req.Header.Set(headerStreamID, s.StreamID)
	resp, err := l.client.Do(req)
	if err != nil {
		if l.ctx.Err() == nil {
			l.log.Warn("sending to the master failed", "type", s.Msg.GetType(), "err", err)
		}
		return postFailed
	}
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	resp.Body.Close()
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return postDelivered
	case isRedirect(resp.StatusCode):
		l.followRedirect(resp)
		l.deliver(core.MasterRejected{StreamID: s.StreamID, Status: resp.StatusCode})
		return postRefused
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		l.log.Warn("the master refused a message", "type", s.Msg.GetType(), "status", resp.Status, "body", string(bytes.TrimSpace(text)))
		l.deliver(core.MasterRejected{StreamID: s.StreamID, Status: resp.StatusCode})
		return postRefused
	default:
		l.log.Warn("the master failed a message", "type", s.Msg.GetType(), "status", resp.Status)
		return postFailed
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
