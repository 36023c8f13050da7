package agent

import (
	"os"
	"testing"
	"time"

	"github.com/gomesos/gomesos/agent/containerizer"
	"github.com/gomesos/gomesos/executor/builtin"
	"github.com/gomesos/gomesos/internal/testutil"
)

// TestMain makes the test binary serve as the containers' supervisor and
// the built-in executors: the agent under test starts it with
// containerizer.SuperviseArg, or with builtin.EnvKind set, as it starts
// gomesos.
func TestMain(m *testing.M) {
	containerizer.MainIfSupervisor()
	builtin.MainIfExecutor()
	os.Exit(m.Run())
}

// patience bounds every wait for a condition.
const patience = 30 * time.Second

// eventually waits until cond holds, failing the test after patience. It is
// for conditions outside the test's reach (process death, files); protocol
// events are awaited on channels.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testutil.WaitFor(t, what, patience, cond)
}

// checkLeaks fails the test if, after its other cleanups (so after the
// agent and the fake master are stopped), goroutines it started are still
// running or child processes it started are still alive. Call it first.
func checkLeaks(t *testing.T) {
	t.Helper()
	testutil.CheckChildren(t)
	testutil.CheckGoroutines(t)
}
