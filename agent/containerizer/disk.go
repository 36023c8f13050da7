package containerizer

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/codec"
)

// DefaultDiskWatchInterval is --container_disk_watch_interval's default, as
// in Mesos.
const DefaultDiskWatchInterval = 15 * time.Second

// DiskOptions configure the disk/du isolator.
type DiskOptions struct {
	// WatchInterval (--container_disk_watch_interval) is the time between
	// two measurements of one sandbox; 0 means DefaultDiskWatchInterval.
	WatchInterval time.Duration
	// EnforceQuota (--enforce_container_disk_quota) ends a container whose
	// sandbox holds more than its disk resource, with
	// REASON_CONTAINER_LIMITATION_DISK.
	EnforceQuota bool
	Logger       *slog.Logger
}

// DiskDu is the disk/du isolator (Mesos's posix disk isolator): it measures
// the disk space each container's sandbox takes, as `du -k -s` counts it,
// every WatchInterval, reports it (disk_used_bytes, beside the sandbox's
// disk resource as disk_limit_bytes), and with EnforceQuota ends a container
// found over its disk resource.
//
// As in Mesos, only containers with a disk resource for their sandbox (one
// with no volume) are measured. The walks run on one goroutine of the
// isolator's own, one at a time, never on a caller's; after a walk that
// took d the next waits at least d, so that walking big sandboxes takes at
// most half of one core and of the disk's attention.
type DiskDu struct {
	opts DiskOptions
	log  *slog.Logger

	mu      sync.Mutex
	infos   map[string]*diskInfo
	limited func(id string)
	running bool          // the collector goroutine runs
	wake    chan struct{} // wakes the collector: a container came or went
	restTil time.Time     // no walk starts before (rate bound)
}

// diskInfo is what the isolator knows of one container.
type diskInfo struct {
	dir      string
	quota    int64 // bytes of the sandbox's disk resource; 0: none, not measured
	mount    bool  // the quota is a MOUNT disk's, which its filesystem enforces
	used     int64
	measured bool
	due      time.Time
	limit    *Limitation
}

var (
	_ Isolator = (*DiskDu)(nil)
	_ Limiter  = (*DiskDu)(nil)
	_ Measurer = (*DiskDu)(nil)
	_ Adopter  = (*DiskDu)(nil)
)

// NewDiskDu returns the disk/du isolator.
func NewDiskDu(opts DiskOptions) (*DiskDu, error) {
	if opts.WatchInterval < 0 {
		return nil, fmt.Errorf("--container_disk_watch_interval must not be negative")
	}
	if opts.WatchInterval == 0 {
		opts.WatchInterval = DefaultDiskWatchInterval
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &DiskDu{opts: opts, log: log, infos: map[string]*diskInfo{}, wake: make(chan struct{}, 1)}, nil
}

// Name implements Isolator.
func (d *DiskDu) Name() string { return IsolatorDiskDu }

// Prepare implements Isolator: the container's sandbox is measured from
// now on, if it has a disk resource.
func (d *DiskDu) Prepare(spec *Spec, _ *exec.Cmd) error {
	d.track(spec.ID, spec.Directory, spec.Resources)
	return nil
}

// Adopt implements Adopter: a recovered container is measured again once
// its resources are known (the agent updates them after recovery).
func (d *DiskDu) Adopt(spec Spec, _ int) error {
	d.track(spec.ID, spec.Directory, spec.Resources)
	return nil
}

func (d *DiskDu) track(id, dir string, resources []*mesos.Resource) {
	d.mu.Lock()
	defer d.mu.Unlock()
	info := &diskInfo{dir: dir, due: time.Now()}
	info.quota, info.mount = sandboxDisk(resources)
	d.infos[id] = info
	d.poke()
}

// sandboxDisk is the disk the resources give the sandbox (disk resources
// with no volume), in bytes, and whether any of it is a MOUNT disk.
func sandboxDisk(resources []*mesos.Resource) (int64, bool) {
	var mb float64
	mount := false
	for _, r := range resources {
		if r.GetName() != "disk" || r.GetType() != mesos.Value_SCALAR || r.GetDisk().GetVolume() != nil {
			continue
		}
		mb += r.GetScalar().GetValue()
		if r.GetDisk().GetSource().GetType() == mesos.Resource_DiskInfo_Source_MOUNT {
			mount = true
		}
	}
	return int64(mb * (1 << 20)), mount
}

// Isolate implements Isolator; there is nothing to do.
func (d *DiskDu) Isolate(string, int) error { return nil }

// Update implements Isolator: the sandbox's quota follows the container's
// disk resources.
func (d *DiskDu) Update(id string, resources []*mesos.Resource) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	info := d.infos[id]
	if info == nil {
		return nil
	}
	quota, mount := sandboxDisk(resources)
	if quota > 0 && info.quota == 0 {
		info.due = time.Now()
	}
	info.quota, info.mount = quota, mount
	d.poke()
	return nil
}

