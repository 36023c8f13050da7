package benchbatch

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gomesos/gomesos/agent/containerizer"
	"github.com/gomesos/gomesos/batch"
	"github.com/gomesos/gomesos/executor/builtin"
	"github.com/gomesos/gomesos/internal/testutil"
)

func TestMain(m *testing.M) {
	containerizer.MainIfSupervisor()
	builtin.MainIfExecutor()
	batch.MainIfExecutor()
	os.Exit(m.Run())
}

// A small run measures the single-process count and the framework's with
// one and two executors, each answer checked, and ends with the line.
func TestSmallRun(t *testing.T) {
	testutil.CheckChildren(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out strings.Builder
	res, err := Run(ctx, Options{Size: 300 << 10, Executors: []int{1, 2}, SplitSize: 64 << 10, WorkDir: t.TempDir()}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log(out.String())
	if len(res.Seconds) != 2 || res.Words == 0 || res.Distinct == 0 {
		t.Errorf("result %+v", res)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, "wordcount 300KB: go ") || !strings.Contains(last, "; executors=1 ") || !strings.Contains(last, "; executors=2 ") {
		t.Errorf("last line %q", last)
	}
}

func TestBadOptions(t *testing.T) {
	for _, o := range []Options{{Size: 0}, {Size: 1, Executors: []int{0}}} {
		if _, err := Run(context.Background(), o, &strings.Builder{}); !errors.Is(err, ErrBadOptions) {
			t.Errorf("Run(%+v) = %v, want ErrBadOptions", o, err)
		}
	}
}
