package agent

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/agent/core"
	"github.com/gomesos/gomesos/agent/fetcher"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// A launch fetches its URIs on the container workers before the
// containerizer runs anything; destroying the container while the fetch
// hangs stops it (as Mesos kills its fetcher) and fails the launch, and
// the executor is never started.
func TestContainerOpsFetchThenLaunchAndDestroyStopsAFetch(t *testing.T) {
	asked := make(chan struct{}, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ok" {
			_, _ = w.Write([]byte("ok"))
			return
		}
		asked <- struct{}{}
		<-r.Context().Done() // hangs until the client goes away
	}))
	defer srv.Close()
	fetch, err := fetcher.New(fetcher.Config{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeContainers{}
	launched := make(chan core.ContainerLaunched, 4)
	work := t.TempDir()
	w := newContainerOps(f, fetch, work, slog.New(slog.DiscardHandler), func(in core.Input) bool {
		launched <- in.(core.ContainerLaunched)
		return true
	})
	w.start()
	defer w.close()

	dir := filepath.Join(work, "sandbox")
	w.launch(core.LaunchSpec{ID: "good", Directory: dir, URIs: []*mesos.CommandInfo_URI{{Value: proto.String(srv.URL + "/ok")}}})
	if l := <-launched; l.ContainerID != "good" || l.Err != nil {
		t.Fatalf("launch with a good URI: %+v", l)
	}
	if got := f.log(); !slices.Equal(got, []string{"launch good"}) {
		t.Fatalf("calls: %v", got)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "ok")); err != nil || string(b) != "ok" {
		t.Fatalf("the sandbox's ok: %q, %v", b, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "stderr")); !strings.Contains(string(b), "Fetching URI '"+srv.URL+"/ok'") {
		t.Fatalf("the sandbox's stderr does not log the fetch: %q", b)
	}

	// A sandbox outside the work directory is refused before anything is
	// fetched.
	w.launch(core.LaunchSpec{ID: "outside", Directory: t.TempDir(), URIs: []*mesos.CommandInfo_URI{{Value: proto.String(srv.URL + "/ok")}}})
	if l := <-launched; l.ContainerID != "outside" || l.Err == nil {
		t.Fatalf("launch into a sandbox outside the work directory: %+v", l)
	}

	w.launch(core.LaunchSpec{ID: "hung", Directory: filepath.Join(work, "hung"), URIs: []*mesos.CommandInfo_URI{{Value: proto.String(srv.URL + "/hang")}}})
	select {
	case <-asked:
	case <-time.After(patience):
		t.Fatal("the fetch never asked the server")
	}
	w.destroy("hung")
	select {
	case l := <-launched:
		if l.ContainerID != "hung" || l.Err == nil || !strings.Contains(l.Err.Error(), "Failed to fetch '"+srv.URL+"/hang'") {
			t.Fatalf("after destroy: %+v", l)
		}
	case <-time.After(patience):
		t.Fatal("destroying the container did not stop its fetch")
	}
	deadline := time.Now().Add(patience)
	for !slices.Contains(f.log(), "destroy hung") {
		if time.Now().After(deadline) {
			t.Fatalf("the destroy never ran: %v", f.log())
		}
		time.Sleep(time.Millisecond)
	}
	if slices.Contains(f.log(), "launch hung") {
		t.Fatal("a container whose fetch failed was launched")
	}
	// containerizer/fetcher/task_fetches_*: the good fetch and the hung
	// one (the sandbox outside was refused before any fetch).
	if ok, failed := w.fetchesSucceeded.Load(), w.fetchesFailed.Load(); ok != 1 || failed != 1 {
		t.Errorf("fetches succeeded %d, failed %d; want 1 and 1", ok, failed)
	}
}
