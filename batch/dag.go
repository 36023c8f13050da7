package batch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gomesos/gomesos/batch/locality"
)

// shuffleDep is one shuffle: the map side (parent's partitions, computed
// by stage), the partitioner, and where each map output is.
type shuffleDep struct {
	id      int
	parent  *Dataset
	part    Partitioner
	combine string
	combArg string
	stage   *stage
	// outputs[m] is the executor holding map output m, "" when missing.
	outputs []string
}

// stage is a pipeline of narrow steps from a root (a text input or a
// shuffle read) to a dataset, run as one task per partition of the root.
type stage struct {
	id     int
	name   string
	root   *Dataset
	ops    []Op
	parts  int
	splits []split
	deps   []*shuffleDep // the shuffles the root reads
	out    *shuffleDep   // the shuffle a map stage writes; nil for results
	// Progress, for events and the web page.
	state    string
	done     int
	launched int
}

type split struct {
	path     string
	off, len int64
	// prefs are the places (agent ids or hostnames) where the file is
	// local.
	prefs []string
}

type jobInfo struct {
	id      int
	name    string
	state   string
	err     string
	stages  []int
	started time.Time
	ended   time.Time
}

// taskReq is a task waiting for, or running on, an executor.
type taskReq struct {
	st        *stage
	partition int
	sink      func() Sink
	prefer    string // executor id
	excluded  map[string]bool
	failures  int
	attempts  int
	lastErr   string
	since     time.Time
	// set is the stage round's delay-scheduling state, shared by its
	// tasks; level is where the last attempt ran.
	set   *locality.TaskSet
	level locality.Level
	done  chan<- taskOutcome
}

// Preferred is the places the task's input split is local to (none for a
// task that reads a shuffle).
func (r *taskReq) Preferred() []string {
	if r.st.root.kind == dsText && r.partition < len(r.st.splits) {
		return r.st.splits[r.partition].prefs
	}
	return nil
}

// Set is the task's delay-scheduling set.
func (r *taskReq) Set() *locality.TaskSet { return r.set }

type taskOutcome struct {
	r        *taskReq
	executor string
	agent    string
	res      TaskResult
	ff       *FetchFailure
	err      error
}

var errCancelled = errors.New("task cancelled: its stage failed")

// datasetShuffles returns the shuffles a shuffled dataset reads, made the
// first time it is planned. Called with a.mu held.
func (a *App) datasetShuffles(ds *Dataset) ([]*shuffleDep, error) {
	if ds.kind != dsShuffled {
		return nil, nil
	}
	if a.depsOf == nil {
		a.depsOf = map[int][]*shuffleDep{}
	}
	if deps, ok := a.depsOf[ds.id]; ok {
		return deps, nil
	}
	var deps []*shuffleDep
	for _, p := range ds.parents {
		a.nextShuffle++
		dep := &shuffleDep{id: a.nextShuffle, parent: p, part: ds.part, combine: ds.combine, combArg: ds.combArg}
		st, err := a.newStage(p, dep)
		if err != nil {
			return nil, err
		}
		dep.stage = st
		dep.outputs = make([]string, st.parts)
		a.shuffles[dep.id] = dep
		deps = append(deps, dep)
	}
	a.depsOf[ds.id] = deps
	return deps, nil
}

// newStage plans the stage that computes ds (writing to out, when it is a
// map stage). Called with a.mu held.
func (a *App) newStage(ds *Dataset, out *shuffleDep) (*stage, error) {
	root, ops := ds.pipeline()
	st := &stage{name: ds.name, root: root, ops: ops, out: out, state: "waiting"}
	switch root.kind {
	case dsText:
		splits, err := listSplits(root.dir, root.splitSize, root.locate)
		if err != nil {
			return nil, err
		}
		st.splits, st.parts = splits, len(splits)
	case dsShuffled:
		deps, err := a.datasetShuffles(root)
		if err != nil {
			return nil, err
		}
		st.deps, st.parts = deps, root.part.N
	}
	// Numbered after the stages it depends on, as they run.
	a.nextStage++
	st.id = a.nextStage
	a.stages = append(a.stages, st)
	return st, nil
}

