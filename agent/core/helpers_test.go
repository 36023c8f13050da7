package core

import (
	"testing"

	"github.com/gomesos/gomesos/agent/internal/agenttest"
	"github.com/gomesos/gomesos/executor/builtin"
)

// The messages and calls the tests feed in come from agenttest, shared by
// the core's tests and the driver's.
var (
	testFramework = agenttest.Framework
	scalar        = agenttest.Scalar
	commandTask   = agenttest.CommandTask
	runTask       = agenttest.RunTask
	execCall      = agenttest.ExecCall
	update        = agenttest.Update
)

// The variable the core sets to pick a built-in executor is the one the
// gomesos binary reads.
func TestExecutorKindEnvMatchesBuiltin(t *testing.T) {
	if executorKindEnv != builtin.EnvKind {
		t.Fatalf("executorKindEnv = %q, builtin.EnvKind = %q", executorKindEnv, builtin.EnvKind)
	}
}