// Cleanup implements Isolator: the container is measured no more.
func (d *DiskDu) Cleanup(id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.infos, id)
	d.poke()
	return nil
}

// WatchLimits implements Limiter.
func (d *DiskDu) WatchLimits(limited func(id string)) {
	d.mu.Lock()
	d.limited = limited
	d.mu.Unlock()
}

// Limitation implements Limiter.
func (d *DiskDu) Limitation(id string) *Limitation {
	d.mu.Lock()
	defer d.mu.Unlock()
	if info := d.infos[id]; info != nil {
		return info.limit
	}
	return nil
}

// Usage implements Measurer: the sandbox's disk resource and, once it has
// been measured, the space it takes.
func (d *DiskDu) Usage(id string, st *mesos.ResourceStatistics) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	info := d.infos[id]
	if info == nil || info.quota == 0 {
		return nil
	}
	st.DiskLimitBytes = ptr(uint64(info.quota))
	if info.measured {
		st.DiskUsedBytes = ptr(uint64(info.used))
	}
	return nil
}

// poke starts the collector, or wakes it to look at its work again. The
// caller holds mu.
func (d *DiskDu) poke() {
	if !d.running {
		if len(d.infos) == 0 {
			return
		}
		d.running = true
		go d.collect()
		return
	}
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// collect measures the sandboxes as they fall due, one at a time, until no
// container is left.
func (d *DiskDu) collect() {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		d.mu.Lock()
		var id string
		var next *diskInfo
		for cid, info := range d.infos {
			if info.quota > 0 && (next == nil || info.due.Before(next.due)) {
				id, next = cid, info
			}
		}
		if len(d.infos) == 0 {
			d.running = false
			d.mu.Unlock()
			return
		}
		now := time.Now()
		var wait time.Duration
		if next == nil {
			wait = time.Hour // nothing to measure until an update
		} else {
			wait = max(next.due.Sub(now), d.restTil.Sub(now))
		}
		if wait > 0 {
			d.mu.Unlock()
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-d.wake:
				if !timer.Stop() {
					<-timer.C
				}
			}
			continue
		}
		dir := next.dir
		d.mu.Unlock()

		start := time.Now()
		used, err := DiskUsage(dir)
		end := time.Now()

		d.mu.Lock()
		d.restTil = end.Add(end.Sub(start))
		var limited func(string)
		if d.infos[id] == next {
			next.due = end.Add(d.opts.WatchInterval)
			if err != nil {
				d.log.Warn("measuring a sandbox's disk usage failed", "container", id, "dir", dir, "err", err)
			} else {
				next.used, next.measured = used, true
				if d.opts.EnforceQuota && !next.mount && used > next.quota && next.limit == nil {
					next.limit = &Limitation{
						Reason:  mesos.TaskStatus_REASON_CONTAINER_LIMITATION_DISK,
						Message: fmt.Sprintf("Disk usage (%s) exceeds quota (%s)", codec.FormatBytes(used), codec.FormatBytes(next.quota)),
					}
					d.log.Info("a container's sandbox exceeds its disk; destroying the container", "container", id, "message", next.limit.Message)
					limited = d.limited
				}
			}
		}
		d.mu.Unlock()
		if limited != nil {
			limited(id)
		}
	}
}

// DiskUsage is the disk space that dir and everything below it take, as
// `du -k -s dir` reports it: the blocks allocated to each file, directory
// and symbolic link (which is not followed), a file with several links
// counted once, rounded up to a whole KiB. Files that vanish during the walk
// are left out; an entry that cannot be read is skipped.
func DiskUsage(dir string) (int64, error) {
	root, err := os.Lstat(dir)
	if err != nil {
		return 0, fmt.Errorf("measure %s: %w", dir, err)
	}
	seen := map[fileID]bool{}
	total := allocated(root, seen)
	if !root.IsDir() {
		return roundKiB(total), nil
	}
	err = filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			if path == dir {
				return err
			}
			return nil // vanished or unreadable: skipped, as du goes on
		}
		if path == dir {
			return nil
		}
		fi, err := e.Info()
		if err != nil {
			return nil
		}
		total += allocated(fi, seen)
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("measure %s: %w", dir, err)
	}
	return roundKiB(total), nil
}

func roundKiB(n int64) int64 { return (n + 1023) / 1024 * 1024 }
