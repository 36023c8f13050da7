package master

import (
	"io"
	"sync/atomic"
	"time"
)

// warmWindow is how long after the last read of a view the master keeps
// encoding what changed, so that monitoring that polls /master/state
// never pays for a backlog of changes on one read.
const warmWindow = 5 * time.Minute

// warmEvery spaces the warmer's passes: a reader finds at most this much
// of changes left to encode.
const warmEvery = 500 * time.Millisecond

// warmer encodes each new snapshot's changed records off the loop, while
// someone reads the views. A snapshot's records encode once, whoever asks
// first; the warmer asks after every tick's publication, so a reader finds
// at most a tick's worth of changes to encode. It holds the encoders' gate
// like any reader, so it never takes the loop's processor.
type warmer struct {
	lastRead atomic.Int64 // unix nanoseconds of the last view read
	kick     chan struct{}
	lastKick time.Time // owned by the loop
}

func newWarmer() *warmer { return &warmer{kick: make(chan struct{}, 1)} }

// read notes that a view was read now.
func (w *warmer) read(now time.Time) { w.lastRead.Store(now.UnixNano()) }

// published tells the warmer a snapshot was published; it is ignored while
// no one reads, and coalesced while the warmer is busy.
func (w *warmer) published(now time.Time) {
	if now.UnixNano()-w.lastRead.Load() > int64(warmWindow) || now.Sub(w.lastKick) < warmEvery {
		return
	}
	w.lastKick = now
	select {
	case w.kick <- struct{}{}:
	default:
	}
}

// runWarmer encodes the latest snapshot's state after each kick until stopped.
func (m *Master) runWarmer(stopped <-chan struct{}) {
	for {
		select {
		case <-m.warm.kick:
		case <-stopped:
			return
		}
		m.encoders.acquire()
		_ = m.snap.Load().WriteState(io.Discard, m.cfg.Build, m.flags(), m.cfg.Cluster)
		m.encoders.release()
	}
}
