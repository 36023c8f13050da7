package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// collector is the agent's garbage collector of sandboxes, as Mesos's
// agent has one: the directory of an executor's run that ended (and the
// executor's directory above it), and the directory of a framework that
// left, are removed --gc_delay after they were scheduled. Every
// --disk_watch_interval the disk of the work directory is measured, and
// the longest a directory may stay is cut to
//
//	gc_delay × max(0, 1 − gc_disk_headroom − disk usage),
//
// removing at once every scheduled directory older than that: a full disk
// is cleared down to its headroom, sooner than a week. A launch below a
// scheduled directory (a framework's next task, an executor's next run)
// takes it back first; a launch whose directory is being removed waits
// for the removal to end, so that nothing new is made in a tree that is
// going away.
//
// The schedule lives in memory. What an agent leaves behind when it
// restarts or starts with a new ID is scheduled again at its start, by the
// directories' modification times (a scheduled directory is touched when
// it is scheduled, as Mesos's agent does): see scheduleLeftovers.
type collector struct {
	delay    time.Duration
	headroom float64
	interval time.Duration
	workDir  string
	log      *slog.Logger
	// removed is told of each directory removed (to stop serving it
	// under /files).
	removed func(dir string)
	// usage measures the work directory's disk: the used share, 0 to 1.
	usage func(dir string) (float64, error)

	mu sync.Mutex
	// due is each scheduled directory's removal time.
	due map[string]time.Time
	// removing holds the directories being removed, each with a channel
	// closed when its removal ends.
	removing map[string]chan struct{}
	wake     chan struct{}
	// touch holds the directories scheduled but not yet touched.
	touch []string
	// scanned is closed once the leftovers are scheduled.
	scanned chan struct{}

	succeeded, failed atomic.Uint64
	// maxAge is the longest a directory may stay now (nanoseconds):
	// slave/executor_directory_max_allowed_age_secs.
	maxAge atomic.Int64
}

func newCollector(cfg Config, log *slog.Logger, removed func(string)) *collector {
	g := &collector{
		delay:    cfg.GCDelay,
		headroom: cfg.GCDiskHeadroom,
		interval: cfg.DiskWatchInterval,
		workDir:  cleanOrEmpty(cfg.WorkDir),
		log:      log,
		removed:  removed,
		usage:    diskUsage,
		due:      make(map[string]time.Time),
		removing: make(map[string]chan struct{}),
		wake:     make(chan struct{}, 1),
		scanned:  make(chan struct{}),
	}
	g.maxAge.Store(int64(g.allowedAge(0)))
	return g
}

// cleanOrEmpty is filepath.Clean, but keeps "" (no work directory).
func cleanOrEmpty(p string) string {
	if p == "" {
		return ""
	}
	return filepath.Clean(p)
}

// allowedAge is how long a directory may stay at the given disk usage.
func (g *collector) allowedAge(usage float64) time.Duration {
	return time.Duration(float64(g.delay) * math.Max(0, 1-g.headroom-usage))
}

// schedule schedules dirs for removal --gc_delay from now. The
// collector's goroutine touches each, so that its modification time says
// when (for the next agent, should this one restart first), off the
// agent's loop. A directory already scheduled is scheduled again.
func (g *collector) schedule(dirs []string) {
	now := time.Now()
	g.mu.Lock()
	for _, d := range dirs {
		g.due[d] = now.Add(g.delay)
	}
	g.touch = append(g.touch, dirs...)
	g.mu.Unlock()
	g.poke()
}

// touchScheduled sets the modification time of the directories scheduled
// since the last call.
func (g *collector) touchScheduled() {
	g.mu.Lock()
	dirs := g.touch
	g.touch = nil
	g.mu.Unlock()
	now := time.Now()
	for _, d := range dirs {
		if err := os.Chtimes(d, now, now); err != nil && !errors.Is(err, fs.ErrNotExist) {
			g.log.Debug("touching a directory scheduled for gc", "dir", d, "err", err)
		}
	}
}

