//go:build linux

package containerizer

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

var _ Measurer = (*Cgroups)(nil)

// Usage implements Measurer: what the container's cgroup counted, as
// Mesos's cgroups isolators report it. cgroups/cpu gives the CPU times
// (cpuacct.stat, or cpu.stat's user_usec and system_usec on v2) and, with
// CFS, the throttling counters of cpu.stat; cgroups/mem the memory
// counters (memory.usage_in_bytes and memory.stat's total_* on v1;
// memory.current, memory.stat and memory.swap.current on v2). Every
// cgroups isolator counts the processes and threads in the cgroup (Mesos
// does with --cgroups_cpu_enable_pids_and_tids_count).
func (g *Cgroups) Usage(id string, st *mesos.ResourceStatistics) error {
	if g.host.Version == 2 {
		return g.usageV2(id, st)
	}
	return g.usageV1(id, st)
}

func (g *Cgroups) usageV1(id string, st *mesos.ResourceStatistics) error {
	rel := g.rel(id)
	dir := func(controller string) string { return filepath.Join(g.host.Mounts[controller], rel) }
	procs, err := countIDs(dir("freezer"), "cgroup.procs")
	if err != nil {
		return err
	}
	threads, err := countIDs(dir("freezer"), "tasks")
	if err != nil {
		return err
	}
	st.Processes, st.Threads = ptr(uint32(procs)), ptr(uint32(threads))
	if g.opts.CPU {
		acct, err := readKeyed(filepath.Join(dir("cpuacct"), "cpuacct.stat"))
		if err != nil {
			return err
		}
		if user, ok := acct["user"]; ok {
			if system, ok := acct["system"]; ok {
				st.CpusUserTimeSecs = ptr(float64(user) / userHZ)
				st.CpusSystemTimeSecs = ptr(float64(system) / userHZ)
			}
		}
		if g.opts.EnableCFS {
			cpu, err := readKeyed(filepath.Join(dir("cpu"), "cpu.stat"))
			if err != nil {
				return err
			}
			setThrottling(cpu, "throttled_time", 1e9, st)
		}
	}
	if g.opts.Mem {
		mem := dir("memory")
		total, err := readUint(filepath.Join(mem, "memory.usage_in_bytes"))
		if err != nil {
			return err
		}
		st.MemTotalBytes = ptr(total)
		stat, err := readKeyed(filepath.Join(mem, "memory.stat"))
		if err != nil {
			return err
		}
		setMemory(stat, "total_cache", "total_rss", "total_mapped_file", "total_unevictable", st)
		if v, ok := stat["total_swap"]; ok {
			st.MemSwapBytes = ptr(v)
		}
	}
	return nil
}

func (g *Cgroups) usageV2(id string, st *mesos.ResourceStatistics) error {
	dir := filepath.Join(g.host.Mounts[""], g.rel(id))
	procs, err := countIDs(dir, "cgroup.procs")
	if err != nil {
		return err
	}
	threads, err := countIDs(dir, "cgroup.threads")
	if err != nil {
		return err
	}
	st.Processes, st.Threads = ptr(uint32(procs)), ptr(uint32(threads))
	if g.opts.CPU {
		cpu, err := readKeyed(filepath.Join(dir, "cpu.stat"))
		if err != nil {
			return err
		}
		if user, ok := cpu["user_usec"]; ok {
			if system, ok := cpu["system_usec"]; ok {
				st.CpusUserTimeSecs = ptr(float64(user) / 1e6)
				st.CpusSystemTimeSecs = ptr(float64(system) / 1e6)
			}
		}
		if g.opts.EnableCFS {
			setThrottling(cpu, "throttled_usec", 1e6, st)
		}
	}
	if g.opts.Mem {
		total, err := readUint(filepath.Join(dir, "memory.current"))
		if err != nil {
			return err
		}
		st.MemTotalBytes = ptr(total)
		stat, err := readKeyed(filepath.Join(dir, "memory.stat"))
		if err != nil {
			return err
		}
		setMemory(stat, "file", "anon", "file_mapped", "unevictable", st)
		if swap, err := readUint(filepath.Join(dir, "memory.swap.current")); err == nil {
			st.MemSwapBytes = ptr(swap)
		}
	}
	return nil
}

// setThrottling copies cpu.stat's CFS counters; the throttled time is in
// units of 1/perSec seconds.
func setThrottling(cpu map[string]uint64, throttledKey string, perSec float64, st *mesos.ResourceStatistics) {
	if v, ok := cpu["nr_periods"]; ok {
		st.CpusNrPeriods = ptr(uint32(v))
	}
	if v, ok := cpu["nr_throttled"]; ok {
		st.CpusNrThrottled = ptr(uint32(v))
	}
	if v, ok := cpu[throttledKey]; ok {
		st.CpusThrottledTimeSecs = ptr(float64(v) / perSec)
	}
}

// setMemory copies memory.stat's counters as Mesos does: the page cache
// into mem_cache_bytes (and the older mem_file_bytes), anonymous memory
// into mem_rss_bytes (and mem_anon_bytes).
func setMemory(stat map[string]uint64, cache, rss, mapped, unevictable string, st *mesos.ResourceStatistics) {
	if v, ok := stat[cache]; ok {
		st.MemFileBytes, st.MemCacheBytes = ptr(v), ptr(v)
	}
	if v, ok := stat[rss]; ok {
		st.MemAnonBytes, st.MemRssBytes = ptr(v), ptr(v)
	}
	if v, ok := stat[mapped]; ok {
		st.MemMappedFileBytes = ptr(v)
	}
	if v, ok := stat[unevictable]; ok {
		st.MemUnevictableBytes = ptr(v)
	}
}

// readKeyed reads a cgroup file of "key value" lines.
func readKeyed(path string) (map[string]uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	out := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64); err == nil {
			out[k] = n
		}
	}
	return out, nil
}

// readUint reads a cgroup file holding one number.
func readUint(path string) (uint64, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	return n, nil
}

// countIDs counts the distinct ids listed in the file named name in dir and
// in every cgroup below it.
func countIDs(dir, name string) (int, error) {
	seen := map[string]bool{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path != dir {
				return nil
			}
			return err
		}
		if !d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(filepath.Join(path, name))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path != dir {
				return nil
			}
			return err
		}
		for _, f := range strings.Fields(string(b)) {
			seen[f] = true
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("count the %s of cgroup %s: %w", name, dir, err)
	}
	return len(seen), nil
}
