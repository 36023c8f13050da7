package e2e

import (
	"fmt"
	"os"

	"github.com/gomesos/gomesos/agent/containerizer"
)

// useOwnCgroupsRoot gives the gomesos agents this test binary starts (which
// use cgroups isolation by default where they can write cgroups) a cgroups
// root of their own, through MESOS_CGROUPS_ROOT, and returns it. Tests that
// SIGKILL an agent and then its containers' processes leave the
// containers' cgroups empty behind them; removeCgroupsRoot sweeps them.
func useOwnCgroupsRoot() string {
	root := fmt.Sprintf("gomesos-e2e-%d", os.Getpid())
	_ = os.Setenv("MESOS_CGROUPS_ROOT", root)
	return root
}

// removeCgroupsRoot removes the empty cgroups below root, and root, and
// says which still hold processes.
func removeCgroupsRoot(root string) {
	for _, dir := range containerizer.RemoveCgroupsRoot(root) {
		fmt.Fprintf(os.Stderr, "e2e: cgroup %s is left\n", dir)
	}
}
