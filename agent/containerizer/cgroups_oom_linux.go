//go:build linux

package containerizer

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/cgroups/v3/cgroup2"
	"golang.org/x/sys/unix"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// WatchLimits implements Limiter.
func (g *Cgroups) WatchLimits(limited func(id string)) {
	g.mu.Lock()
	g.limited = limited
	g.mu.Unlock()
}

// Limitation implements Limiter.
func (g *Cgroups) Limitation(id string) *Limitation {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.limits[id]
}

// oomWatch is one container's OOM watch: a goroutine that reads its
// notifications until the cgroup goes or stop closes the descriptor.
type oomWatch struct {
	done chan struct{} // closed when the goroutine ends
	// file is the v1 eventfd, read through the runtime's poller (no
	// thread is held per container while it waits) and closed by stop;
	// nil for v2, whose watch ends by itself with the cgroup.
	file *os.File
}

// stop ends the watch of a cgroup that has been removed. A v1 watch is
// ended at once by closing its eventfd; a v2 watch ends when its inotify
// watch sees the cgroup go, which it is given a few seconds for.
func (w *oomWatch) stop(log interface{ Warn(string, ...any) }, id string) {
	if w.file != nil {
		_ = w.file.Close()
	}
	select {
	case <-w.done:
	case <-time.After(5 * time.Second):
		log.Warn("the OOM watch of a removed cgroup did not end", "container", id)
	}
}

// watchOOM listens for the container's OOM events until its cgroup is
// removed; an OOM records the memory limitation and asks for the
// container's end.
func (g *Cgroups) watchOOM(id string, limit int64) error {
	done := make(chan struct{})
	if g.host.Version == 2 {
		m, err := cgroup2.Load(g.rel(id), cgroup2.WithMountpoint(g.host.Mounts[""]))
		if err != nil {
			return fmt.Errorf("watch OOM events of cgroup %s: %w", g.rel(id), err)
		}
		events, errs := m.EventChan()
		g.setWatch(id, &oomWatch{done: done})
		go func() {
			defer close(done)
			for {
				select {
				case ev, ok := <-events:
					if !ok {
						return
					}
					if ev.OOMKill > 0 || ev.OOM > 0 {
						g.oom(id)
					}
				case <-errs:
					return
				}
			}
		}()
		return nil
	}
	ctl := filepath.Join(g.MemoryPath(id), "memory.oom_control")
	f, err := oomEventFD(g.MemoryPath(id))
	if err != nil {
		return fmt.Errorf("watch OOM events of cgroup %s: %w", g.rel(id), err)
	}
	g.setWatch(id, &oomWatch{done: done, file: f})
	go func() {
		defer close(done)
		defer f.Close()
		buf := make([]byte, 8)
		for {
			if _, err := f.Read(buf); err != nil {
				return // closed by stop
			}
			// The eventfd also fires when the cgroup is removed.
			b, err := os.ReadFile(ctl)
			if err != nil {
				return
			}
			if strings.Contains(string(b), "under_oom 1") || oomKills(string(b)) > 0 {
				g.oom(id)
			}
		}
	}()
	return nil
}

// oomEventFD registers a non-blocking eventfd for the v1 memory cgroup
// dir's OOM notifications (cgroup.event_control) and returns it as a file
// the runtime's poller waits on.
func oomEventFD(dir string) (*os.File, error) {
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	ctl, err := os.Open(filepath.Join(dir, "memory.oom_control"))
	if err != nil {
		unix.Close(efd)
		return nil, err
	}
	defer ctl.Close()
	reg := strconv.Itoa(efd) + " " + strconv.Itoa(int(ctl.Fd()))
	if err := os.WriteFile(filepath.Join(dir, "cgroup.event_control"), []byte(reg), 0); err != nil {
		unix.Close(efd)
		return nil, err
	}
	return os.NewFile(uintptr(efd), "oom-eventfd"), nil
}

func oomKills(oomControl string) int {
	for _, line := range strings.Split(oomControl, "\n") {
		if rest, ok := strings.CutPrefix(line, "oom_kill "); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(rest))
			return n
		}
	}
	return 0
}

func (g *Cgroups) setWatch(id string, w *oomWatch) {
	g.mu.Lock()
	g.watched[id] = w
	g.mu.Unlock()
}

// oom records the memory limitation, worded as Mesos words it, and asks
// for the container's end.
func (g *Cgroups) oom(id string) {
	dir := g.MemoryPath(id)
	limitFile, usageFile := "memory.limit_in_bytes", "memory.max_usage_in_bytes"
	if g.host.Version == 2 {
		limitFile, usageFile = "memory.max", "memory.peak"
	}
	var msg strings.Builder
	msg.WriteString("Memory limit exceeded: ")
	if n, ok := readInt(filepath.Join(dir, limitFile)); ok {
		msg.WriteString("Requested: " + formatBytes(n) + " ")
	}
	if n, ok := readInt(filepath.Join(dir, usageFile)); ok {
		msg.WriteString("Maximum Used: " + formatBytes(n) + "\n")
	}
	if b, err := os.ReadFile(filepath.Join(dir, "memory.stat")); err == nil {
		msg.WriteString("\nMEMORY STATISTICS: \n" + string(b))
	}
	text := strings.TrimSpace(msg.String())
	g.mu.Lock()
	first := g.limits[id] == nil
	if first {
		g.limits[id] = &Limitation{Reason: mesos.TaskStatus_REASON_CONTAINER_LIMITATION_MEMORY, Message: text}
	}
	limited := g.limited
	g.mu.Unlock()
	if !first {
		return
	}
	g.log.Info("OOM detected; destroying the container", "container", id, "message", text)
	if limited != nil {
		limited(id)
	}
}

func readInt(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	return n, err == nil
}

// formatBytes writes a size as Mesos's Bytes does: in the largest unit
// that divides it exactly ("64MB", "1GB", "1000B").
func formatBytes(n int64) string {
	switch {
	case n == 0:
		return "0B"
	case n%(1<<40) == 0:
		return strconv.FormatInt(n>>40, 10) + "TB"
	case n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + "GB"
	case n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + "MB"
	case n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + "KB"
	}
	return strconv.FormatInt(n, 10) + "B"
}