// LocationsFile is the file of an input directory that says where its files
// are local: one line per file, "<file name><TAB><place>[,<place>...]",
// each place an agent id or a hostname. Blank lines and lines starting
// with "#" are skipped.
const LocationsFile = "_locations"

// readLocations reads dir's LocationsFile; none is no preferences.
func readLocations(dir string) (func(string) []string, error) {
	data, err := os.ReadFile(filepath.Join(dir, LocationsFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the input's locations: %w", err)
	}
	byName := map[string][]string{}
	for n, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, places, ok := strings.Cut(line, "\t")
		if !ok || name == "" || strings.TrimSpace(places) == "" {
			return nil, fmt.Errorf("%s line %d: want \"<file name><TAB><place>[,<place>...]\", not %q", filepath.Join(dir, LocationsFile), n+1, line)
		}
		for _, p := range strings.Split(places, ",") {
			if p = strings.TrimSpace(p); p != "" {
				byName[name] = append(byName[name], p)
			}
		}
	}
	return func(path string) []string { return byName[filepath.Base(path)] }, nil
}

// listSplits cuts the files of dir into splits of at most size bytes,
// each preferring the places locate (or dir's LocationsFile) gives its file.
func listSplits(dir string, size int64, locate func(string) []string) ([]split, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("reading the input: %w", err)
	}
	if locate == nil {
		if locate, err = readLocations(dir); err != nil {
			return nil, err
		}
	}
	var out []split
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") || strings.HasPrefix(e.Name(), "_") {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, fmt.Errorf("reading the input: %w", err)
		}
		if !info.Mode().IsRegular() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		var prefs []string
		if locate != nil {
			prefs = locate(path)
		}
		for off := int64(0); off < info.Size(); off += size {
			out = append(out, split{path: path, off: off, len: min(size, info.Size()-off), prefs: prefs})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("the input directory %s has no data", dir)
	}
	return out, nil
}