// scheduleAt schedules dir for removal --gc_delay after its modification
// time.
func (g *collector) scheduleAt(dir string, mtime time.Time) {
	g.mu.Lock()
	if _, ok := g.due[dir]; !ok {
		g.due[dir] = mtime.Add(g.delay)
	}
	g.mu.Unlock()
	g.poke()
}

// unscheduleFor takes back every scheduled directory that holds dir (or
// is dir), waiting first for a removal of one of them that is under way.
// It looks only at dir's ancestors up to the work directory, so its cost
// does not grow with what is scheduled.
func (g *collector) unscheduleFor(dir string) {
	<-g.scanned
	if g.workDir == "" {
		return
	}
	dir = filepath.Clean(dir)
	for {
		var busy chan struct{}
		g.mu.Lock()
		for p, up := dir, ""; within(g.workDir, p) && p != g.workDir && p != up; p, up = filepath.Dir(p), p {
			if _, ok := g.due[p]; ok {
				delete(g.due, p)
				g.log.Debug("unscheduled from gc", "dir", p)
			}
			if done, ok := g.removing[p]; ok && busy == nil {
				busy = done
			}
		}
		g.mu.Unlock()
		if busy == nil {
			return
		}
		<-busy
	}
}

// within says whether p is root or lies below it.
func within(root, p string) bool {
	if len(p) < len(root) || p[:len(root)] != root {
		return false
	}
	return len(p) == len(root) || p[len(root)] == filepath.Separator
}

func (g *collector) poke() {
	select {
	case g.wake <- struct{}{}:
	default:
	}
}

// pending is gc/path_removals_pending.
func (g *collector) pending() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.due)
}

// run schedules what earlier agents left (scheduleLeftovers), then
// removes directories as they fall due and watches the disk, until ctx
// ends. No launch takes its directories back (unscheduleFor) before the
// leftovers are scheduled, so a new sandbox is never taken for one.
func (g *collector) run(ctx context.Context, agentID string, keep map[string]bool) {
	g.scheduleLeftovers(agentID, keep)
	close(g.scanned)
	g.checkDisk()
	watch := time.NewTicker(g.interval)
	defer watch.Stop()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		g.touchScheduled()
		now := time.Now()
		g.removeDue(now, 0)
		timer.Reset(g.untilNext(now))
		select {
		case <-ctx.Done():
			return
		case <-g.wake:
		case <-timer.C:
		case <-watch.C:
			g.checkDisk()
		}
	}
}

// untilNext is the time until the next removal (an hour when none is
// scheduled; a schedule wakes the loop).
func (g *collector) untilNext(now time.Time) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	next := time.Hour
	for _, t := range g.due {
		if d := t.Sub(now); d < next {
			next = d
		}
	}
	return max(next, 0)
}

// checkDisk measures the work directory's disk, sets the allowed age and
// removes what is older than it.
func (g *collector) checkDisk() {
	usage, err := g.usage(g.workDir)
	if err != nil {
		g.log.Warn("measuring the work directory's disk for gc", "dir", g.workDir, "err", err)
		return
	}
	age := g.allowedAge(usage)
	g.maxAge.Store(int64(age))
	g.log.Debug("disk usage of the work directory", "usage_percent", math.Round(usage*10000)/100, "max_allowed_age", age)
	// Each directory was scheduled gc_delay ahead: the ones at least age
	// old are due within gc_delay - age.
	g.removeDue(time.Now(), g.delay-age)
}

