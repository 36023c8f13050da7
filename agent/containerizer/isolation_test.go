package containerizer

import (
	"strings"
	"testing"
	"time"
)

// --isolation builds posix/cpu, posix/mem and disk/du (also under its old
// name, posix/disk, but not under both) with disk/du's options, and names
// what it has when it meets what it has not.
func TestIsolatorsForPosixAndDisk(t *testing.T) {
	isolators, resolved, err := IsolatorsFor(" posix/cpu,posix/mem,posix/disk,posix/cpu", CgroupsOptions{
		Disk: DiskOptions{WatchInterval: time.Second, EnforceQuota: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resolved != "posix/cpu,posix/mem,disk/du" || len(isolators) != 3 {
		t.Fatalf("resolved %q, isolators %v", resolved, isolators)
	}
	var names []string
	for _, iso := range isolators {
		names = append(names, iso.Name())
	}
	if strings.Join(names, ",") != resolved {
		t.Errorf("isolators %v", names)
	}
	if d := isolators[2].(*DiskDu); d.opts.WatchInterval != time.Second || !d.opts.EnforceQuota {
		t.Errorf("disk/du options %+v", d.opts)
	}
	for isolation, want := range map[string]string{
		"posix/disk,disk/du": `using "posix/disk" and "disk/du" together is not allowed`,
		"disk/xfs":           `--isolation: unknown isolator "disk/xfs" (this agent has posix/cpu, posix/mem, cgroups/cpu, cgroups/mem, cgroups/pids, cgroups/devices, gpu/nvidia, disk/du, filesystem/linux, namespaces/pid, network/ports)`,
	} {
		if _, _, err := IsolatorsFor(isolation, CgroupsOptions{}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("IsolatorsFor(%q) = %v, want %q", isolation, err, want)
		}
	}
	if _, err := NewDiskDu(DiskOptions{WatchInterval: -time.Second}); err == nil || !strings.Contains(err.Error(), "--container_disk_watch_interval") {
		t.Errorf("a negative interval: %v", err)
	}
}
