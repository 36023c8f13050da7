package containerizer

import (
	"os"
	"testing"
)

// TestMain lets the test binary serve as the containers' supervisor, as the
// gomesos binary does: the containerizers under test run it with
// SuperviseArg.
func TestMain(m *testing.M) {
	MainIfSupervisor()
	for _, hook := range mainHooks {
		hook()
	}
	os.Exit(m.Run())
}

// mainHooks run before the tests and may make the process something else
// (and exit): the helper processes some tests start.
var mainHooks []func()

// supervisor is the binary the tests' containerizers run as supervisor:
// this test binary.
func supervisor(t testing.TB) string {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return self
}
