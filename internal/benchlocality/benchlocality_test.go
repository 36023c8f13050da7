package benchlocality

import (
	"strings"
	"testing"
	"time"
)

// A small shape of the experiment: locality grows with the wait, a 5 s
// wait beats static partitioning both in local tasks and in job time, and
// the output ends with one line per setting.
func TestLocalityGrowsWithTheWait(t *testing.T) {
	var out strings.Builder
	res, err := Run(Options{Agents: 32, Slots: 2, Frameworks: 8, Jobs: 2, Tasks: 24, Stagger: 5 * time.Second, Seed: 3}, &out)
	if err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	t.Log(out.String())
	if len(res) != 4 {
		t.Fatalf("%d settings, want 4", len(res))
	}
	static, w0, w1, w5 := res[0], res[1], res[2], res[3]
	if !(w0.Local <= w1.Local && w1.Local <= w5.Local) {
		t.Errorf("locality does not grow with the wait: 0s %.1f%%, 1s %.1f%%, 5s %.1f%%", w0.Local, w1.Local, w5.Local)
	}
	if w5.Local <= static.Local || w5.Job >= static.Job {
		t.Errorf("wait=5s (%.1f%% local, job %s) does not beat static (%.1f%%, %s)", w5.Local, w5.Job, static.Local, static.Job)
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	tail := lines[len(lines)-4:]
	for i, prefix := range []string{"static local=", "wait=0s local=", "wait=1s local=", "wait=5s local="} {
		if !strings.HasPrefix(tail[i], prefix) || !strings.Contains(tail[i], "% job=") || !strings.HasSuffix(tail[i], "s") {
			t.Errorf("line %d of the last four is %q, want %q...%% job=...s", i, tail[i], prefix)
		}
	}
	for _, r := range res {
		if r.Tasks != 8*2*24 {
			t.Errorf("%s: %d tasks ran, want %d", r.Setting, r.Tasks, 8*2*24)
		}
	}
}

func TestBadOptionsAreRefused(t *testing.T) {
	for _, o := range []Options{{Agents: 4, Frameworks: 8}, {Replicas: 200}, {Waits: []time.Duration{-time.Second}}} {
		if _, err := Run(o, &strings.Builder{}); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}
