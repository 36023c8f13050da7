//go:build linux

package containerizer

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/internal/testutil"
)

// usageOf measures a container, failing the test on an error.
func (h *harness) usageOf(id string) *mesos.ResourceStatistics {
	h.t.Helper()
	st, err := h.p.Usage(id)
	if err != nil {
		h.t.Fatalf("Usage(%s): %v", id, err)
	}
	return st
}

// waitUsage polls the container's statistics until cond holds.
func (h *harness) waitUsage(id, what string, cond func(*mesos.ResourceStatistics) bool) *mesos.ResourceStatistics {
	h.t.Helper()
	var st *mesos.ResourceStatistics
	testutil.WaitFor(h.t, what, patience, func() bool {
		st = h.usageOf(id)
		return cond(st)
	})
	return st
}

// DiskUsage counts what `du -k -s` counts: allocated blocks, not sizes (a
// sparse file takes little), each hard-linked file once, symbolic links
// not followed.
func TestDiskUsageCountsLikeDu(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "data"), make([]byte, 3<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	sparse, err := os.Create(filepath.Join(dir, "sparse"))
	if err != nil {
		t.Fatal(err)
	}
	if err := sparse.Truncate(100 << 20); err != nil {
		t.Fatal(err)
	}
	sparse.Close()
	if err := os.Mkdir(filepath.Join(dir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Link(filepath.Join(dir, "data"), filepath.Join(dir, "sub", "again")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/usr", filepath.Join(dir, "sub", "usr")); err != nil {
		t.Fatal(err)
	}
	got, err := DiskUsage(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got < 3<<20 || got > 4<<20 || got%1024 != 0 {
		t.Errorf("DiskUsage = %d, want 3 MiB and a little, in whole KiB", got)
	}
	if _, err := exec.LookPath("du"); err == nil {
		out, err := exec.Command("du", "-k", "-s", dir).Output()
		if err != nil {
			t.Fatal(err)
		}
		kb, err := strconv.ParseInt(strings.Fields(string(out))[0], 10, 64)
		if err != nil {
			t.Fatalf("du said %q", out)
		}
		if got != kb*1024 {
			t.Errorf("DiskUsage = %d, du -k -s says %d KiB (%d)", got, kb, kb*1024)
		}
	}
	if _, err := DiskUsage(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("DiskUsage of a missing directory: %v", err)
	}
}

func newDiskDu(t *testing.T, enforce bool) *DiskDu {
	t.Helper()
	d, err := NewDiskDu(DiskOptions{WatchInterval: 50 * time.Millisecond, EnforceQuota: enforce})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// disk/du measures the sandbox of a container with a disk resource every
// watch interval and reports it with the disk resource; one without a disk
// resource is not measured, as in Mesos.
func TestDiskDuMeasuresSandbox(t *testing.T) {
	h := newHarness(t, newDiskDu(t, false))
	h.launchRes("writer", `head -c 4194304 /dev/zero > blob && exec sleep 300`, scalars("disk", 64.0))
	h.launchRes("diskless", `head -c 1048576 /dev/zero > blob && exec sleep 300`, scalars("cpus", 0.1))
	st := h.waitUsage("writer", "disk_used_bytes to reach 4 MiB", func(st *mesos.ResourceStatistics) bool {
		return st.GetDiskUsedBytes() >= 4<<20
	})
	if st.GetDiskLimitBytes() != 64<<20 || st.GetDiskUsedBytes() > 5<<20 {
		t.Errorf("writer: disk_limit_bytes %d, disk_used_bytes %d", st.GetDiskLimitBytes(), st.GetDiskUsedBytes())
	}
	if st := h.usageOf("diskless"); st.DiskUsedBytes != nil || st.DiskLimitBytes != nil {
		t.Errorf("a container without disk was measured: %v", st)
	}
	// An update gives it a disk, and it is measured from then on.
	if err := h.p.Update("diskless", scalars("cpus", 0.1, "disk", 8.0)); err != nil {
		t.Fatal(err)
	}
	h.waitUsage("diskless", "the updated container to be measured", func(st *mesos.ResourceStatistics) bool {
		return st.GetDiskLimitBytes() == 8<<20 && st.GetDiskUsedBytes() >= 1<<20
	})
	for _, id := range []string{"writer", "diskless"} {
		if err := h.p.Destroy(id); err != nil {
			t.Fatal(err)
		}
		if tm := h.exit(); tm.Limitation != nil {
			t.Errorf("%s ended with a limitation without enforcement: %+v", tm.ID, tm.Limitation)
		}
	}
	if _, err := h.p.Usage("writer"); !errors.Is(err, ErrUnknownContainer) {
		t.Errorf("Usage of an ended container: %v", err)
	}
}

// With enforcement, a container whose sandbox outgrows its disk resource
// is destroyed with REASON_CONTAINER_LIMITATION_DISK and Mesos's message;
// its neighbour, within its disk, keeps running.
func TestDiskDuEnforcesQuota(t *testing.T) {
	h := newHarness(t, newDiskDu(t, true))
	h.launchRes("neighbour", `head -c 1048576 /dev/zero > blob && exec sleep 300`, scalars("disk", 64.0))
	h.launchRes("hog", `head -c 3145728 /dev/zero > blob && exec sleep 300`, scalars("disk", 1.0))
	tm := h.exit()
	if tm.ID != "hog" || tm.Limitation == nil || tm.Limitation.Reason != mesos.TaskStatus_REASON_CONTAINER_LIMITATION_DISK {
		t.Fatalf("termination %+v (%s), want hog's with the disk limitation", tm, tm)
	}
	if !regexp.MustCompile(`^Disk usage \(\d+(KB|MB)\) exceeds quota \(1MB\)$`).MatchString(tm.Limitation.Message) {
		t.Errorf("message = %q", tm.Limitation.Message)
	}
	if !tm.Destroyed {
		t.Errorf("the hog was not destroyed: %+v", tm)
	}
	if pid := h.p.Pids()["neighbour"]; pid == 0 || !ProcessAlive(pid) {
		t.Errorf("the neighbour is not running")
	}
	if err := h.p.Destroy("neighbour"); err != nil {
		t.Fatal(err)
	}
	if tm := h.exit(); tm.ID != "neighbour" || tm.Limitation != nil {
		t.Errorf("neighbour's termination = %+v", tm)
	}
}

// usageWorkload starts a container that holds 48 MiB and one that spins,
// and checks what Usage says of them: cpus_limit and mem_limit_bytes from
// their resources, the holder's resident memory, the spinner's growing CPU
// time, and their processes and threads.
func usageWorkload(t *testing.T, h *harness) (hold, spin *mesos.ResourceStatistics) {
	t.Helper()
	h.launchRes("hold", `exec "$HELPER"`, scalars("cpus", 0.25, "mem", 128.0), envAllocMiB+"=48", "HELPER="+supervisor(t))
	h.launchRes("spin", `while :; do :; done`, scalars("cpus", 0.5, "mem", 32.0))
	testutil.WaitFor(t, "the holder to allocate", patience, func() bool {
		b, _ := os.ReadFile(filepath.Join(h.sandbox("hold"), "stdout"))
		return strings.Contains(string(b), "allocated 48 MiB")
	})
	hold = h.usageOf("hold")
	if hold.GetCpusLimit() != 0.25 || hold.GetMemLimitBytes() != 128<<20 {
		t.Errorf("hold: cpus_limit %v, mem_limit_bytes %d", hold.GetCpusLimit(), hold.GetMemLimitBytes())
	}
	if rss := hold.GetMemRssBytes(); rss < 48<<20 || rss > 256<<20 {
		t.Errorf("hold: mem_rss_bytes %d, want 48 MiB and a little", rss)
	}
	// The supervisor and the helper, which runs several threads.
	if hold.GetProcesses() != 2 || hold.GetThreads() <= hold.GetProcesses() {
		t.Errorf("hold: processes %d, threads %d", hold.GetProcesses(), hold.GetThreads())
	}
	first := h.usageOf("spin")
	spin = h.waitUsage("spin", "the spinner's cpu time to grow", func(st *mesos.ResourceStatistics) bool {
		return st.GetCpusUserTimeSecs()+st.GetCpusSystemTimeSecs() >= first.GetCpusUserTimeSecs()+first.GetCpusSystemTimeSecs()+0.2
	})
	if spin.GetCpusLimit() != 0.5 || spin.GetMemLimitBytes() != 32<<20 || spin.GetTimestamp() <= first.GetTimestamp() ||
		spin.GetTimestamp() < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("spin: %v", spin)
	}
	if spin.GetProcesses() != 2 {
		t.Errorf("spin: processes %d, want the supervisor and the shell", spin.GetProcesses())
	}
	return hold, spin
}

// posix/cpu and posix/mem measure a container from its processes.
func TestPosixUsage(t *testing.T) {
	h := newHarness(t, PosixCPU{}, PosixMem{})
	usageWorkload(t, h)
	for _, id := range []string{"hold", "spin"} {
		if err := h.p.Destroy(id); err != nil {
			t.Fatal(err)
		}
		h.exit()
	}
}

// The cgroups isolator measures a container from its cgroup, with the CFS
// counters when CFS is on.
func TestCgroupsUsage(t *testing.T) {
	g := newCgroupsTest(t, CgroupsOptions{CPU: true, Mem: true, Pids: true, EnableCFS: true})
	h := newHarness(t, g)
	hold, spin := usageWorkload(t, h)
	if hold.GetMemTotalBytes() < hold.GetMemRssBytes() || hold.MemCacheBytes == nil || hold.MemMappedFileBytes == nil {
		t.Errorf("hold: %v", hold)
	}
	if spin.GetCpusNrPeriods() == 0 || spin.CpusNrThrottled == nil || spin.CpusThrottledTimeSecs == nil {
		t.Errorf("spin: no CFS counters: %v", spin)
	}
	pids, err := g.Pids("hold")
	if err != nil || uint32(len(pids)) != hold.GetProcesses() {
		t.Errorf("hold's cgroup holds %v (%v), Usage counted %d processes", pids, err, hold.GetProcesses())
	}
	for _, id := range []string{"hold", "spin"} {
		if err := h.p.Destroy(id); err != nil {
			t.Fatal(err)
		}
		h.exit()
	}
}

// On cgroups v2 the counters come from cpu.stat, memory.current,
// memory.stat and memory.swap.current (read here from files laid out as
// the kernel lays them out, since this host may have no v2 controllers).
func TestCgroupsUsageReadsV2Files(t *testing.T) {
	mount := t.TempDir()
	g, err := NewCgroups(CgroupHost{Version: 2, Mounts: map[string]string{"": mount}},
		CgroupsOptions{Root: "mesos", CPU: true, Mem: true, EnableCFS: true})
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(mount, "mesos", "c1")
	files := map[string]string{
		"cgroup.procs":        "10\n11\n",
		"cgroup.threads":      "10\n11\n12\n",
		"cpu.stat":            "usage_usec 3500000\nuser_usec 2500000\nsystem_usec 1000000\nnr_periods 40\nnr_throttled 7\nthrottled_usec 250000\n",
		"memory.current":      "73400320\n",
		"memory.stat":         "anon 52428800\nfile 10485760\nkernel 1000\nfile_mapped 4096\nunevictable 8192\n",
		"memory.swap.current": "0\n",
		"sub/cgroup.procs":    "13\n",
		"sub/cgroup.threads":  "13\n",
	}
	for name, content := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st := &mesos.ResourceStatistics{}
	if err := g.Usage("c1", st); err != nil {
		t.Fatal(err)
	}
	want := &mesos.ResourceStatistics{
		Processes: ptr(uint32(3)), Threads: ptr(uint32(4)),
		CpusUserTimeSecs: ptr(2.5), CpusSystemTimeSecs: ptr(1.0),
		CpusNrPeriods: ptr(uint32(40)), CpusNrThrottled: ptr(uint32(7)), CpusThrottledTimeSecs: ptr(0.25),
		MemTotalBytes: ptr(uint64(73400320)), MemRssBytes: ptr(uint64(52428800)), MemAnonBytes: ptr(uint64(52428800)),
		MemCacheBytes: ptr(uint64(10485760)), MemFileBytes: ptr(uint64(10485760)), MemMappedFileBytes: ptr(uint64(4096)),
		MemUnevictableBytes: ptr(uint64(8192)), MemSwapBytes: ptr(uint64(0)),
	}
	if got, wantS := st.String(), want.String(); got != wantS {
		t.Errorf("Usage =\n %s\nwant\n %s", got, wantS)
	}
	if err := g.Usage("missing", &mesos.ResourceStatistics{}); err == nil {
		t.Error("Usage of a container without a cgroup succeeded")
	}
}

// The CPU times, threads and resident set come from fields 14, 15, 20 and
// 24 of a stat line, whatever the command name holds.
func TestParseProcUsage(t *testing.T) {
	line := "4242 (a) b (c) S 1 4242 4242 0 -1 4194560 100 0 0 0 250 130 0 0 20 0 7 0 12345 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n"
	u, ok := parseProcUsage(4242, []byte(line), 4096)
	if !ok || u.Pid != 4242 || u.UserTime != 2500*time.Millisecond || u.SystemTime != 1300*time.Millisecond || u.Threads != 7 || u.RSSBytes != 2560*4096 {
		t.Errorf("parseProcUsage = %+v, %v", u, ok)
	}
	if _, ok := parseProcUsage(1, []byte("1 (x) Z 0 0 0"), 4096); ok {
		t.Error("a short or zombie line was taken")
	}
}

// BenchmarkDiskUsage walks a sandbox of 10,000 small files in 100
// directories, as disk/du does every watch interval.
func BenchmarkDiskUsage(b *testing.B) {
	dir := b.TempDir()
	for i := range 100 {
		sub := filepath.Join(dir, strconv.Itoa(i))
		if err := os.Mkdir(sub, 0o755); err != nil {
			b.Fatal(err)
		}
		for j := range 100 {
			if err := os.WriteFile(filepath.Join(sub, strconv.Itoa(j)), []byte("x"), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ResetTimer()
	for b.Loop() {
		if _, err := DiskUsage(dir); err != nil {
			b.Fatal(err)
		}
	}
}
