package batch

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// worker runs tasks on an executor: it owns the executor's shuffle files
// (under dir) and its cache of partitions.
type worker struct {
	id   string // executor id
	addr string // host:port of this executor's HTTP server
	dir  string // shuffle files live in dir/shuffle
	hc   *http.Client

	mu    sync.Mutex
	cache map[cacheKey][]Record
}

type cacheKey struct{ dataset, partition int }

func newWorker(id, addr, dir string) *worker {
	return &worker{id: id, addr: addr, dir: dir, hc: &http.Client{}, cache: map[cacheKey][]Record{}}
}

// fetchError is a shuffle read that failed; it becomes a FetchFailure.
type fetchError struct{ ff FetchFailure }

func (e *fetchError) Error() string { return e.ff.Reason }

// run executes one task and says how it went. It never panics on a user
// function's panic: that is the task's failure.
func (w *worker) run(ctx context.Context, spec TaskSpec) (res TaskResult) {
	defer func() {
		if p := recover(); p != nil {
			res = TaskResult{Error: fmt.Sprintf("task %s panicked: %v", spec.ID, p)}
		}
	}()
	res, err := w.runTask(ctx, spec)
	var fe *fetchError
	switch {
	case errors.As(err, &fe):
		return TaskResult{FetchFailed: &fe.ff}
	case err != nil:
		return TaskResult{Error: fmt.Sprintf("task %s: %v", spec.ID, err)}
	}
	return res
}

func (w *worker) runTask(ctx context.Context, spec TaskSpec) (TaskResult, error) {
	var res TaskResult
	sink, err := w.newSink(spec)
	if err != nil {
		return res, err
	}
	// Start from the last cache point this executor holds, if any.
	start := 0
	var cachedStart []Record
	w.mu.Lock()
	for i := len(spec.Ops) - 1; i >= 0; i-- {
		op := spec.Ops[i]
		if op.Kind != opCache {
			continue
		}
		if rs, ok := w.cache[cacheKey{op.Dataset, spec.Partition}]; ok {
			start, cachedStart = i+1, rs
			break
		}
	}
	w.mu.Unlock()
	// Chain the ops back to front, each emitting into the next.
	emit := func(r Record) { res.RecordsOut++; sink.add(r) }
	type keep struct {
		dataset int
		recs    *[]Record
	}
	var caches []keep
	for i := len(spec.Ops) - 1; i >= start; i-- {
		op, next := spec.Ops[i], emit
		switch op.Kind {
		case opFlatMap:
			fn, err := lookupFlatMap(op.Fn, op.Arg)
			if err != nil {
				return res, err
			}
			emit = func(r Record) { fn(r, next) }
		case opCache:
			recs := new([]Record)
			caches = append(caches, keep{op.Dataset, recs})
			emit = func(r Record) { *recs = append(*recs, r); next(r) }
		default:
			return res, fmt.Errorf("unknown op kind %q", op.Kind)
		}
	}
	in := func(r Record) { res.RecordsIn++; emit(r) }
	if start > 0 {
		for _, r := range cachedStart {
			in(r)
		}
	} else if err := w.readSource(ctx, spec, in); err != nil {
		return res, err
	}
	out, err := sink.finish(ctx)
	if err != nil {
		return res, err
	}
	res.Records = out
	w.mu.Lock()
	for _, c := range caches {
		w.cache[cacheKey{c.dataset, spec.Partition}] = *c.recs
		res.Cached = append(res.Cached, c.dataset)
	}
	w.mu.Unlock()
	return res, nil
}

// cachedPartitions lists what this executor holds in memory.
func (w *worker) cachedPartitions() map[int][]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[int][]int{}
	for k := range w.cache {
		out[k.dataset] = append(out[k.dataset], k.partition)
	}
	return out
}