// SaveAsText computes ds and writes it as text files part-00000,
// part-00001, ... into dir (which must not exist yet, or be empty), one per
// partition, then an empty _SUCCESS file. format is FormatKV, FormatKeys or
// FormatValues. The path must be one every agent can write.
func (a *App) SaveAsText(ctx context.Context, ds *Dataset, dir, format string) error {
	switch format {
	case FormatKV, FormatKeys, FormatValues:
	default:
		return fmt.Errorf("batch: unknown output format %q", format)
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("batch: the output directory %s exists and is not empty", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	sink := Sink{Kind: sinkText, Dir: dir, Format: format}
	err := a.runJob(ctx, "save "+ds.name, ds, func(int) Sink { return sink }, nil)
	if err != nil {
		return err
	}
	os.RemoveAll(filepath.Join(dir, "_temporary"))
	return os.WriteFile(filepath.Join(dir, "_SUCCESS"), nil, 0o644)
}

// Collect computes ds and returns its records, partition after partition.
func (a *App) Collect(ctx context.Context, ds *Dataset) ([]Record, error) {
	var parts [][]Record
	err := a.runJob(ctx, "collect "+ds.name, ds, func(int) Sink { return Sink{Kind: sinkCollect} }, func(n int) {
		parts = make([][]Record, n)
	}, func(p int, res TaskResult) { parts[p] = res.Records })
	if err != nil {
		return nil, err
	}
	var out []Record
	for _, p := range parts {
		out = append(out, p...)
	}
	return out, nil
}

// runJob runs the stages that compute ds, the shuffles it needs first, the
// result stage last. onResult receives each result partition's outcome.
func (a *App) runJob(ctx context.Context, name string, ds *Dataset, sinkFor func(p int) Sink, setup func(parts int), onResult ...func(p int, res TaskResult)) error {
	if err := ds.checkFuncs(); err != nil {
		return fmt.Errorf("batch: %w", err)
	}
	a.jobMu.Lock()
	defer a.jobMu.Unlock()
	a.mu.Lock()
	a.nextJob++
	job := &jobInfo{id: a.nextJob, name: name, state: "running", started: time.Now()}
	a.jobs = append(a.jobs, job)
	st, err := a.newStage(ds, nil)
	a.mu.Unlock()
	if err != nil {
		a.endJob(job, err)
		return fmt.Errorf("batch: %w", err)
	}
	if setup != nil {
		setup(st.parts)
	}
	a.emit(Event{Kind: JobStarted, Job: job.id, StageName: name})
	finished := make([]bool, st.parts)
	err = a.runStage(ctx, job, st, sinkFor, func() []int {
		var out []int
		for p, ok := range finished {
			if !ok {
				out = append(out, p)
			}
		}
		return out
	}, func(p int, exec string, res TaskResult) {
		finished[p] = true
		for _, f := range onResult {
			f(p, res)
		}
	})
	a.endJob(job, err)
	return err
}

func (a *App) endJob(job *jobInfo, err error) {
	a.mu.Lock()
	job.state, job.ended = "done", time.Now()
	if err != nil {
		job.state, job.err = "failed", err.Error()
	}
	a.mu.Unlock()
	a.emit(Event{Kind: JobEnded, Job: job.id, StageName: job.name, Err: err})
}

// computeShuffle makes sure every map output of dep exists, running only
// the map tasks whose outputs are missing (never run, or lost with their
// executor, or found missing by a reduce task).
func (a *App) computeShuffle(ctx context.Context, job *jobInfo, dep *shuffleDep) error {
	if dep.part.Kind == partRange {
		a.mu.Lock()
		need := dep.part.Bounds == nil
		a.mu.Unlock()
		if need {
			if err := a.sampleBounds(ctx, job, dep); err != nil {
				return err
			}
		}
	}
	st := dep.stage
	return a.runStage(ctx, job, st, func(p int) Sink {
		return Sink{Kind: sinkShuffle, Shuffle: dep.id, Map: p, Partitioner: dep.part, Combine: dep.combine, CombineArg: dep.combArg}
	}, func() []int {
		var out []int
		for m, ex := range dep.outputs {
			if ex == "" {
				out = append(out, m)
			}
		}
		return out
	}, func(p int, exec string, _ TaskResult) { dep.outputs[p] = exec })
}

// sampleBounds runs a job over the map side of a range shuffle that
// samples its keys, and cuts the key space into dep.part.N ranges of about
// equal size.
func (a *App) sampleBounds(ctx context.Context, job *jobInfo, dep *shuffleDep) error {
	a.mu.Lock()
	st, err := a.newStage(dep.parent, nil)
	a.mu.Unlock()
	if err != nil {
		return err
	}
	st.name = "sample " + st.name
	n := dep.part.N
	perPartition := int(math.Ceil(3 * math.Min(20*float64(n), 1e6) / float64(st.parts)))
	var keys []string
	finished := make([]bool, st.parts)
	err = a.runStage(ctx, job, st, func(int) Sink { return Sink{Kind: sinkSample, Size: perPartition} }, func() []int {
		var out []int
		for p, ok := range finished {
			if !ok {
				out = append(out, p)
			}
		}
		return out
	}, func(p int, _ string, res TaskResult) {
		finished[p] = true
		for _, r := range res.Records {
			keys = append(keys, r.Key)
		}
	})
	if err != nil {
		return err
	}
	sort.Strings(keys)
	bounds := []string{}
	for i := 1; i < n && len(keys) > 0; i++ {
		b := keys[i*len(keys)/n]
		if len(bounds) == 0 || b > bounds[len(bounds)-1] {
			bounds = append(bounds, b)
		}
	}
	a.mu.Lock()
	dep.part.Bounds = bounds
	a.mu.Unlock()
	return nil
}

// runStage runs the missing partitions of st until none is missing:
// first the shuffles it reads, then its tasks; when a task finds a map
// output gone, that output is recomputed (only it) and the stage goes on.
func (a *App) runStage(ctx context.Context, job *jobInfo, st *stage, sinkFor func(p int) Sink, missing func() []int, onResult func(p int, exec string, res TaskResult)) error {
	fetchRounds := 0
	for {
		for _, dep := range st.deps {
			if err := a.computeShuffle(ctx, job, dep); err != nil {
				return err
			}
		}
		a.mu.Lock()
		parts := missing()
		a.mu.Unlock()
		if len(parts) == 0 {
			return nil
		}
		if fetchRounds >= maxStageAttempts {
			return a.failStage(job, st, fmt.Errorf("stage %d (%s): map outputs were lost %d times in a row", st.id, st.name, fetchRounds))
		}
		a.mu.Lock()
		st.state = "running"
		job.stages = appendOnce(job.stages, st.id)
		done := st.parts - len(parts)
		st.done = done
		a.mu.Unlock()
		a.emit(Event{Kind: StageStarted, Job: job.id, Stage: st.id, StageName: st.name, Done: done, Total: st.parts})

		outcomes := make(chan taskOutcome, len(parts))
		reqs := make([]*taskReq, 0, len(parts))
		set := locality.NewTaskSet(a.cfg.LocalityWait, time.Now())
		for _, p := range parts {
			p := p
			reqs = append(reqs, &taskReq{st: st, partition: p, sink: func() Sink { return sinkFor(p) }, done: outcomes, excluded: map[string]bool{}, set: set})
		}
		a.submit(reqs)
		var failErr error
		fetchFailed := false
		for range reqs {
			var o taskOutcome
			select {
			case o = <-outcomes:
			case <-ctx.Done():
				a.cancel(reqs)
				o = <-outcomes
				if failErr == nil {
					failErr = ctx.Err()
				}
			}
			switch {
			case o.err != nil:
				if failErr == nil {
					failErr = o.err
					a.cancel(reqs)
				}
			case o.ff != nil:
				fetchFailed = true
				a.outputLost(*o.ff)
			default:
				a.mu.Lock()
				onResult(o.r.partition, o.executor, o.res)
				st.done++
				done := st.done
				a.mu.Unlock()
				a.emit(Event{Kind: TaskEnded, Job: job.id, Stage: st.id, StageName: st.name, Partition: o.r.partition, Done: done, Total: st.parts, Executor: o.executor, Agent: o.agent, Locality: o.r.level.String()})
			}
		}
		if failErr != nil {
			return a.failStage(job, st, failErr)
		}
		if fetchFailed {
			fetchRounds++
			continue
		}
		a.mu.Lock()
		complete := len(missing()) == 0
		if complete {
			st.state = "done"
		}
		a.mu.Unlock()
		if complete {
			a.emit(Event{Kind: StageEnded, Job: job.id, Stage: st.id, StageName: st.name, Done: st.parts, Total: st.parts})
		}
	}
}

func appendOnce(xs []int, x int) []int {
	for _, y := range xs {
		if y == x {
			return xs
		}
	}
	return append(xs, x)
}

func (a *App) failStage(job *jobInfo, st *stage, err error) error {
	a.mu.Lock()
	st.state = "failed"
	a.mu.Unlock()
	a.emit(Event{Kind: StageEnded, Job: job.id, Stage: st.id, StageName: st.name, Done: st.done, Total: st.parts, Err: err})
	return err
}

// outputLost forgets a map output a reduce task could not read, or every
// output of its executor when the executor did not answer.
func (a *App) outputLost(ff FetchFailure) {
	a.log.Warn("map output lost", "shuffle", ff.Shuffle, "map", ff.Map, "executor", ff.Executor, "reason", ff.Reason)
	if ff.Gone && ff.Executor != "" {
		a.mu.Lock()
		var svc string
		if e, ok := a.execs[ff.Executor]; ok && e.lost && a.served(e) {
			svc = a.serviceOf(e.agentID).id
		}
		a.mu.Unlock()
		if svc != "" {
			// The shuffle service did not answer for a released
			// executor: all it served is lost.
			a.serviceLost(svc, "unreachable for a shuffle fetch: "+ff.Reason)
		}
		a.executorLost(ff.Executor, "unreachable for a shuffle fetch: "+ff.Reason, true)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if dep, ok := a.shuffles[ff.Shuffle]; ok && ff.Map >= 0 && ff.Map < len(dep.outputs) && dep.outputs[ff.Map] == ff.Executor {
		dep.outputs[ff.Map] = ""
	}
}

// submit queues tasks for the dispatcher.
func (a *App) submit(reqs []*taskReq) {
	now := time.Now()
	a.mu.Lock()
	if a.firstSubmit.IsZero() {
		a.firstSubmit = now
	}
	for _, r := range reqs {
		r.since = now
		r.prefer = a.preferredExecutor(r)
		a.pending = append(a.pending, r)
	}
	a.mu.Unlock()
	a.revive()
	a.poke()
}

// preferredExecutor is the executor holding r's cached input, if any.
// Called with a.mu held.
func (a *App) preferredExecutor(r *taskReq) string {
	for i := len(r.st.ops) - 1; i >= 0; i-- {
		if op := r.st.ops[i]; op.Kind == opCache {
			if ex, ok := a.cacheLocs[cacheKey{op.Dataset, r.partition}]; ok {
				return ex
			}
		}
	}
	return ""
}

// cancel takes reqs that have not started off the queue; each ends with
// errCancelled.
func (a *App) cancel(reqs []*taskReq) {
	set := map[*taskReq]bool{}
	for _, r := range reqs {
		set[r] = true
	}
	a.mu.Lock()
	var keep, gone []*taskReq
	for _, r := range a.pending {
		if set[r] {
			gone = append(gone, r)
		} else {
			keep = append(keep, r)
		}
	}
	a.pending = keep
	a.mu.Unlock()
	for _, r := range gone {
		r.done <- taskOutcome{r: r, err: errCancelled}
	}
}

// dispatch hands queued tasks to free executor slots: a task goes to the
// executor holding its cached input, or, when that one is busy for longer
// than the locality wait (or gone), to any other; a task that failed on an
// executor avoids it while others exist.
func (a *App) dispatch(ctx context.Context) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			a.failAll(ctx.Err())
			return
		case <-a.wake:
		case <-tick.C:
		}
		a.mu.Lock()
		if a.fatal != nil {
			err := a.fatal
			a.mu.Unlock()
			a.failAll(err)
			continue
		}
		type start struct {
			r *taskReq
			e *execState
		}
		var starts []start
		now := time.Now()
		if !a.readyToSchedule(now) {
			a.mu.Unlock()
			continue
		}
		ids := make([]string, 0, len(a.execs))
		for id := range a.execs {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		// Every free slot takes the tasks that suit it best before any
		// slot takes a task that would rather run elsewhere.
		for _, anywhere := range []bool{false, true} {
			for _, id := range ids {
				e := a.execs[id]
				for !e.lost && e.addr != "" && e.running < e.slots {
					r := a.pick(e, now, anywhere)
					if r == nil {
						break
					}
					e.running++
					a.running++
					r.attempts++
					r.st.launched++
					starts = append(starts, start{r, e})
				}
			}
		}
		// Whatever asked for executors, waiting tasks make sure offers
		// are not suppressed.
		ramped := a.ramp(now) || len(a.pending) > 0
		idle := a.idleExecutors(now)
		probe := a.toProbe(now)
		a.mu.Unlock()
		for _, s := range starts {
			go a.attempt(ctx, s.r, s.e)
		}
		for _, e := range probe {
			go a.probe(ctx, e)
		}
		for _, e := range idle {
			a.release(e)
		}
		if ramped {
			a.revive()
		}
	}
}

// toProbe picks the registered executors running no task that were not
// pinged for a third of the executor timeout (those running tasks are
// pinged by their calls' watch), marking them as being pinged. Called with
// a.mu held.
func (a *App) toProbe(now time.Time) []*execState {
	var out []*execState
	for _, e := range a.execs {
		if !e.lost && e.addr != "" && e.running == 0 && !e.probing && now.Sub(e.probed) >= a.cfg.ExecutorTimeout/3 {
			e.probing, e.probed = true, now
			out = append(out, e)
		}
	}
	return out
}

// probe pings an idle executor: one that does not answer within the
// executor timeout is lost.
func (a *App) probe(ctx context.Context, e *execState) {
	pctx, cancel := context.WithTimeout(ctx, a.cfg.ExecutorTimeout)
	err := a.ping(pctx, e.addr)
	cancel()
	a.mu.Lock()
	e.probing = false
	a.mu.Unlock()
	if err != nil && ctx.Err() == nil {
		a.executorLost(e.id, fmt.Sprintf("%v within %s: %v", errHung, a.cfg.ExecutorTimeout, err), true)
	}
}

// ramp is dynamic allocation's step: while tasks wait, the target number
// of executors grows by 1, 2, 4, ... every SchedulerBacklogTimeout, never
// beyond the executors the waiting and running tasks fill. It reports
// whether the target grew. Called with a.mu held.
func (a *App) ramp(now time.Time) bool {
	if !a.cfg.DynamicAllocation {
		return false
	}
	live := 0
	for _, e := range a.execs {
		if !e.lost {
			live++
		}
	}
	slots := max(int(a.cfg.ExecutorCores), 1)
	need := (len(a.pending) + a.running + slots - 1) / slots
	if a.target > need {
		a.target = max(need, live)
	}
	if len(a.pending) == 0 {
		a.toAdd, a.nextRamp = 1, time.Time{}
		return false
	}
	if a.nextRamp.IsZero() {
		a.nextRamp = now.Add(a.cfg.SchedulerBacklogTimeout)
		return false
	}
	if now.Before(a.nextRamp) || a.target >= need {
		return false
	}
	a.target = min(a.target+max(a.toAdd, 1), need)
	a.toAdd = max(a.toAdd, 1) * 2
	a.nextRamp = now.Add(a.cfg.SchedulerBacklogTimeout)
	a.log.Info("dynamic allocation: more executors wanted", "target", a.target)
	return true
}

// idleExecutors picks the executors to release: registered, running no
// task for ExecutorIdleTimeout, holding no cached partition, while no task
// waits. Called with a.mu held.
func (a *App) idleExecutors(now time.Time) []*execState {
	if a.cfg.ExecutorIdleTimeout == 0 || len(a.pending) > 0 {
		return nil
	}
	holds := map[string]bool{}
	for _, ex := range a.cacheLocs {
		holds[ex] = true
	}
	var out []*execState
	for _, e := range a.execs {
		if !e.lost && !e.released && e.addr != "" && e.running == 0 && !holds[e.id] && now.Sub(e.idleSince) >= a.cfg.ExecutorIdleTimeout && !a.awaitingService(e) {
			e.released = true
			out = append(out, e)
		}
	}
	return out
}

// release gives an idle executor back: the driver forgets it and kills its
// executor task.
func (a *App) release(e *execState) {
	a.log.Info("releasing an idle executor", "executor", e.id)
	a.executorGone(e.id, fmt.Sprintf("idle for %s", a.cfg.ExecutorIdleTimeout), true, ExecutorReleased)
}

// readyToSchedule reports whether enough executors have registered for
// tasks to start (Config.MinRegisteredRatio). Called with a.mu held.
func (a *App) readyToSchedule(now time.Time) bool {
	if a.ready || a.cfg.MinRegisteredRatio == 0 || a.cfg.CoresMax == 0 {
		return true
	}
	cores := 0.0
	for _, e := range a.execs {
		if !e.lost && e.addr != "" {
			cores += e.cores
		}
	}
	if cores >= a.cfg.MinRegisteredRatio*a.cfg.CoresMax-1e-9 || (!a.firstSubmit.IsZero() && now.Sub(a.firstSubmit) >= a.cfg.MaxRegisteredWait) {
		a.ready = true
	}
	return a.ready
}

// failAll ends every queued task with err.
func (a *App) failAll(err error) {
	a.mu.Lock()
	gone := a.pending
	a.pending = nil
	a.mu.Unlock()
	for _, r := range gone {
		r.done <- taskOutcome{r: r, err: err}
	}
}

// pick takes the best queued task for executor e off the queue: one whose
// cached input e holds, else what delay scheduling picks for e's agent
// (package locality); tasks that prefer other agents only when anywhere is
// set. Called with a.mu held.
func (a *App) pick(e *execState, now time.Time, anywhere bool) *taskReq {
	usable := func(r *taskReq) bool {
		if !r.excluded[e.id] {
			return true
		}
		// Failed here before: only if every live executor failed it.
		for _, o := range a.execs {
			if !o.lost && o.addr != "" && !r.excluded[o.id] {
				return false
			}
		}
		return true
	}
	take := func(i int) *taskReq {
		r := a.pending[i]
		a.pending = append(a.pending[:i], a.pending[i+1:]...)
		return r
	}
	for i, r := range a.pending {
		if r.prefer == e.id && usable(r) {
			r.level = locality.Local
			return take(i)
		}
	}
	// A task whose cached input another live executor holds waits for it
	// up to the locality wait.
	waitsForCache := func(r *taskReq) bool {
		if r.prefer == "" || now.Sub(r.since) >= a.cfg.LocalityWait {
			return false
		}
		p, ok := a.execs[r.prefer]
		return ok && !p.lost
	}
	i, level := locality.Pick(a.pending, e.place(), now, func(r *taskReq) bool { return usable(r) && !waitsForCache(r) })
	if i < 0 || (level == locality.Any && !anywhere) {
		return nil
	}
	r := a.pending[i]
	r.set.Launched(level, now)
	r.level = level
	return take(i)
}

// localityDemand reports whether a waiting task still waits for an agent
// it prefers where the app has no executor: one there would run it.
// Called with a.mu held.
func (a *App) localityDemand(now time.Time) bool {
	for _, r := range a.pending {
		if len(r.Preferred()) == 0 || r.set.Expired(now) {
			continue
		}
		served := false
		for _, e := range a.execs {
			if !e.lost && locality.Prefers(r, e.place()) {
				served = true
				break
			}
		}
		if !served {
			return true
		}
	}
	return false
}

// placeUseful reports whether an executor at p would run a waiting task
// now: one that prefers p or nothing, or whose wait is over. With no task
// waiting, any place will do. Called with a.mu held.
func (a *App) placeUseful(p locality.Place, now time.Time) bool {
	if len(a.pending) == 0 {
		return true
	}
	i, _ := locality.Pick(a.pending, p, now, nil)
	return i >= 0
}

// build makes the spec of r's next attempt, with the current map output
// locations. A missing one is a fetch failure before the task even runs.
func (a *App) build(r *taskReq) (TaskSpec, *FetchFailure) {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := r.st
	spec := TaskSpec{
		ID:        fmt.Sprintf("s%d.p%d.a%d", st.id, r.partition, r.attempts),
		Stage:     st.id,
		Partition: r.partition,
		Ops:       st.ops,
		Sink:      r.sink(),
	}
	switch st.root.kind {
	case dsText:
		sp := st.splits[r.partition]
		spec.Source = Source{Kind: sourceText, Path: sp.path, Offset: sp.off, Length: sp.len}
	case dsShuffled:
		spec.Source = Source{Kind: sourceShuffle, Mode: st.root.mode, Reduce: st.root.reduce, Arg: st.root.rarg}
		for _, dep := range st.deps {
			read := ShuffleRead{Shuffle: dep.id}
			for m, ex := range dep.outputs {
				e, ok := a.execs[ex]
				switch {
				case ok && !e.lost:
					read.Maps = append(read.Maps, MapLoc{Executor: ex, Addr: e.addr})
				case ok && e.released && a.served(e):
					read.Maps = append(read.Maps, MapLoc{Executor: ex, Addr: a.serviceOf(e.agentID).addr, Service: true})
				default:
					return spec, &FetchFailure{Shuffle: dep.id, Map: m, Executor: ex, Reason: fmt.Sprintf("map output %d of shuffle %d is lost", m, dep.id)}
				}
			}
			spec.Source.Shuffles = append(spec.Source.Shuffles, read)
		}
	}
	return spec, nil
}

// attempt runs r on e and decides what comes of it.
func (a *App) attempt(ctx context.Context, r *taskReq, e *execState) {
	res, err := a.post(ctx, r, e)
	a.mu.Lock()
	e.running--
	a.running--
	if e.running == 0 {
		e.idleSince = time.Now()
	}
	a.mu.Unlock()
	defer a.poke()
	var transport *transportError
	switch {
	case errors.As(err, &transport):
		if ctx.Err() != nil {
			r.done <- taskOutcome{r: r, err: ctx.Err()}
			return
		}
		// The executor is gone: not the task's fault, so it runs again
		// elsewhere without counting as a failure.
		a.executorLost(e.id, "unreachable: "+transport.err.Error(), true)
		a.requeue(r)
	case err != nil:
		a.taskFailed(r, e, err.Error())
	case res.FetchFailed != nil:
		r.done <- taskOutcome{r: r, executor: e.id, ff: res.FetchFailed}
	case res.Error != "":
		a.taskFailed(r, e, res.Error)
	default:
		a.mu.Lock()
		e.tasksDone++
		for _, ds := range res.Cached {
			a.cacheLocs[cacheKey{ds, r.partition}] = e.id
		}
		a.mu.Unlock()
		r.done <- taskOutcome{r: r, executor: e.id, agent: e.agentID, res: res}
	}
}

type transportError struct{ err error }

func (e *transportError) Error() string { return e.err.Error() }

// post sends r to e over HTTP and decodes the result. While it waits, it
// pings e: an executor that does not answer within the executor timeout is
// taken for lost (a transportError), however long its task may run.
func (a *App) post(ctx context.Context, r *taskReq, e *execState) (TaskResult, error) {
	var res TaskResult
	spec, ff := a.build(r)
	if ff != nil {
		res.FetchFailed = ff
		return res, nil
	}
	spec.FetchTimeoutMS = a.cfg.ExecutorTimeout.Milliseconds()
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	go a.watch(ctx, e, cancel)
	hung := func(err error) error {
		if cause := context.Cause(ctx); cause != nil && errors.Is(cause, errHung) {
			return &transportError{cause}
		}
		return &transportError{err}
	}
	body, err := json.Marshal(spec)
	if err != nil {
		return res, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+e.addr+"/task", bytes.NewReader(body))
	if err != nil {
		return res, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.hc.Do(req)
	if err != nil {
		return res, hung(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return res, hung(err)
	}
	if resp.StatusCode != http.StatusOK {
		return res, fmt.Errorf("executor %s answered %s: %s", e.id, resp.Status, strings.TrimSpace(string(data)))
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return res, fmt.Errorf("executor %s: decoding the result: %w", e.id, err)
	}
	return res, nil
}

// errHung is the cause of a call to an executor given up for its silence.
var errHung = errors.New("executor did not answer")

// watch pings e every third of the executor timeout until ctx ends, and
// cancels ctx (with errHung) when a ping goes unanswered for the timeout.
func (a *App) watch(ctx context.Context, e *execState, cancel context.CancelCauseFunc) {
	timeout := a.cfg.ExecutorTimeout
	tick := time.NewTicker(timeout / 3)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		pctx, pcancel := context.WithTimeout(ctx, timeout)
		err := a.ping(pctx, e.addr)
		pcancel()
		if err != nil && ctx.Err() == nil {
			cancel(fmt.Errorf("%w within %s: %v", errHung, timeout, err))
			return
		}
	}
}

// ping asks an executor whether it is there.
func (a *App) ping(ctx context.Context, addr string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/ping", nil)
	if err != nil {
		return err
	}
	resp, err := a.hc.Do(req)
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("ping answered %s", resp.Status)
	}
	return nil
}

// executorTransport is the HTTP transport to executors: connecting gives up
// after timeout.
func executorTransport(timeout time.Duration) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext
	return t
}

