package cli

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomesos/gomesos/internal/testutil"
)

// fakeStateServer serves the legacy endpoints from testdata files.
func fakeStateServer(t *testing.T, files map[string]string) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, ok := files[r.URL.Path]
		if !ok || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Errorf("reading %s: %v", name, err)
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestTables(t *testing.T) {
	testutil.CheckGoroutines(t)
	srv := fakeStateServer(t, map[string]string{
		"/master/slaves":     "master_slaves.json",
		"/master/frameworks": "master_frameworks_running.json",
		"/master/tasks":      "master_tasks.json",
	})
	master := strings.TrimPrefix(srv.URL, "http://")
	dead := fmt.Sprintf("127.0.0.1:%d", testutil.FreePort(t))
	noLeader := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "No leader elected", http.StatusServiceUnavailable)
	}))
	t.Cleanup(noLeader.Close)
	for _, tc := range []struct {
		name string
		run  func(context.Context, string, *bytes.Buffer) error
		want string
	}{
		{"agents", func(ctx context.Context, m string, w *bytes.Buffer) error { return Agents(ctx, m, w) }, `
ID                                       HOSTNAME   CPUS  MEM    DISK    USED CPUS  USED MEM  ACTIVE
e3cc0bb0-0a9e-4a88-be9e-59b508e23bbe-S0  localhost  2     23081  252899  0          0         true
`},
		{"frameworks", func(ctx context.Context, m string, w *bytes.Buffer) error { return Frameworks(ctx, m, w) }, `
ID                                         NAME                    ACTIVE  TASKS  CPUS  MEM
afea9262-9905-432c-9de6-9a8411f6abc8-0000  mesos-execute instance  true    1      0.1   32
`},
		{"tasks", func(ctx context.Context, m string, w *bytes.Buffer) error { return Tasks(ctx, m, w) }, `
ID          NAME        FRAMEWORK                                  AGENT                                    STATE
hello-task  hello-task  afea9262-9905-432c-9de6-9a8411f6abc8-0000  afea9262-9905-432c-9de6-9a8411f6abc8-S0  TASK_FINISHED
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Both "host:port" and a URL name the master; in a list,
			// masters that are down or have no leader are passed over.
			for _, m := range []string{master, srv.URL, dead + ", " + noLeader.URL + "," + master} {
				var out bytes.Buffer
				if err := tc.run(context.Background(), m, &out); err != nil {
					t.Fatal(err)
				}
				if got, want := out.String(), strings.TrimPrefix(tc.want, "\n"); got != want {
					t.Errorf("master %s: got\n%s\nwant\n%s", m, got, want)
				}
			}
		})
	}
	http.DefaultClient.CloseIdleConnections()
}

// With no frameworks registered only the header is printed.
func TestFrameworksEmpty(t *testing.T) {
	srv := fakeStateServer(t, map[string]string{"/master/frameworks": "master_frameworks.json"})
	var out bytes.Buffer
	if err := Frameworks(context.Background(), srv.URL, &out); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "ID  NAME  ACTIVE  TASKS  CPUS  MEM\n" {
		t.Errorf("got %q", got)
	}
}

// A non-leading master redirects with a protocol-relative Location, which is
// followed.
func TestTablesFollowRedirect(t *testing.T) {
	leader := fakeStateServer(t, map[string]string{"/master/slaves": "master_slaves.json"})
	follower := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", "//"+strings.TrimPrefix(leader.URL, "http://")+r.URL.Path)
		w.WriteHeader(http.StatusTemporaryRedirect)
	}))
	t.Cleanup(follower.Close)
	var out bytes.Buffer
	if err := Agents(context.Background(), follower.URL, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "localhost") {
		t.Errorf("got %q", out.String())
	}
}

// Errors name the URL and the status, and carry the master's text.
func TestTablesErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "No leader elected", http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	for name, f := range map[string]func(context.Context, string, *bytes.Buffer) error{
		"agents":     func(ctx context.Context, m string, w *bytes.Buffer) error { return Agents(ctx, m, w) },
		"frameworks": func(ctx context.Context, m string, w *bytes.Buffer) error { return Frameworks(ctx, m, w) },
		"tasks":      func(ctx context.Context, m string, w *bytes.Buffer) error { return Tasks(ctx, m, w) },
	} {
		var out bytes.Buffer
		err := f(context.Background(), srv.URL, &out)
		if err == nil {
			t.Errorf("%s: no error", name)
			continue
		}
		for _, want := range []string{srv.URL + "/master/", "503 Service Unavailable", "No leader elected"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("%s: error %q lacks %q", name, err, want)
			}
		}
		if out.Len() != 0 {
			t.Errorf("%s: printed %q on error", name, out.String())
		}
	}

	// Not JSON.
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("<html>")) }))
	t.Cleanup(bad.Close)
	if err := Tasks(context.Background(), bad.URL, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), bad.URL) {
		t.Errorf("non-JSON answer: %v", err)
	}
	// Unreachable, and unusable addresses.
	if err := Tasks(context.Background(), "zk://localhost:2181/mesos", &bytes.Buffer{}); err == nil {
		t.Error("zk:// master accepted")
	}
	if err := Tasks(context.Background(), "", &bytes.Buffer{}); err == nil {
		t.Error("empty master accepted")
	}
}