func (w *worker) readSource(ctx context.Context, spec TaskSpec, emit func(Record)) error {
	switch spec.Source.Kind {
	case sourceText:
		return readSplit(spec.Source.Path, spec.Source.Offset, spec.Source.Length, func(line string) {
			emit(Record{Value: line})
		})
	case sourceShuffle:
		return w.readShuffles(ctx, spec, emit)
	}
	return fmt.Errorf("unknown source kind %q", spec.Source.Kind)
}

// readSplit reads the lines of path that start in [off, off+length): a
// split that does not begin the file skips its first (partial) line, and
// every split reads past its end to finish its last line, as Hadoop's text
// input does, so that each line is read by exactly one split.
func readSplit(path string, off, length int64, line func(string)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	start := off
	if off > 0 {
		// Begin one byte early: if that byte is a newline, the split
		// begins at a line start; otherwise skip to the next line.
		start = off - 1
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return err
	}
	r := bufio.NewReaderSize(f, 1<<16)
	pos := start
	if off > 0 {
		skipped, err := r.ReadString('\n')
		pos += int64(len(skipped))
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
	end := off + length
	for pos < end {
		s, err := r.ReadString('\n')
		pos += int64(len(s))
		if len(s) > 0 {
			s = strings.TrimSuffix(s, "\n")
			line(strings.TrimSuffix(s, "\r"))
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// readShuffles reads this task's partition from every map output of the
// source's shuffles and applies the source's mode.
func (w *worker) readShuffles(ctx context.Context, spec TaskSpec, emit func(Record)) error {
	src := spec.Source
	sides := make([][]Record, len(src.Shuffles))
	var reduce ReduceFunc
	var combined map[string]string
	if src.Mode == modeReduce {
		fn, err := lookupReduce(src.Reduce, src.Arg)
		if err != nil {
			return err
		}
		reduce, combined = fn, map[string]string{}
	}
	for side, sr := range src.Shuffles {
		for m, loc := range sr.Maps {
			err := w.fetch(ctx, time.Duration(spec.FetchTimeoutMS)*time.Millisecond, sr.Shuffle, m, spec.Partition, loc, func(r Record) error {
				if reduce != nil {
					if v, ok := combined[r.Key]; ok {
						combined[r.Key] = reduce(v, r.Value)
					} else {
						combined[r.Key] = r.Value
					}
					return nil
				}
				sides[side] = append(sides[side], r)
				return nil
			})
			if err != nil {
				return err
			}
		}
	}
	switch src.Mode {
	case modeReduce:
		out := make([]Record, 0, len(combined))
		for k, v := range combined {
			out = append(out, Record{Key: k, Value: v})
		}
		sortRecords(out)
		for _, r := range out {
			emit(r)
		}
	case modeSort:
		sortRecords(sides[0])
		for _, r := range sides[0] {
			emit(r)
		}
	case modeJoin:
		if len(sides) != 2 {
			return fmt.Errorf("a join reads two shuffles, not %d", len(sides))
		}
		right := map[string][]string{}
		for _, r := range sides[1] {
			right[r.Key] = append(right[r.Key], r.Value)
		}
		sortRecords(sides[0])
		for _, l := range sides[0] {
			for _, rv := range right[l.Key] {
				emit(Record{Key: l.Key, Value: l.Value + "\t" + rv})
			}
		}
	default:
		return fmt.Errorf("unknown shuffle mode %q", src.Mode)
	}
	return nil
}

// fetch reads one block (map m's bucket for partition reduce of shuffle s):
// from the local disk when this executor wrote it, else over HTTP from the
// executor that did. An executor that leaves the answer or its next bytes
// waiting longer than timeout (when not 0) is gone.
func (w *worker) fetch(ctx context.Context, timeout time.Duration, s, m, reduce int, loc MapLoc, each func(Record) error) error {
	fail := func(gone bool, format string, args ...any) error {
		return &fetchError{FetchFailure{Shuffle: s, Map: m, Executor: loc.Executor, Gone: gone,
			Reason: fmt.Sprintf("shuffle %d map %d from %s: ", s, m, loc.Executor) + fmt.Sprintf(format, args...)}}
	}
	var body io.Reader
	if loc.Executor == w.id && !loc.Service {
		f, err := os.Open(w.blockPath(s, m, reduce))
		if err != nil {
			return fail(false, "%v", err)
		}
		defer f.Close()
		body = f
	} else {
		url := fmt.Sprintf("http://%s/shuffle/%d/%d/%d", loc.Addr, s, m, reduce)
		if loc.Service {
			url += "?executor=" + neturl.QueryEscape(loc.Executor)
		}
		fctx, cancel := context.WithCancel(ctx)
		defer cancel()
		silent := newSilenceTimer(timeout, cancel)
		defer silent.stop()
		req, err := http.NewRequestWithContext(fctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		resp, err := w.hc.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if silent.fired() {
				return fail(true, "no answer within %s", timeout)
			}
			return fail(true, "%v", err)
		}
		silent.reset()
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
			return fail(false, "%s: %s", resp.Status, strings.TrimSpace(string(msg)))
		}
		body = silentReader{resp.Body, silent}
		if err := readRecords(bufio.NewReaderSize(body, 1<<16), each); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if silent.fired() {
				return fail(true, "no bytes for %s", timeout)
			}
			return fail(false, "reading: %v", err)
		}
		return nil
	}
	if err := readRecords(bufio.NewReaderSize(body, 1<<16), each); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fail(false, "reading: %v", err)
	}
	return nil
}

// silenceTimer calls cancel once it has not been reset for its timeout
// (never when the timeout is 0).
type silenceTimer struct {
	timeout time.Duration
	t       *time.Timer
	mu      sync.Mutex
	done    bool
}

func newSilenceTimer(timeout time.Duration, cancel func()) *silenceTimer {
	s := &silenceTimer{timeout: timeout}
	if timeout > 0 {
		s.t = time.AfterFunc(timeout, func() {
			s.mu.Lock()
			s.done = true
			s.mu.Unlock()
			cancel()
		})
	}
	return s
}

func (s *silenceTimer) reset() {
	if s.t != nil {
		s.t.Reset(s.timeout)
	}
}

func (s *silenceTimer) stop() {
	if s.t != nil {
		s.t.Stop()
	}
}

func (s *silenceTimer) fired() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.done
}

