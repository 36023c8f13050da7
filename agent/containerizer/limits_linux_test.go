//go:build linux

package containerizer

import (
	"math"
	"path/filepath"
	"strconv"
	"testing"
)

// TaskInfo.limits, as Mesos 1.11 applies them: cpu shares from the cpus
// request and a CFS quota at the cpus limit (even without
// --cgroups_enable_cfs; none at all for an infinite limit, even with it);
// the memory hard limit at the mem limit (none for an infinite one) and
// the soft limit at the request.
func TestCgroupsResourceLimits(t *testing.T) {
	g := newCgroupsTest(t, CgroupsOptions{CPU: true, Mem: true})
	if g.Version() != 1 {
		t.Skip("skipping: the limit checks read cgroups v1 files")
	}
	h := newHarness(t, g)
	launch := func(id string, limits map[string]float64, res ...any) {
		t.Helper()
		if _, err := h.p.Launch(Spec{ID: id, Directory: h.sandbox(id), Path: "/bin/sleep", Args: []string{"sleep", "300"},
			Resources: scalars(res...), Limits: limits}); err != nil {
			t.Fatal(err)
		}
	}
	file := func(id, controller, name string) string {
		return readTrim(t, filepath.Join(g.host.Mounts[controller], g.rel(id), name))
	}
	check := func(id, controller, name, want string) {
		t.Helper()
		if got := file(id, controller, name); got != want {
			t.Errorf("%s: %s = %s, want %s", id, name, got, want)
		}
	}
	unlimited := file("", "memory", "memory.limit_in_bytes") // the root's: no limit

	launch("limited", map[string]float64{"cpus": 0.5, "mem": 128}, "cpus", 0.1, "mem", 32.0)
	check("limited", "cpu", "cpu.shares", "102")
	check("limited", "cpu", "cpu.cfs_quota_us", "50000")
	check("limited", "cpu", "cpu.cfs_period_us", "100000")
	check("limited", "memory", "memory.limit_in_bytes", strconv.Itoa(128<<20))
	check("limited", "memory", "memory.soft_limit_in_bytes", strconv.Itoa(32<<20))

	launch("boundless", map[string]float64{"cpus": math.Inf(1), "mem": math.Inf(1)}, "cpus", 0.25, "mem", 64.0)
	check("boundless", "cpu", "cpu.shares", "256")
	check("boundless", "cpu", "cpu.cfs_quota_us", "-1")
	check("boundless", "memory", "memory.limit_in_bytes", unlimited)
	check("boundless", "memory", "memory.soft_limit_in_bytes", strconv.Itoa(64<<20))

	// An update brings new limits; without any, the mem request is the
	// hard limit again.
	if err := h.p.UpdateLimits("boundless", scalars("cpus", 0.25, "mem", 64.0), map[string]float64{"cpus": 2, "mem": 256}); err != nil {
		t.Fatal(err)
	}
	check("boundless", "cpu", "cpu.cfs_quota_us", "200000")
	check("boundless", "memory", "memory.limit_in_bytes", strconv.Itoa(256<<20))
	if err := h.p.Update("limited", scalars("cpus", 0.1, "mem", 48.0)); err != nil {
		t.Fatal(err)
	}
	check("limited", "memory", "memory.limit_in_bytes", strconv.Itoa(48<<20))
	check("limited", "memory", "memory.soft_limit_in_bytes", strconv.Itoa(48<<20))

	for _, id := range []string{"limited", "boundless"} {
		if err := h.p.Destroy(id); err != nil {
			t.Fatal(err)
		}
		h.exit()
	}

	// With --cgroups_enable_cfs an infinite cpus limit still means no quota.
	cfs := newCgroupsTest(t, CgroupsOptions{CPU: true, EnableCFS: true})
	hc := newHarness(t, cfs)
	if _, err := hc.p.Launch(Spec{ID: "inf", Directory: hc.sandbox("inf"), Path: "/bin/sleep", Args: []string{"sleep", "300"},
		Resources: scalars("cpus", 0.5), Limits: map[string]float64{"cpus": math.Inf(1)}}); err != nil {
		t.Fatal(err)
	}
	if got := readTrim(t, filepath.Join(cfs.host.Mounts["cpu"], cfs.rel("inf"), "cpu.cfs_quota_us")); got != "-1" {
		t.Errorf("cpus limit infinity with CFS on: cpu.cfs_quota_us = %s, want -1", got)
	}
	if err := hc.p.Destroy("inf"); err != nil {
		t.Fatal(err)
	}
	hc.exit()
}
