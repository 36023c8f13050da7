// Package browsertest drives a real headless browser (Debian's chromium,
// through the DevTools protocol with chromedp) for the web UI's tests,
// and writes their screenshots. Tests only; it serves no product code.
package browsertest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Browser finds chromium, or skips the test, saying so, when there is none
// (.ci/run installs it).
func Browser(t testing.TB) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium binary: apt-get install -y chromium")
	return ""
}

// New starts a headless chromium for the test and returns a context that
// drives one tab; the browser goes when the test ends. Uncaught JavaScript
// exceptions on the page fail the test; console errors are logged.
func New(t testing.TB) context.Context {
	t.Helper()
	bin := Browser(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox, // the tests run as root
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.WindowSize(1440, 1000),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("starting %s: %v", bin, err)
	}
	var (
		mu         sync.Mutex
		exceptions []string
	)
	console := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range console {
			if err != nil {
				return
			}
			switch {
			case m.IsException():
				mu.Lock()
				exceptions = append(exceptions, fmt.Sprintf("%s (%s:%d)", m.Text, m.URL, m.Line+1))
				mu.Unlock()
			case m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning:
				t.Logf("browser %s", m)
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, e := range exceptions {
			t.Errorf("JavaScript exception: %s", e)
		}
	})
	return ctx
}

// Do runs actions with a deadline, failing the test with what it was doing
// and what the page shows.
func Do(t testing.TB, ctx context.Context, what string, d time.Duration, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	if err := chromedp.Do(tctx, actions...); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText.slice(0, 3000) : ""`))
		t.Fatalf("%s: %v\nat %s, the page shows:\n%s", what, err, loc, body)
	}
}

// WaitTrue waits until a JavaScript expression is true on the page,
// checking it every 20ms. A page that navigates meanwhile (the poll's
// context goes with its document) is polled again.
func WaitTrue(t testing.TB, ctx context.Context, what string, d time.Duration, expr string) {
	t.Helper()
	poll := chromedp.Poll[bool](expr, chromedp.WithPollingInterval(20*time.Millisecond))
	Do(t, ctx, what, d, func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		for {
			_, err := poll(ctx, tg)
			if err == nil || ctx.Err() != nil || !navigated(err) {
				return chromedp.Void{}, err
			}
		}
	})
}

// navigated reports whether err is the browser's saying the document the
// poll ran in is gone.
func navigated(err error) bool {
	for _, s := range []string{"navigated", "Cannot find context", "context was destroyed"} {
		if strings.Contains(err.Error(), s) {
			return true
		}
	}
	return false
}

// ScreenshotDir is where screenshots go: $GOMESOS_SCREENSHOTS (created if
// needed; CI sets /tmp/gomesos-screenshots), else a directory of the test's.
func ScreenshotDir(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("GOMESOS_SCREENSHOTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("screenshot directory: %v", err)
	}
	return dir
}

// Screenshot writes the whole page as dir/name.png.
func Screenshot(t testing.TB, ctx context.Context, dir, name string) string {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(dir, name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatalf("writing %s: %v", p, err)
	}
	return p
}

// Location is the page's URL.
func Location(t testing.TB, ctx context.Context) string {
	t.Helper()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatalf("reading the location: %v", err)
	}
	return loc
}
