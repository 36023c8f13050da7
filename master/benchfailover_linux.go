package master

import (
	"os/exec"
	"syscall"
)

// dieWithBench has the kernel kill a master process the bench started
// should the bench's process die first (it stops them itself otherwise).
func dieWithBench(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
