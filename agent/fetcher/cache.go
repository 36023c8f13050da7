package fetcher

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
)

// cache keeps downloads of URIs fetched with cache: true, one file per URI,
// within a byte budget. When a new download does not fit, the least
// recently used entries that no fetch is copying are evicted; a download
// that cannot fit even then is fetched into the sandbox directly (Mesos's
// fallback: caching may fail, the fetch should not). Concurrent fetches of
// one URI share one download. The cache does not outlive the agent: its
// directory is emptied before the first use, as Mesos's agent clears its
// cache on start.
type cache struct {
	dir  string
	size int64

	mu      sync.Mutex
	cleared bool
	entries map[string]*entry
	lru     list.List // of *entry, most recently used first; complete entries only
	used    int64
	serial  int
}

type entry struct {
	uri   string
	file  string
	size  int64
	ready chan struct{} // closed when the download ended
	err   error         // why it is not in the cache (after ready)
	refs  int           // fetches copying from it
	elem  *list.Element
}

// errNotCached marks a download that was done but could not be kept.
var errNotCached = errors.New("not cached")

func (f *Fetcher) cacheFor(agentID string) *cache {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.caches[agentID]
	if c == nil {
		c = &cache{
			dir:     filepath.Join(f.cfg.CacheDir, "slaves", agentID),
			size:    f.cfg.CacheSize,
			entries: make(map[string]*entry),
		}
		f.caches[agentID] = c
	}
	return c
}

// CacheUsage reports how many entries the agent's cache holds and their
// bytes.
func (f *Fetcher) CacheUsage(agentID string) (entries int, bytes int64) {
	c := f.cacheFor(agentID)
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lru.Len(), c.used
}

func (c *cache) fetch(ctx context.Context, f *Fetcher, uri string, root *os.Root, name string) error {
	c.mu.Lock()
	if !c.cleared {
		if err := os.RemoveAll(c.dir); err != nil {
			c.mu.Unlock()
			return fmt.Errorf("clearing the fetcher cache %s: %w", c.dir, err)
		}
		if err := os.MkdirAll(c.dir, 0o755); err != nil {
			c.mu.Unlock()
			return fmt.Errorf("creating the fetcher cache %s (--fetcher_cache_dir): %w", c.dir, err)
		}
		c.cleared = true
	}
	if e := c.entries[uri]; e != nil {
		e.refs++
		c.mu.Unlock()
		select {
		case <-e.ready:
		case <-ctx.Done():
			c.release(e)
			return ctx.Err()
		}
		if e.err != nil {
			c.release(e)
			// The shared download failed or could not be kept: fetch on
			// our own, which names the URI's own error.
			return f.fetchTo(ctx, uri, root, name)
		}
		f.log.Debug("fetcher cache hit", "uri", uri)
		err := copyInto(e.file, root, name)
		c.release(e)
		return err
	}
	c.serial++
	e := &entry{uri: uri, file: filepath.Join(c.dir, strconv.Itoa(c.serial)), ready: make(chan struct{}), refs: 1}
	c.entries[uri] = e
	c.mu.Unlock()

	f.log.Debug("fetcher cache miss", "uri", uri)
	tmp := e.file + ".part"
	n, err := downloadFile(ctx, f, uri, tmp)
	c.mu.Lock()
	if err == nil {
		err = c.admit(e, tmp, n)
	}
	if err != nil {
		delete(c.entries, uri)
		e.err = err
	}
	close(e.ready)
	c.mu.Unlock()

	if errors.Is(err, errNotCached) {
		f.log.Info("fetched without caching: it does not fit in --fetcher_cache_size", "uri", uri, "bytes", n, "cache_size", c.size)
		err = copyInto(tmp, root, name)
		_ = os.Remove(tmp)
		c.release(e)
		return err
	}
	if err != nil {
		_ = os.Remove(tmp)
		c.release(e)
		return err
	}
	err = copyInto(e.file, root, name)
	c.release(e)
	return err
}

// admit makes room for n bytes, evicting the least recently used idle
// entries, and moves the download into the cache. Called with mu held.
func (c *cache) admit(e *entry, tmp string, n int64) error {
	if n > c.size {
		return errNotCached
	}
	for c.used+n > c.size {
		var victim *entry
		for el := c.lru.Back(); el != nil; el = el.Prev() {
			if v := el.Value.(*entry); v.refs == 0 {
				victim = v
				break
			}
		}
		if victim == nil {
			return errNotCached
		}
		c.evict(victim)
	}
	if err := os.Rename(tmp, e.file); err != nil {
		return fmt.Errorf("moving the download into the fetcher cache: %w", err)
	}
	e.size = n
	c.used += n
	e.elem = c.lru.PushFront(e)
	return nil
}

func (c *cache) evict(v *entry) {
	c.lru.Remove(v.elem)
	v.elem = nil
	delete(c.entries, v.uri)
	c.used -= v.size
	_ = os.Remove(v.file)
}

// release ends one fetch's use of an entry and marks it recently used.
func (c *cache) release(e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.refs--
	if e.elem != nil {
		c.lru.MoveToFront(e.elem)
	}
}

func downloadFile(ctx context.Context, f *Fetcher, uri, file string) (int64, error) {
	out, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return 0, fmt.Errorf("creating a file in the fetcher cache: %w", err)
	}
	n, err := f.copyFrom(ctx, uri, out)
	if cerr := out.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("writing to the fetcher cache: %w", cerr)
	}
	return n, err
}

// copyInto copies a cache file into the sandbox file name.
func copyInto(file string, root *os.Root, name string) error {
	in, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("reading the fetcher cache: %w", err)
	}
	defer in.Close()
	_ = root.Remove(name)
	return writeFile(root, name, in, 0o644)
}
