package fetcher

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ulikunitz/xz"
	"google.golang.org/protobuf/proto"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// server serves files by path and counts the requests for each.
type server struct {
	*httptest.Server
	files map[string][]byte
	hits  map[string]*atomic.Int64
}

func newServer(t *testing.T, files map[string][]byte) *server {
	s := &server{files: files, hits: map[string]*atomic.Int64{}}
	for p := range files {
		s.hits[p] = new(atomic.Int64)
	}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := s.files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		s.hits[r.URL.Path].Add(1)
		_, _ = w.Write(b)
	}))
	t.Cleanup(s.Close)
	return s
}

func newFetcher(t *testing.T, size int64) *Fetcher {
	t.Helper()
	f, err := New(Config{CacheDir: t.TempDir(), CacheSize: size})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func uri(v string, opts ...func(*mesos.CommandInfo_URI)) *mesos.CommandInfo_URI {
	u := &mesos.CommandInfo_URI{Value: proto.String(v)}
	for _, o := range opts {
		o(u)
	}
	return u
}

func executable(u *mesos.CommandInfo_URI) { u.Executable = proto.Bool(true) }
func noExtract(u *mesos.CommandInfo_URI)  { u.Extract = proto.Bool(false) }
func cached(u *mesos.CommandInfo_URI)     { u.Cache = proto.Bool(true) }
func output(name string) func(*mesos.CommandInfo_URI) {
	return func(u *mesos.CommandInfo_URI) { u.OutputFile = proto.String(name) }
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// tarball is a tar archive with a directory, a script (mode 0755), a file
// and a symlink.
func tarball(t *testing.T) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	add := func(h *tar.Header, body string) {
		h.Size = int64(len(body))
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(body)); err != nil {
			t.Fatal(err)
		}
	}
	add(&tar.Header{Name: "app/", Typeflag: tar.TypeDir, Mode: 0o755}, "")
	add(&tar.Header{Name: "app/run.sh", Typeflag: tar.TypeReg, Mode: 0o755}, "#!/bin/sh\necho from-archive\n")
	add(&tar.Header{Name: "app/data.txt", Typeflag: tar.TypeReg, Mode: 0o644}, "data")
	add(&tar.Header{Name: "app/link", Typeflag: tar.TypeSymlink, Linkname: "data.txt"}, "")
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gz(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	_, _ = w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func xzed(t *testing.T, b []byte) []byte {
	var buf bytes.Buffer
	w, err := xz.NewWriter(&buf)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// bz2 compresses with the system's bzip2 (Go has no bzip2 writer).
func bz2(t *testing.T, b []byte) []byte {
	bin, err := exec.LookPath("bzip2")
	if err != nil {
		t.Skip("no bzip2 on this host to make a .tar.bz2")
	}
	cmd := exec.Command(bin, "-c")
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func zipped(t *testing.T) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	h := &zip.FileHeader{Name: "app/run.sh", Method: zip.Deflate}
	h.SetMode(0o755)
	w, err := zw.CreateHeader(h)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write([]byte("#!/bin/sh\necho from-archive\n"))
	h = &zip.FileHeader{Name: "app/data.txt", Method: zip.Deflate}
	h.SetMode(0o644)
	w, _ = zw.CreateHeader(h)
	_, _ = w.Write([]byte("data"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Each archive type Mesos extracts is unpacked into the sandbox with its
// modes, and the archive itself stays.
func TestExtractsEachArchiveType(t *testing.T) {
	tb := tarball(t)
	cases := map[string]func() []byte{
		"/a.tar":     func() []byte { return tb },
		"/a.tar.gz":  func() []byte { return gz(t, tb) },
		"/a.tgz":     func() []byte { return gz(t, tb) },
		"/a.tar.xz":  func() []byte { return xzed(t, tb) },
		"/a.txz":     func() []byte { return xzed(t, tb) },
		"/a.zip":     func() []byte { return zipped(t) },
		"/a.tar.bz2": func() []byte { return bz2(t, tb) },
	}
	for name, make := range cases {
		t.Run(strings.TrimPrefix(name, "/"), func(t *testing.T) {
			srv := newServer(t, map[string][]byte{name: make()})
			sandbox := t.TempDir()
			if err := newFetcher(t, 0).Fetch(context.Background(), "agent", []*mesos.CommandInfo_URI{uri(srv.URL + name)}, sandbox); err != nil {
				t.Fatal(err)
			}
			if got := readFile(t, filepath.Join(sandbox, "app/data.txt")); got != "data" {
				t.Fatalf("app/data.txt = %q", got)
			}
			st, err := os.Stat(filepath.Join(sandbox, "app/run.sh"))
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o755 {
				t.Fatalf("app/run.sh has mode %v, want 0755", st.Mode().Perm())
			}
			if !strings.HasSuffix(name, ".zip") {
				if got := readFile(t, filepath.Join(sandbox, "app/link")); got != "data" {
					t.Fatalf("app/link reads %q", got)
				}
			}
			if _, err := os.Stat(filepath.Join(sandbox, filepath.Base(name))); err != nil {
				t.Fatalf("the archive is gone: %v", err)
			}
			out, err := exec.Command(filepath.Join(sandbox, "app/run.sh")).Output()
			if err != nil || string(out) != "from-archive\n" {
				t.Fatalf("running the extracted script: %q, %v", out, err)
			}
		})
	}
}

// extract: false leaves an archive packed; a plain .gz is gunzipped.
func TestExtractFalseAndPlainGzip(t *testing.T) {
	srv := newServer(t, map[string][]byte{"/a.tar": tarball(t), "/notes.txt.gz": gz(t, []byte("notes"))})
	sandbox := t.TempDir()
	err := newFetcher(t, 0).Fetch(context.Background(), "agent", []*mesos.CommandInfo_URI{
		uri(srv.URL+"/a.tar", noExtract), uri(srv.URL + "/notes.txt.gz"),
	}, sandbox)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(sandbox, "app")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("extract: false extracted: %v", err)
	}
	if got := readFile(t, filepath.Join(sandbox, "notes.txt")); got != "notes" {
		t.Fatalf("notes.txt = %q", got)
	}
}

// executable: true makes the file 0755 and runnable as ./name; an
// executable is never extracted; output_file renames, into a subdirectory.
func TestExecutableAndOutputFile(t *testing.T) {
	script := []byte("#!/bin/sh\necho hello\n")
	srv := newServer(t, map[string][]byte{"/bin/hello": script, "/a.tar": tarball(t)})
	sandbox := t.TempDir()
	err := newFetcher(t, 0).Fetch(context.Background(), "agent", []*mesos.CommandInfo_URI{
		uri(srv.URL+"/bin/hello", executable),
		uri(srv.URL+"/bin/hello", executable, output("tools/greet")),
		uri(srv.URL+"/a.tar", executable),
	}, sandbox)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"hello", "tools/greet", "a.tar"} {
		st, err := os.Stat(filepath.Join(sandbox, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o755 {
			t.Fatalf("%s has mode %v, want 0755", name, st.Mode().Perm())
		}
	}
	cmd := exec.Command("./hello")
	cmd.Dir = sandbox
	if out, err := cmd.Output(); err != nil || string(out) != "hello\n" {
		t.Fatalf("./hello: %q, %v", out, err)
	}
	if _, err := os.Stat(filepath.Join(sandbox, "app")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("an executable archive was extracted: %v", err)
	}
}

// file:// URIs and absolute paths are copied.
func TestLocalFiles(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "local.txt")
	if err := os.WriteFile(src, []byte("local"), 0o600); err != nil {
		t.Fatal(err)
	}
	sandbox := t.TempDir()
	err := newFetcher(t, 0).Fetch(context.Background(), "agent", []*mesos.CommandInfo_URI{
		uri(src, output("by-path")), uri("file://" + src),
	}, sandbox)
	if err != nil {
		t.Fatal(err)
	}
	if readFile(t, filepath.Join(sandbox, "by-path")) != "local" || readFile(t, filepath.Join(sandbox, "local.txt")) != "local" {
		t.Fatal("local files were not copied")
	}
}

// Failures name the URI and what went wrong, and stop the fetch there.
func TestErrorsNameTheURI(t *testing.T) {
	srv := newServer(t, map[string][]byte{"/ok": []byte("ok")})
	dir := t.TempDir()
	garbage := filepath.Join(dir, "bad.tar.gz")
	if err := os.WriteFile(garbage, []byte("not gzip"), 0o644); err != nil {
		t.Fatal(err)
	}
	evil := filepath.Join(dir, "evil.tar")
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	_ = tw.WriteHeader(&tar.Header{Name: "../escape", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1})
	_, _ = tw.Write([]byte("x"))
	_ = tw.Close()
	if err := os.WriteFile(evil, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		uri  *mesos.CommandInfo_URI
		want string
	}{
		{uri(srv.URL + "/missing"), "Failed to fetch '" + srv.URL + "/missing': Error downloading resource, received HTTP return code 404 (Not Found)"},
		{uri("ftp://example.com/x"), "Failed to fetch 'ftp://example.com/x': the scheme \"ftp\" is not supported"},
		{uri("relative/path"), "a relative path cannot be fetched"},
		{uri("http://[::1"), "not a valid URI"},
		{uri(srv.URL + "/"), "the URI names no file; give output_file"},
		{uri(srv.URL+"/ok", output("../out")), "output_file \"../out\" must be a relative path inside the sandbox"},
		{uri(filepath.Join(dir, "nope")), "Failed to fetch '" + filepath.Join(dir, "nope") + "': reading the local file"},
		{uri(dir), "is a directory"},
		{uri(garbage), "extracting \"bad.tar.gz\": not gzip data"},
		{uri(evil), "archive entry \"../escape\" points outside the sandbox"},
		{uri(""), "the URI is empty"},
	} {
		sandbox := filepath.Join(t.TempDir(), "sandbox")
		err := newFetcher(t, 0).Fetch(context.Background(), "agent", []*mesos.CommandInfo_URI{c.uri, uri(srv.URL + "/ok")}, sandbox)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("fetching %q: %v; want an error containing %q", c.uri.GetValue(), err, c.want)
			continue
		}
		if _, err := os.Stat(filepath.Join(sandbox, "ok")); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("fetching %q: the fetch went on after the failure", c.uri.GetValue())
		}
		if _, err := os.Stat(filepath.Join(filepath.Dir(sandbox), "escape")); err == nil {
			t.Errorf("fetching %q: an archive entry escaped the sandbox", c.uri.GetValue())
		}
	}
}

// A download that stalls fails after the stall timeout, and cancelling the
// context stops a fetch.
func TestStallTimeoutAndCancel(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "10")
		_, _ = w.Write([]byte("abc"))
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	f, err := New(Config{CacheDir: t.TempDir(), StallTimeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	err = f.Fetch(context.Background(), "agent", []*mesos.CommandInfo_URI{uri(srv.URL + "/slow")}, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "stalled for --fetcher_stall_timeout (200ms) after 3 bytes") {
		t.Fatalf("got %v, want a stall error", err)
	}
	f, _ = New(Config{CacheDir: t.TempDir()})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Fetch(ctx, "agent", []*mesos.CommandInfo_URI{uri(srv.URL + "/slow")}, t.TempDir()) }()
	cancel()
	if err := <-done; err == nil || !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v, want context.Canceled", err)
	}
}

func TestConfigRejectsBadFlags(t *testing.T) {
	for _, c := range []struct {
		cfg  Config
		want string
	}{
		{Config{CacheDir: "relative"}, "--fetcher_cache_dir must be an absolute path"},
		{Config{CacheSize: -1}, "--fetcher_cache_size must not be negative"},
		{Config{StallTimeout: -1}, "--fetcher_stall_timeout must not be negative"},
	} {
		if _, err := New(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("New(%+v) = %v, want %q", c.cfg, err, c.want)
		}
	}
}