// silentReader resets its timer at every read that brings bytes.
type silentReader struct {
	r io.Reader
	s *silenceTimer
}

func (r silentReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	if n > 0 {
		r.s.reset()
	}
	return n, err
}

func (w *worker) shuffleDir(s, m int) string {
	return filepath.Join(w.dir, "shuffle", strconv.Itoa(s), strconv.Itoa(m))
}

func (w *worker) blockPath(s, m, reduce int) string {
	return blockPath(w.dir, s, m, reduce)
}

// sink collects a task's output.
type sink interface {
	add(Record)
	finish(ctx context.Context) ([]Record, error)
}

func (w *worker) newSink(spec TaskSpec) (sink, error) {
	s := spec.Sink
	switch s.Kind {
	case sinkCollect:
		return &collectSink{}, nil
	case sinkSample:
		if s.Size < 1 {
			return nil, fmt.Errorf("sample sink of %d records", s.Size)
		}
		return &sampleSink{size: s.Size, rng: rand.New(rand.NewPCG(uint64(spec.Stage), uint64(spec.Partition)))}, nil
	case sinkText:
		if s.Dir == "" {
			return nil, errors.New("text sink without a directory")
		}
		return &textSink{dir: s.Dir, partition: spec.Partition, format: s.Format, attempt: spec.ID}, nil
	case sinkShuffle:
		if s.Partitioner.N < 1 {
			return nil, fmt.Errorf("shuffle sink with %d partitions", s.Partitioner.N)
		}
		sh := &shuffleSink{w: w, spec: s, buckets: make([][]Record, s.Partitioner.N)}
		if s.Combine != "" {
			fn, err := lookupReduce(s.Combine, s.CombineArg)
			if err != nil {
				return nil, err
			}
			sh.combine = fn
			sh.combined = make([]map[string]string, s.Partitioner.N)
			for i := range sh.combined {
				sh.combined[i] = map[string]string{}
			}
		}
		return sh, nil
	}
	return nil, fmt.Errorf("unknown sink kind %q", s.Kind)
}

