package agent

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gomesos/gomesos/agent/core"
)

// Snapshot publication: the read-only endpoints (/state, /metrics/snapshot)
// never wait on the loop's work. The loop publishes an immutable
// core.Snapshot, and readers encode the latest one on their own goroutines;
// a slow reader costs the loop nothing.
//
// Building a snapshot costs the loop time in proportion to the agent's
// executors and tasks, so the loop builds one only when a reader wants a
// newer one than is published, and spaces builds out: after a build that
// took d, the next comes no sooner than snapshotGapFactor·d later (and no
// later than maxSnapshotGap), which keeps building under a tenth of the
// loop's time however many readers poll. A reader sees every change made
// before it asked: it waits for the publication that covers them, at most
// one gap and one batch of inputs away.
//
// The operator API's view of the state (core.V1State, protobuf copies of
// every task) costs the loop more than the rest of a snapshot; it is built
// only into publications that a reader of it asked for.
const (
	snapshotGapFactor = 9
	maxSnapshotGap    = 5 * time.Second
)

// publisher holds the published snapshot. changed and publish are the
// loop's; latest is for readers, and poke wakes the loop for them.
type publisher struct {
	version atomic.Uint64 // changes the loop has made
	current atomic.Pointer[publication]
	wanted  atomic.Bool   // a reader waits for a newer snapshot
	wantV1  atomic.Bool   // and one of them wants its V1 view
	poke    chan struct{} // wakes the loop when a reader starts waiting

	mu        sync.Mutex
	published chan struct{} // closed at the next publication

	// the loop's own
	lastBuild time.Time
	gap       time.Duration
}

// publication is one published snapshot and the changes it covers.
type publication struct {
	version  uint64
	snapshot *core.Snapshot
}

func (p *publisher) init() {
	p.published = make(chan struct{})
	p.poke = make(chan struct{}, 1)
	p.version.Store(1) // the state before the first step is not published yet
}

// changed records that the state may have changed.
func (p *publisher) changed() { p.version.Add(1) }

// publish builds and publishes a snapshot if a reader wants one, the state
// changed since the last one and the gap since that one has passed. It
// returns when it should be called again: zero when no reader waits.
func (p *publisher) publish(c *core.Core) time.Time {
	if !p.wanted.Load() {
		return time.Time{}
	}
	if due := p.lastBuild.Add(p.gap); time.Now().Before(due) {
		return due
	}
	p.wanted.Store(false)
	withV1 := p.wantV1.Swap(false)
	v := p.version.Load()
	if cur := p.current.Load(); cur == nil || cur.version != v || (withV1 && cur.snapshot.V1 == nil) {
		start := time.Now()
		s := c.Snapshot(start)
		if withV1 {
			s.V1 = c.V1State()
		}
		p.lastBuild = time.Now()
		p.gap = min(snapshotGapFactor*p.lastBuild.Sub(start), maxSnapshotGap)
		p.current.Store(&publication{version: v, snapshot: s})
	}
	p.mu.Lock()
	close(p.published)
	p.published = make(chan struct{})
	p.mu.Unlock()
	return time.Time{}
}

// latest returns a published snapshot that covers every change the loop
// had made when latest was called, waiting for its publication if need be;
// false when stopped closes or ctx ends first.
func (p *publisher) latest(ctx context.Context, stopped <-chan struct{}) (*core.Snapshot, bool) {
	return p.await(ctx, stopped, false)
}

// latestV1 is latest for a reader of the snapshot's V1 view.
func (p *publisher) latestV1(ctx context.Context, stopped <-chan struct{}) (*core.Snapshot, bool) {
	return p.await(ctx, stopped, true)
}

func (p *publisher) await(ctx context.Context, stopped <-chan struct{}, v1 bool) (*core.Snapshot, bool) {
	want := p.version.Load()
	for {
		p.mu.Lock()
		next := p.published
		p.mu.Unlock()
		if cur := p.current.Load(); cur != nil && cur.version >= want && (!v1 || cur.snapshot.V1 != nil) {
			return cur.snapshot, true
		}
		if v1 {
			p.wantV1.Store(true)
		}
		p.wanted.Store(true)
		select {
		case p.poke <- struct{}{}:
		default:
		}
		select {
		case <-next:
		case <-stopped:
			return nil, false
		case <-ctx.Done():
			return nil, false
		}
	}
}
