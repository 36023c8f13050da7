package webui_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gomesos/gomesos/webui"
)

func get(t *testing.T, srv *httptest.Server, path string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// "/" is the page; the modules it loads are JavaScript by Content-Type
// (browsers refuse modules served otherwise); anything else is 404.
func TestHandlerServesPageModulesAndNotFound(t *testing.T) {
	srv := httptest.NewServer(webui.Handler())
	defer srv.Close()

	resp, body := get(t, srv, "/", nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !strings.Contains(body, `<script type="module" src="/static/js/app.js">`) {
		t.Fatalf("GET / does not load the app module:\n%s", body)
	}

	for path, ct := range map[string]string{
		"/static/js/app.js":            "text/javascript; charset=utf-8",
		"/static/js/views/overview.js": "text/javascript; charset=utf-8",
		"/static/style.css":            "text/css; charset=utf-8",
		"/static/favicon.svg":          "image/svg+xml",
	} {
		resp, body := get(t, srv, path, nil)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != ct || body == "" {
			t.Errorf("GET %s: %d %q (%d bytes), want 200 %q", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body), ct)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", path)
		}
	}

	for _, path := range []string{"/nope", "/master/nope", "/static/", "/static/nope.js", "/static/../webui.go", "/index.htm"} {
		if resp, _ := get(t, srv, path, nil); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, resp.StatusCode)
		}
	}
}

// Files are revalidated by ETag: the same file is 304 Not Modified.
func TestHandlerRevalidatesByETag(t *testing.T) {
	srv := httptest.NewServer(webui.Handler())
	defer srv.Close()
	resp, _ := get(t, srv, "/static/js/api.js", nil)
	etag := resp.Header.Get("ETag")
	if etag == "" || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("ETag %q, Cache-Control %q", etag, resp.Header.Get("Cache-Control"))
	}
	if resp, body := get(t, srv, "/static/js/api.js", map[string]string{"If-None-Match": etag}); resp.StatusCode != http.StatusNotModified || body != "" {
		t.Errorf("If-None-Match %s: %d with %d bytes, want 304 and no body", etag, resp.StatusCode, len(body))
	}
	if resp, _ := get(t, srv, "/static/js/api.js", map[string]string{"If-None-Match": `"other"`}); resp.StatusCode != http.StatusOK {
		t.Errorf("If-None-Match another tag: %d, want 200", resp.StatusCode)
	}
	if resp, _ := get(t, srv, "/static/style.css", map[string]string{"If-None-Match": etag}); resp.StatusCode != http.StatusOK {
		t.Errorf("another file's tag: %d, want 200", resp.StatusCode)
	}
}

func TestHandlerRefusesOtherMethods(t *testing.T) {
	srv := httptest.NewServer(webui.Handler())
	defer srv.Close()
	resp, err := http.Post(srv.URL+"/", "text/plain", strings.NewReader("x"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" || !strings.Contains(string(b), "POST") {
		t.Errorf("POST /: %d Allow %q %q", resp.StatusCode, resp.Header.Get("Allow"), b)
	}
}
