package agent

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
)

// logQueueCapacity bounds the log records waiting for the writer.
const logQueueCapacity = 4096

// asyncLog lets the agent log without waiting on the log's writer, which
// may be a slow pipe, or a lock that a thousand other goroutines want: the
// loop (and the core it steps) must not wait in that line. Records wait in
// a bounded queue for one writer goroutine, in order. A writer that falls
// behind loses records, never the loop's time: when the queue is full a
// record is dropped and counted, and the writer says how many once it
// catches up.
//
// Before start and after stop, records are written at once.
type asyncLog struct {
	queue    atomic.Pointer[chan logItem]
	dropped  atomic.Int64
	stopping chan struct{}
	done     chan struct{}
}

type logItem struct {
	h slog.Handler
	r slog.Record
}

// handler wraps h so that its records go through the queue.
func (q *asyncLog) handler(h slog.Handler) slog.Handler { return asyncHandler{q: q, h: h} }

// start runs the writer. It is called once.
func (q *asyncLog) start() {
	queue := make(chan logItem, logQueueCapacity)
	q.stopping, q.done = make(chan struct{}), make(chan struct{})
	go q.write(queue)
	q.queue.Store(&queue)
}

// stop writes what is queued and ends the writer.
func (q *asyncLog) stop() {
	if q.queue.Swap(nil) == nil {
		return
	}
	close(q.stopping)
	<-q.done
}

func (q *asyncLog) write(queue chan logItem) {
	defer close(q.done)
	var last logItem
	tell := func() {
		if n := q.dropped.Swap(0); n > 0 && last.h != nil {
			r := slog.NewRecord(last.r.Time, slog.LevelWarn, fmt.Sprintf("dropped %d log records: the log writer could not keep up", n), 0)
			_ = last.h.Handle(context.Background(), r)
		}
	}
	defer tell()
	handle := func(it logItem) {
		_ = it.h.Handle(context.Background(), it.r)
		last = it
		tell()
	}
	for {
		select {
		case it := <-queue:
			handle(it)
		case <-q.stopping:
			for {
				select {
				case it := <-queue:
					handle(it)
				default:
					return
				}
			}
		}
	}
}

type asyncHandler struct {
	q *asyncLog
	h slog.Handler
}

func (a asyncHandler) Enabled(ctx context.Context, l slog.Level) bool { return a.h.Enabled(ctx, l) }

func (a asyncHandler) Handle(ctx context.Context, r slog.Record) error {
	queue := a.q.queue.Load()
	if queue == nil {
		return a.h.Handle(ctx, r)
	}
	select {
	case *queue <- logItem{h: a.h, r: r.Clone()}:
	default:
		a.q.dropped.Add(1)
	}
	return nil
}

func (a asyncHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return asyncHandler{q: a.q, h: a.h.WithAttrs(attrs)}
}

func (a asyncHandler) WithGroup(name string) slog.Handler {
	return asyncHandler{q: a.q, h: a.h.WithGroup(name)}
}
