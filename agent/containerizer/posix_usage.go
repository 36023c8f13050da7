package containerizer

import (
	"os/exec"
	"time"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// PosixCPU is the posix/cpu isolator: it isolates nothing, and measures a
// container's CPU time from its processes, as Mesos's posix/cpu does where
// there are no cgroups to read. Gomesos also counts the container's
// processes and threads.
type PosixCPU struct{}

// PosixMem is the posix/mem isolator: it isolates nothing, and measures a
// container's resident memory from its processes, as Mesos's posix/mem
// does. Gomesos also counts the container's processes and threads.
type PosixMem struct{}

var (
	_ ProcessMeasurer = PosixCPU{}
	_ ProcessMeasurer = PosixMem{}
)

func (PosixCPU) Name() string                           { return IsolatorPosixCPU }
func (PosixCPU) Prepare(*Spec, *exec.Cmd) error         { return nil }
func (PosixCPU) Isolate(string, int) error              { return nil }
func (PosixCPU) Update(string, []*mesos.Resource) error { return nil }
func (PosixCPU) Cleanup(string) error                   { return nil }
func (PosixMem) Name() string                           { return IsolatorPosixMem }
func (PosixMem) Prepare(*Spec, *exec.Cmd) error         { return nil }
func (PosixMem) Isolate(string, int) error              { return nil }
func (PosixMem) Update(string, []*mesos.Resource) error { return nil }
func (PosixMem) Cleanup(string) error                   { return nil }

// UsageOfProcesses implements ProcessMeasurer: the CPU time of the
// processes, summed.
func (PosixCPU) UsageOfProcesses(procs []ProcessUsage, st *mesos.ResourceStatistics) {
	var user, system time.Duration
	for _, p := range procs {
		user += p.UserTime
		system += p.SystemTime
	}
	st.CpusUserTimeSecs, st.CpusSystemTimeSecs = ptr(user.Seconds()), ptr(system.Seconds())
	countProcesses(procs, st)
}

// UsageOfProcesses implements ProcessMeasurer: the resident memory of the
// processes, summed.
func (PosixMem) UsageOfProcesses(procs []ProcessUsage, st *mesos.ResourceStatistics) {
	var rss uint64
	for _, p := range procs {
		rss += p.RSSBytes
	}
	st.MemRssBytes = ptr(rss)
	countProcesses(procs, st)
}

func countProcesses(procs []ProcessUsage, st *mesos.ResourceStatistics) {
	threads := 0
	for _, p := range procs {
		threads += p.Threads
	}
	st.Processes, st.Threads = ptr(uint32(len(procs))), ptr(uint32(threads))
}

func ptr[T any](v T) *T { return &v }