// removeDue removes the directories due within ahead of now, the
// earliest first.
func (g *collector) removeDue(now time.Time, ahead time.Duration) {
	g.mu.Lock()
	var dirs []string
	for d, t := range g.due {
		if !t.After(now.Add(ahead)) {
			dirs = append(dirs, d)
		}
	}
	sort.Slice(dirs, func(i, j int) bool { return g.due[dirs[i]].Before(g.due[dirs[j]]) })
	done := make(chan struct{})
	for _, d := range dirs {
		delete(g.due, d)
		g.removing[d] = done
	}
	g.mu.Unlock()
	if len(dirs) == 0 {
		return
	}
	for _, d := range dirs {
		if err := removeTree(d); err != nil {
			g.failed.Add(1)
			g.log.Warn("gc: removing a directory", "dir", d, "err", err)
			continue
		}
		g.succeeded.Add(1)
		g.log.Info("gc: removed a directory", "dir", d)
		if g.removed != nil {
			g.removed(d)
		}
	}
	g.mu.Lock()
	for _, d := range dirs {
		delete(g.removing, d)
	}
	g.mu.Unlock()
	close(done)
}

// removeTree removes dir and everything below it, first unmounting what
// is mounted below it (a persistent volume a container left behind), so
// that the removal cannot reach into a mounted filesystem; when an
// unmount fails nothing is removed. It goes on past entries it cannot
// remove, removing what it can, and returns the first error.
func removeTree(dir string) error {
	if err := unmountBelow(dir); err != nil {
		return err
	}
	return os.RemoveAll(dir)
}

// scheduleLeftovers schedules, by their modification times, what lies in
// the work directory without an agent to look after it: the directories
// of other agents (an agent that starts with a new ID leaves its old one
// behind) and, in this agent's own directory, the runs of executors that
// are not running (keep holds the IDs of live containers, which name
// their runs' directories), the
// executors with no run left and the frameworks with no executor left.
func (g *collector) scheduleLeftovers(agentID string, keep map[string]bool) {
	if g.workDir == "" {
		return
	}
	slaves := filepath.Join(g.workDir, "slaves")
	agents, err := os.ReadDir(slaves)
	if err != nil {
		return
	}
	for _, a := range agents {
		dir := filepath.Join(slaves, a.Name())
		if !a.IsDir() {
			continue
		}
		if a.Name() != agentID {
			g.scheduleByMtime(dir)
			continue
		}
		g.scheduleStaleRuns(dir, keep)
	}
}

// scheduleStaleRuns schedules the dead runs, executors and frameworks of
// one agent's directory.
func (g *collector) scheduleStaleRuns(agentDir string, keep map[string]bool) {
	fwsDir := filepath.Join(agentDir, "frameworks")
	fws, _ := os.ReadDir(fwsDir)
	for _, fw := range fws {
		if !fw.IsDir() {
			continue
		}
		fwDir := filepath.Join(fwsDir, fw.Name())
		fwLive := false
		exsDir := filepath.Join(fwDir, "executors")
		exs, _ := os.ReadDir(exsDir)
		for _, ex := range exs {
			if !ex.IsDir() {
				continue
			}
			exDir := filepath.Join(exsDir, ex.Name())
			runsDir := filepath.Join(exDir, "runs")
			runs, _ := os.ReadDir(runsDir)
			exLive := false
			for _, run := range runs {
				if !run.IsDir() {
					continue
				}
				runDir := filepath.Join(runsDir, run.Name())
				if keep[run.Name()] {
					exLive = true
					continue
				}
				g.scheduleByMtime(runDir)
			}
			if exLive {
				fwLive = true
			} else {
				g.scheduleByMtime(exDir)
			}
		}
		if !fwLive {
			g.scheduleByMtime(fwDir)
		}
	}
}

func (g *collector) scheduleByMtime(dir string) {
	st, err := os.Stat(dir)
	if err != nil {
		return
	}
	g.scheduleAt(dir, st.ModTime())
}

// unescapeMountPath undoes mountinfo's octal escapes (\040 for a space).
func unescapeMountPath(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// diskUsage is the used share of the filesystem that holds dir, as
// Mesos's agent measures it: 1 − free blocks / all blocks.
func diskUsage(dir string) (float64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	if st.Blocks == 0 {
		return 0, nil
	}
	return float64(st.Blocks-st.Bfree) / float64(st.Blocks), nil
}
