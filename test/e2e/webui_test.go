package e2e

// The web UI in a real headless chromium against real gomesos processes:
// a task launched from the CLI shows live, and its stdout is readable from
// its sandbox; a follower hands the UI to the leader. Screenshots of every
// page go to $GOMESOS_SCREENSHOTS (CI: /tmp/gomesos-screenshots).

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/gomesos/gomesos/internal/browsertest"
)

func TestWebUIShowsACLITaskLiveAndItsStdout(t *testing.T) {
	ctx := browsertest.New(t) // skips when there is no chromium
	shots := browsertest.ScreenshotDir(t)
	local := startProc(t, "local", "--port=0", "--work_dir="+t.TempDir(), "--num_agents=2")
	masterURL := local.expect(t, `master (http://\S+) with 2 agent`)[1]
	waitFor(t, "two agents", func() bool {
		var s struct{ Slaves []any }
		getJSON(t, masterURL+"/master/slaves", &s)
		return len(s.Slaves) == 2
	})
	const wait = 20 * time.Second

	browsertest.Do(t, ctx, "opening the tasks page", wait, chromedp.Navigate(masterURL+"/#/tasks"))
	browsertest.WaitTrue(t, ctx, "the event stream", wait, `document.querySelector('#conn-dot').className === 'dot live'`)

	// The browser watches for the task while the CLI launches it; the
	// test notes when the master knows it and when the page shows it.
	seen := make(chan time.Time, 1)
	go func() {
		poll := chromedp.Poll[bool](`!!document.querySelector('tr[data-task-id="webui-test"]')`, chromedp.WithPollingInterval(10*time.Millisecond))
		pctx, cancel := context.WithTimeout(ctx, patience)
		defer cancel()
		if _, err := chromedp.Run(pctx, poll); err == nil {
			seen <- time.Now()
		}
		close(seen)
	}()
	exe := exec.Command(gomesosBin, "execute", "--master="+strings.TrimPrefix(masterURL, "http://"), "--name=webui-test",
		"--command=echo hello-from-task; sleep 30")
	var out bytes.Buffer
	exe.Stdout, exe.Stderr = &out, &out
	if err := exe.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = exe.Process.Kill()
		_ = exe.Wait()
		if t.Failed() {
			t.Logf("gomesos execute:\n%s", out.String())
		}
	})
	var known time.Time
	deadline := time.Now().Add(patience)
	for known.IsZero() && time.Now().Before(deadline) {
		var tasks struct {
			Tasks []struct{ ID string } `json:"tasks"`
		}
		if tryGetJSON(masterURL+"/master/tasks", &tasks) && len(tasks.Tasks) > 0 && tasks.Tasks[0].ID == "webui-test" {
			known = time.Now()
			break
		}
		// Not a wait for a condition: the poll dates the moment the
		// master knew the task, to within 5ms.
		time.Sleep(5 * time.Millisecond)
	}
	if known.IsZero() {
		t.Fatalf("the master never knew the task; execute said:\n%s", out.String())
	}
	shown, ok := <-seen
	if !ok {
		t.Fatal("the tasks page never showed the task")
	}
	if lag := shown.Sub(known); lag > time.Second {
		t.Errorf("the task showed %v after the master knew it, want within 1s", lag)
	} else {
		t.Logf("the task showed %v after the master knew it", lag.Round(time.Millisecond))
	}
	browsertest.WaitTrue(t, ctx, "the task running", wait, `!!document.querySelector('tr[data-task-id="webui-test"][data-state="TASK_RUNNING"]')`)
	browsertest.Screenshot(t, ctx, shots, "tasks")

	// Its stdout, through the sandbox browser.
	browsertest.Do(t, ctx, "opening the task", wait, chromedp.Click(`tr[data-task-id="webui-test"] a`))
	browsertest.WaitTrue(t, ctx, "the task's stdout", wait, `document.querySelector('#log')?.textContent.includes('hello-from-task')`)
	browsertest.WaitTrue(t, ctx, "the sandbox's files", wait, `[...document.querySelectorAll('#file-list a')].some(a => a.textContent.trim() === 'stderr')`)
	browsertest.Screenshot(t, ctx, shots, "task-sandbox")

	// The agent it runs on, with the task among its tasks.
	browsertest.Do(t, ctx, "opening the task's agent", wait, chromedp.Click(`#task-summary a[href^="#/agents/"]`))
	browsertest.WaitTrue(t, ctx, "the agent's tasks", wait, `!!document.querySelector('#agent-tasks tr[data-task-id="webui-test"]')`)
	browsertest.Screenshot(t, ctx, shots, "agent")

	// A weight set through the operator API shows on the roles page.
	resp, err := http.Post(masterURL+"/api/v1", "application/json",
		strings.NewReader(`{"type":"UPDATE_WEIGHTS","update_weights":{"weight_infos":[{"role":"analytics","weight":2.5}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("UPDATE_WEIGHTS: %s", resp.Status)
	}

	// Every other page, with what it must show.
	for _, p := range []struct{ name, hash, ready string }{
		{"overview", "#/", `document.querySelector('#active-tasks')?.textContent === '1' && document.querySelectorAll('svg.chart').length === 6`},
		{"agents", "#/agents", `document.querySelectorAll('tr[data-agent-id]').length === 2`},
		{"frameworks", "#/frameworks", `document.querySelectorAll('#fw-active tr[data-framework-id]').length === 1`},
		{"roles", "#/roles", `!!document.querySelector('tr[data-role="*"]') && document.querySelector('tr[data-weight-role="analytics"]')?.textContent === 'analytics2.5'`},
		{"maintenance", "#/maintenance", `document.querySelector('#mnt-note').textContent.startsWith('updated')`},
	} {
		browsertest.Do(t, ctx, "opening "+p.name, wait, chromedp.Navigate(masterURL+"/"+p.hash))
		browsertest.WaitTrue(t, ctx, p.name, wait, p.ready)
		browsertest.Screenshot(t, ctx, shots, p.name)
	}
	t.Logf("screenshots in %s", shots)
	if os.Getenv("GOMESOS_SCREENSHOTS") == "" {
		t.Log("set GOMESOS_SCREENSHOTS to keep them")
	}
}

// Mesos's UI on a master that does not lead goes to the leader's: the
// follower answers the UI's SUBSCRIBE with a redirect and names the leader
// in /master/state.
func TestWebUIOnAFollowerGoesToTheLeader(t *testing.T) {
	ctx := browsertest.New(t)
	h := startHA(t, 3)
	lead := h.leader()
	follower := (lead + 1) % 3
	browsertest.Do(t, ctx, "opening the UI at a follower", patience, chromedp.Navigate("http://"+h.addrs[follower]+"/#/agents"))
	browsertest.WaitTrue(t, ctx, "the UI at the leader, live", patience,
		`location.host === '`+h.addrs[lead]+`' && document.querySelector('#conn-dot').className === 'dot live'`)
	if loc, want := browsertest.Location(t, ctx), "http://"+h.addrs[lead]+"/#/agents"; loc != want {
		t.Errorf("the UI is at %s, want %s", loc, want)
	}
}

// The UI open at the leader when it dies goes, through another master,
// to the new leader's, and is live again there.
func TestWebUIFollowsTheLeaderThroughAFailover(t *testing.T) {
	ctx := browsertest.New(t)
	h := startHA(t, 3)
	lead := h.leader()
	browsertest.Do(t, ctx, "opening the UI at the leader", patience, chromedp.Navigate("http://"+h.addrs[lead]+"/#/frameworks"))
	browsertest.WaitTrue(t, ctx, "the stream live", patience, `document.querySelector('#conn-dot').className === 'dot live'`)
	h.kill(lead)
	next := h.leader()
	browsertest.WaitTrue(t, ctx, "the UI at the new leader, live", patience,
		`location.host === '`+h.addrs[next]+`' && document.querySelector('#conn-dot')?.className === 'dot live'`)
	if loc, want := browsertest.Location(t, ctx), "http://"+h.addrs[next]+"/#/frameworks"; loc != want {
		t.Errorf("the UI is at %s, want %s", loc, want)
	}
}
