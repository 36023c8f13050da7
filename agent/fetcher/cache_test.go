package fetcher

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

func fetchOne(t *testing.T, f *Fetcher, u *mesos.CommandInfo_URI) string {
	t.Helper()
	sandbox := t.TempDir()
	if err := f.Fetch(context.Background(), "agent", []*mesos.CommandInfo_URI{u}, sandbox); err != nil {
		t.Fatal(err)
	}
	return sandbox
}

// A cached URI is downloaded once and copied into every sandbox after;
// an uncached one is downloaded each time.
func TestCacheHitAndMiss(t *testing.T) {
	srv := newServer(t, map[string][]byte{"/a.bin": bytes.Repeat([]byte("a"), 100), "/plain": []byte("p")})
	f := newFetcher(t, 1000)
	for range 3 {
		sb := fetchOne(t, f, uri(srv.URL+"/a.bin", cached, executable))
		if got := readFile(t, filepath.Join(sb, "a.bin")); len(got) != 100 {
			t.Fatalf("a.bin has %d bytes", len(got))
		}
		if st, _ := os.Stat(filepath.Join(sb, "a.bin")); st.Mode().Perm() != 0o755 {
			t.Fatalf("a cached executable has mode %v", st.Mode().Perm())
		}
		fetchOne(t, f, uri(srv.URL+"/plain"))
	}
	if n := srv.hits["/a.bin"].Load(); n != 1 {
		t.Fatalf("the cached URI was downloaded %d times, want 1", n)
	}
	if n := srv.hits["/plain"].Load(); n != 3 {
		t.Fatalf("the uncached URI was downloaded %d times, want 3", n)
	}
	if n, b := f.CacheUsage("agent"); n != 1 || b != 100 {
		t.Fatalf("cache holds %d entries, %d bytes; want 1, 100", n, b)
	}
	// Each agent ID has its own cache directory.
	if _, err := os.Stat(filepath.Join(f.cfg.CacheDir, "slaves", "agent", "1")); err != nil {
		t.Fatalf("the cache file is not under slaves/<agent id>: %v", err)
	}
}

// When a new entry does not fit, the least recently used one goes; an
// entry larger than the whole cache is fetched without caching.
func TestCacheEvictsLeastRecentlyUsed(t *testing.T) {
	srv := newServer(t, map[string][]byte{
		"/a":    bytes.Repeat([]byte("a"), 400),
		"/b":    bytes.Repeat([]byte("b"), 400),
		"/c":    bytes.Repeat([]byte("c"), 400),
		"/huge": bytes.Repeat([]byte("h"), 2000),
	})
	f := newFetcher(t, 1000)
	fetchOne(t, f, uri(srv.URL+"/a", cached))
	fetchOne(t, f, uri(srv.URL+"/b", cached))
	fetchOne(t, f, uri(srv.URL+"/a", cached)) // a is now the most recently used
	fetchOne(t, f, uri(srv.URL+"/c", cached)) // evicts b
	if n, b := f.CacheUsage("agent"); n != 2 || b != 800 {
		t.Fatalf("cache holds %d entries, %d bytes; want 2, 800", n, b)
	}
	fetchOne(t, f, uri(srv.URL+"/a", cached))
	fetchOne(t, f, uri(srv.URL+"/c", cached))
	fetchOne(t, f, uri(srv.URL+"/b", cached))
	for p, want := range map[string]int64{"/a": 1, "/b": 2, "/c": 1} {
		if n := srv.hits[p].Load(); n != want {
			t.Errorf("%s was downloaded %d times, want %d", p, n, want)
		}
	}
	sb := fetchOne(t, f, uri(srv.URL+"/huge", cached))
	if got := readFile(t, filepath.Join(sb, "huge")); len(got) != 2000 {
		t.Fatalf("huge has %d bytes", len(got))
	}
	fetchOne(t, f, uri(srv.URL+"/huge", cached))
	if n := srv.hits["/huge"].Load(); n != 2 {
		t.Fatalf("an entry larger than the cache was downloaded %d times, want 2 (never cached)", n)
	}
	if _, b := f.CacheUsage("agent"); b > 1000 {
		t.Fatalf("cache holds %d bytes, over its 1000", b)
	}
	ents, err := os.ReadDir(filepath.Join(f.cfg.CacheDir, "slaves", "agent"))
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := f.CacheUsage("agent"); len(ents) != n {
		t.Fatalf("cache directory holds %d files for %d entries", len(ents), n)
	}
}

// Concurrent fetches of one cached URI share one download; a failed one
// is not cached.
func TestCacheSharesDownloadsAndForgetsFailures(t *testing.T) {
	srv := newServer(t, map[string][]byte{"/a": bytes.Repeat([]byte("a"), 100)})
	f := newFetcher(t, 1000)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			errs <- f.Fetch(context.Background(), "agent", []*mesos.CommandInfo_URI{uri(srv.URL+"/a", cached)}, t.TempDir())
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.hits["/a"].Load(); n != 1 {
		t.Fatalf("8 concurrent cached fetches downloaded %d times, want 1", n)
	}
	for range 2 {
		if err := f.Fetch(context.Background(), "agent", []*mesos.CommandInfo_URI{uri(srv.URL+"/gone", cached)}, t.TempDir()); err == nil {
			t.Fatal("a 404 fetched")
		}
	}
	if n, _ := f.CacheUsage("agent"); n != 1 {
		t.Fatalf("cache holds %d entries after failures, want 1", n)
	}
}

// The cache directory is emptied before first use: a new agent does not
// trust what an earlier one left.
func TestCacheStartsEmpty(t *testing.T) {
	f := newFetcher(t, 1000)
	stale := filepath.Join(f.cfg.CacheDir, "slaves", "agent", "1")
	if err := os.MkdirAll(filepath.Dir(stale), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stale, []byte("stale"), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := newServer(t, map[string][]byte{"/x": []byte("fresh")})
	sb := fetchOne(t, f, uri(srv.URL+"/x", cached))
	if got := readFile(t, filepath.Join(sb, "x")); got != "fresh" {
		t.Fatalf("x = %q", got)
	}
	if got := readFile(t, stale); got != "fresh" {
		t.Fatalf("the stale cache file survived: %q", got)
	}
}