type collectSink struct{ recs []Record }

func (c *collectSink) add(r Record) { c.recs = append(c.recs, r) }

func (c *collectSink) finish(context.Context) ([]Record, error) { return c.recs, nil }

// sampleSink keeps a uniform sample of size records (reservoir sampling),
// seeded by the task so that a rerun samples the same.
type sampleSink struct {
	size int
	seen int
	rng  *rand.Rand
	recs []Record
}

func (s *sampleSink) add(r Record) {
	s.seen++
	if len(s.recs) < s.size {
		s.recs = append(s.recs, r)
		return
	}
	if i := s.rng.IntN(s.seen); i < s.size {
		s.recs[i] = r
	}
}

func (s *sampleSink) finish(context.Context) ([]Record, error) { return s.recs, nil }

// textSink writes a part file: into a temporary name first, renamed into
// place when complete, so that a part-NNNNN file is always whole and a
// retried task simply replaces it.
type textSink struct {
	dir       string
	partition int
	format    string
	attempt   string
	recs      []Record
}

func (t *textSink) add(r Record) { t.recs = append(t.recs, r) }

func (t *textSink) finish(context.Context) ([]Record, error) {
	tmpDir := filepath.Join(t.dir, "_temporary")
	if err := os.MkdirAll(tmpDir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.CreateTemp(tmpDir, fmt.Sprintf("part-%05d.%s.*", t.partition, t.attempt))
	if err != nil {
		return nil, err
	}
	defer os.Remove(f.Name())
	bw := bufio.NewWriterSize(f, 1<<16)
	for _, r := range t.recs {
		switch t.format {
		case FormatKeys:
			bw.WriteString(r.Key)
		case FormatValues:
			bw.WriteString(r.Value)
		default:
			bw.WriteString(r.Key)
			bw.WriteByte('\t')
			bw.WriteString(r.Value)
		}
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return nil, os.Rename(f.Name(), filepath.Join(t.dir, fmt.Sprintf("part-%05d", t.partition)))
}

// shuffleSink partitions a map task's output into buckets, combining
// values by key when the shuffle has a combiner, and writes one file per
// bucket under the executor's shuffle directory.
type shuffleSink struct {
	w        *worker
	spec     Sink
	buckets  [][]Record
	combine  ReduceFunc
	combined []map[string]string
}

func (s *shuffleSink) add(r Record) {
	p := s.spec.Partitioner.partition(r.Key)
	if s.combine != nil {
		m := s.combined[p]
		if v, ok := m[r.Key]; ok {
			m[r.Key] = s.combine(v, r.Value)
		} else {
			m[r.Key] = r.Value
		}
		return
	}
	s.buckets[p] = append(s.buckets[p], r)
}

func (s *shuffleSink) finish(context.Context) ([]Record, error) {
	final := s.w.shuffleDir(s.spec.Shuffle, s.spec.Map)
	if err := os.MkdirAll(filepath.Dir(final), 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(filepath.Dir(final), strconv.Itoa(s.spec.Map)+".tmp")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	for p := range s.buckets {
		recs := s.buckets[p]
		if s.combine != nil {
			for k, v := range s.combined[p] {
				recs = append(recs, Record{Key: k, Value: v})
			}
		}
		if err := writeBlock(filepath.Join(tmp, strconv.Itoa(p)), recs); err != nil {
			return nil, err
		}
	}
	// A map task run again on this executor replaces its earlier output.
	if err := os.RemoveAll(final); err != nil {
		return nil, err
	}
	return nil, os.Rename(tmp, final)
}

func writeBlock(path string, recs []Record) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<16)
	for _, r := range recs {
		if err := writeRecord(bw, r); err != nil {
			f.Close()
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
