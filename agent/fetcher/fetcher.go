// Package fetcher owns Mesos's fetcher: it puts an executor's
// CommandInfo.uris into the container's sandbox before the executor starts.
// It downloads http:// and https:// URIs, copies file:// URIs and absolute
// paths, extracts archives (tar, tgz/tar.gz, tar.bz2, tar.xz, zip, and
// gunzips plain .gz), marks files executable, renames them to output_file,
// and keeps URIs with cache: true in a size-bounded LRU cache.
//
// It runs on the agent's container workers, never on the agent's loop, and
// writes only inside the sandbox (through os.Root, so no archive entry or
// output_file escapes it) and inside its cache directory. It knows nothing
// of tasks or status updates: a failed fetch is an error naming the URI,
// which the agent turns into a failed launch.
package fetcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// Defaults of the Mesos agent flags the fetcher reads.
const (
	// DefaultCacheDir is --fetcher_cache_dir.
	DefaultCacheDir = "/tmp/mesos/fetch"
	// DefaultCacheSize is --fetcher_cache_size (2GB).
	DefaultCacheSize int64 = 2 << 30
	// DefaultStallTimeout is --fetcher_stall_timeout: a download that
	// makes no progress for this long is abandoned.
	DefaultStallTimeout = time.Minute
)

// Config configures a Fetcher. Zero fields take the defaults above.
type Config struct {
	// CacheDir holds cached downloads, one directory per agent ID under
	// <CacheDir>/slaves (as Mesos lays it out).
	CacheDir string
	// CacheSize bounds the bytes the cache keeps.
	CacheSize int64
	// StallTimeout abandons a download that receives nothing for this long.
	StallTimeout time.Duration
	// Client makes the HTTP requests; default a client with no overall
	// timeout (the stall timeout and the context bound it).
	Client *http.Client
	// Logger receives the fetcher's logs; default discards them.
	Logger *slog.Logger
	// NoCache fetches URIs marked cache: true directly, as if they were
	// not: for a fetcher outside the agent (the default executor fetching
	// its tasks' URIs), which has no cache of its own.
	NoCache bool
}

// Fetcher fetches URIs into sandboxes. It is safe for concurrent use.
type Fetcher struct {
	cfg Config
	log *slog.Logger

	mu     sync.Mutex
	caches map[string]*cache // by agent ID
}

// New returns a Fetcher. It touches no disk until the first fetch.
func New(cfg Config) (*Fetcher, error) {
	if cfg.CacheDir == "" {
		cfg.CacheDir = DefaultCacheDir
	}
	if !filepath.IsAbs(cfg.CacheDir) {
		return nil, fmt.Errorf("fetcher: --fetcher_cache_dir must be an absolute path, not %q", cfg.CacheDir)
	}
	if cfg.CacheSize < 0 {
		return nil, fmt.Errorf("fetcher: --fetcher_cache_size must not be negative")
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.StallTimeout < 0 {
		return nil, fmt.Errorf("fetcher: --fetcher_stall_timeout must not be negative")
	}
	if cfg.StallTimeout == 0 {
		cfg.StallTimeout = DefaultStallTimeout
	}
	if cfg.Client == nil {
		cfg.Client = &http.Client{}
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Fetcher{cfg: cfg, log: log, caches: make(map[string]*cache)}, nil
}

// Fetch puts every URI into the directory sandbox, creating it, in order,
// and stops at the first that fails. The error names the URI and what went
// wrong. agentID picks the cache directory; ctx cancels the fetch.
func (f *Fetcher) Fetch(ctx context.Context, agentID string, uris []*mesos.CommandInfo_URI, sandbox string) error {
	if len(uris) == 0 {
		return nil
	}
	if err := os.MkdirAll(sandbox, 0o755); err != nil {
		return fmt.Errorf("creating the sandbox: %w", err)
	}
	root, err := os.OpenRoot(sandbox)
	if err != nil {
		return fmt.Errorf("opening the sandbox: %w", err)
	}
	defer root.Close()
	return f.FetchInto(ctx, agentID, uris, root, nil)
}

// FetchInto is Fetch into a sandbox the caller opened (the agent opens it
// through its work directory, so no symbolic link leads elsewhere). When
// progress is not nil, a line for each URI fetched, and the error that
// stopped the fetch, are written to it, as Mesos's fetcher writes to the
// sandbox's stderr.
func (f *Fetcher) FetchInto(ctx context.Context, agentID string, uris []*mesos.CommandInfo_URI, sandbox *os.Root, progress io.Writer) error {
	say := func(format string, args ...any) {
		if progress != nil {
			fmt.Fprintf(progress, format+"\n", args...)
		}
	}
	for _, u := range uris {
		start := time.Now()
		say("Fetching URI '%s'", u.GetValue())
		if err := f.fetchOne(ctx, agentID, u, sandbox); err != nil {
			err = fmt.Errorf("Failed to fetch '%s': %w", u.GetValue(), err)
			say("%v", err)
			return err
		}
		say("Fetched '%s' in %s", u.GetValue(), time.Since(start).Round(time.Millisecond))
		f.log.Info("fetched", "uri", u.GetValue(), "sandbox", sandbox.Name(), "took", time.Since(start))
	}
	return nil
}

func (f *Fetcher) fetchOne(ctx context.Context, agentID string, u *mesos.CommandInfo_URI, root *os.Root) error {
	name, err := outputName(u)
	if err != nil {
		return err
	}
	if dir := path.Dir(name); dir != "." {
		if err := root.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("creating %q in the sandbox: %w", dir, err)
		}
	}
	if u.GetCache() && !f.cfg.NoCache {
		err = f.cacheFor(agentID).fetch(ctx, f, u.GetValue(), root, name)
	} else {
		err = f.fetchTo(ctx, u.GetValue(), root, name)
	}
	if err != nil {
		return err
	}
	if u.GetExecutable() {
		if err := root.Chmod(name, 0o755); err != nil {
			return fmt.Errorf("making %q executable: %w", name, err)
		}
		return nil // as Mesos: an executable is never extracted
	}
	if u.Extract == nil || u.GetExtract() {
		if err := extract(root, name); err != nil {
			return fmt.Errorf("extracting %q: %w", name, err)
		}
	}
	return nil
}

// outputName is the file's name in the sandbox: output_file, or the last
// element of the URI's path.
func outputName(u *mesos.CommandInfo_URI) (string, error) {
	v := u.GetValue()
	if v == "" {
		return "", errors.New("the URI is empty")
	}
	if out := u.GetOutputFile(); out != "" {
		clean := path.Clean(out)
		if path.IsAbs(clean) || clean == "." || clean == ".." || strings.HasPrefix(clean, "../") {
			return "", fmt.Errorf("output_file %q must be a relative path inside the sandbox", out)
		}
		return clean, nil
	}
	p := v
	if pu, err := url.Parse(v); err == nil && pu.Scheme != "" {
		p = pu.Path
	}
	base := path.Base(p)
	if base == "/" || base == "." || base == ".." || base == "" {
		return "", errors.New("the URI names no file; give output_file")
	}
	return base, nil
}

// source classifies a URI: an HTTP(S) URL, or a local file.
func source(v string) (httpURL, file string, err error) {
	if strings.HasPrefix(v, "/") {
		return "", v, nil
	}
	u, err := url.Parse(v)
	if err != nil {
		return "", "", fmt.Errorf("not a valid URI: %w", err)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "https":
		return v, "", nil
	case "file":
		if u.Host != "" && u.Host != "localhost" {
			return "", "", fmt.Errorf("file URIs must name a local path, not host %q", u.Host)
		}
		if !strings.HasPrefix(u.Path, "/") {
			return "", "", errors.New("file URIs must hold an absolute path")
		}
		return "", u.Path, nil
	case "":
		return "", "", errors.New("a relative path cannot be fetched (Gomesos has no --frameworks_home); give an absolute path or a URI")
	default:
		return "", "", fmt.Errorf("the scheme %q is not supported (http, https, file and absolute paths are)", u.Scheme)
	}
}

// fetchTo downloads or copies v into the sandbox file name (replacing it).
func (f *Fetcher) fetchTo(ctx context.Context, v string, root *os.Root, name string) error {
	out, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("creating %q in the sandbox: %w", name, err)
	}
	_, err = f.copyFrom(ctx, v, out)
	if cerr := out.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("writing %q: %w", name, cerr)
	}
	if err != nil {
		_ = root.Remove(name)
	}
	return err
}