func (a *App) requeue(r *taskReq) {
	a.mu.Lock()
	r.since = time.Now()
	r.prefer = a.preferredExecutor(r)
	a.pending = append([]*taskReq{r}, a.pending...)
	a.mu.Unlock()
	a.revive()
}

// taskFailed counts a failure of r on e: it runs again, elsewhere if it
// can, until it has failed TaskMaxFailures times.
func (a *App) taskFailed(r *taskReq, e *execState, msg string) {
	r.failures++
	r.lastErr = msg
	r.excluded[e.id] = true
	a.log.Warn("task failed", "stage", r.st.id, "partition", r.partition, "executor", e.id, "failures", r.failures, "err", msg)
	if r.failures >= a.cfg.TaskMaxFailures {
		r.done <- taskOutcome{r: r, err: fmt.Errorf("task %d of stage %d (%s) failed %d times, the last on %s: %s", r.partition, r.st.id, r.st.name, r.failures, e.id, msg)}
		return
	}
	a.requeue(r)
}

// Sample returns a uniform sample of about perPartition records of each
// partition of ds (a job of its own).
func (a *App) Sample(ctx context.Context, ds *Dataset, perPartition int) ([]Record, error) {
	if perPartition < 1 {
		return nil, fmt.Errorf("batch: a sample of %d records", perPartition)
	}
	var parts [][]Record
	err := a.runJob(ctx, "sample "+ds.name, ds, func(int) Sink { return Sink{Kind: sinkSample, Size: perPartition} },
		func(n int) { parts = make([][]Record, n) },
		func(p int, res TaskResult) { parts[p] = res.Records })
	var out []Record
	for _, p := range parts {
		out = append(out, p...)
	}
	return out, err
}
