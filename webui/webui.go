// Package webui is the operator web UI, embedded in the binary and served
// by the master at "/". It owns only static files (HTML, CSS and
// JavaScript modules, no build step) and the handler that serves them:
// index.html at "/", the assets under /static/. The pages read everything
// from the master's operator API (/api/v1, SUBSCRIBE for live updates)
// and from the agents' /files endpoints; this package knows nothing of
// the master's state and must not reach into it.
package webui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strconv"
	"strings"
)

//go:embed static
var static embed.FS

// asset is one embedded file, read once, with its validator.
type asset struct {
	body        []byte
	contentType string
	etag        string
}

// contentTypes maps the extensions the UI ships to their media types;
// JavaScript modules must be served as JavaScript or browsers refuse them.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".json": "application/json",
}

// Handler serves the UI: index.html at "/" (and "/index.html"), the files
// of static/ under "/static/". Every other path is 404, so that the catch-all
// "/" of the master's mux does not answer unknown endpoints with a page.
// Responses carry a strong ETag and "Cache-Control: no-cache": browsers keep
// the files and revalidate them, getting 304 until the binary changes.
func Handler() http.Handler {
	assets, err := load()
	if err != nil {
		// The files are compiled in: failing here is a build defect.
		panic(fmt.Sprintf("webui: loading embedded files: %v", err))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := ""
		switch p := r.URL.Path; {
		case p == "/" || p == "/index.html":
			name = "index.html"
		case strings.HasPrefix(p, "/static/"):
			name = strings.TrimPrefix(p, "/static/")
		}
		a, ok := assets[name]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "Expecting 'GET' or 'HEAD', received '"+r.Method+"'", http.StatusMethodNotAllowed)
			return
		}
		h := w.Header()
		h.Set("ETag", a.etag)
		h.Set("Cache-Control", "no-cache")
		h.Set("X-Content-Type-Options", "nosniff")
		if etagMatches(r.Header.Get("If-None-Match"), a.etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		h.Set("Content-Type", a.contentType)
		h.Set("Content-Length", strconv.Itoa(len(a.body)))
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write(a.body)
	})
}

// load reads every embedded file, keyed by its path under static/.
func load() (map[string]asset, error) {
	root, err := fs.Sub(static, "static")
	if err != nil {
		return nil, fmt.Errorf("opening static/: %w", err)
	}
	out := make(map[string]asset)
	err = fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(root, p)
		if err != nil {
			return fmt.Errorf("reading %s: %w", p, err)
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			return fmt.Errorf("%s: no content type for %q", p, path.Ext(p))
		}
		sum := sha256.Sum256(body)
		out[p] = asset{body: bytes.Clone(body), contentType: ct, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("walking static/: %w", err)
	}
	return out, nil
}

// etagMatches reports whether an If-None-Match header names etag (or is "*").
func etagMatches(header, etag string) bool {
	for _, v := range strings.Split(header, ",") {
		v = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), "W/"))
		if v == etag || v == "*" {
			return true
		}
	}
	return false
}