// copyFrom writes the content at v to w and returns its size.
func (f *Fetcher) copyFrom(ctx context.Context, v string, w io.Writer) (int64, error) {
	httpURL, file, err := source(v)
	if err != nil {
		return 0, err
	}
	if file != "" {
		return copyFile(file, w)
	}
	return f.download(ctx, httpURL, w)
}

func copyFile(file string, w io.Writer) (int64, error) {
	in, err := os.Open(file)
	if err != nil {
		return 0, fmt.Errorf("reading the local file: %w", err)
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return 0, fmt.Errorf("reading the local file: %w", err)
	}
	if st.IsDir() {
		return 0, fmt.Errorf("%s is a directory, not a file", file)
	}
	n, err := io.Copy(w, in)
	if err != nil {
		return n, fmt.Errorf("copying the local file: %w", err)
	}
	return n, nil
}

// download GETs u into w. A response other than 200 is an error naming the
// code; a body that stalls for the stall timeout is abandoned.
func (f *Fetcher) download(ctx context.Context, u string, w io.Writer) (int64, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, fmt.Errorf("not a valid URI: %w", err)
	}
	stalled := errors.New("download stalled")
	stall := time.AfterFunc(f.cfg.StallTimeout, func() { cancel(stalled) })
	defer stall.Stop()
	resp, err := f.cfg.Client.Do(req)
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, stalled) {
			return 0, fmt.Errorf("no response within --fetcher_stall_timeout (%s)", f.cfg.StallTimeout)
		}
		return 0, fmt.Errorf("downloading: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("Error downloading resource, received HTTP return code %d (%s)", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	stall.Reset(f.cfg.StallTimeout)
	n, err := io.Copy(w, &progressReader{r: resp.Body, onRead: func() { stall.Reset(f.cfg.StallTimeout) }})
	if err != nil {
		if cause := context.Cause(ctx); errors.Is(cause, stalled) {
			return n, fmt.Errorf("the download stalled for --fetcher_stall_timeout (%s) after %d bytes", f.cfg.StallTimeout, n)
		}
		return n, fmt.Errorf("downloading after %d bytes: %w", n, err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return n, fmt.Errorf("downloaded %d bytes of %d", n, resp.ContentLength)
	}
	return n, nil
}

type progressReader struct {
	r      io.Reader
	onRead func()
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.onRead()
	}
	return n, err
}
