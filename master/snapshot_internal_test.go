package master

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/gomesos/gomesos/internal/testutil"
	"github.com/gomesos/gomesos/master/core"
)

// The legacy endpoints and the metrics never hang on the loop: while it is
// busy with something else entirely (here, a step that does not end until
// the reads are done), they answer from the last published snapshot once
// freshWait has passed.
func TestReadersAnswerWhileTheLoopIsBusy(t *testing.T) {
	testutil.CheckGoroutines(t)
	m, err := New(Config{Options: core.Options{Logger: slog.New(slog.DiscardHandler)}, TickInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- m.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-ran; err != nil {
			t.Error(err)
		}
	}()

	busy, release := make(chan struct{}), make(chan struct{})
	stepped := make(chan error, 1)
	go func() { stepped <- m.do(func() { close(busy); <-release }) }()
	<-busy
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	for _, path := range []string{"/master/state", "/master/state-summary", "/master/frameworks", "/master/slaves", "/master/tasks", "/metrics/snapshot"} {
		resp, err := client.Get(m.URL() + path)
		if err != nil {
			t.Errorf("GET %s while the loop is busy: %v", path, err)
			continue
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("GET %s while the loop is busy: %s", path, resp.Status)
		}
	}
	close(release)
	if err := <-stepped; err != nil {
		t.Error(err)
	}
}

// While the recovered agents come back, the tick publishes every
// stormPublishEvery, and at every tick once fewer are left than came back
// since it last published.
func TestStormEndingIsPublishedAtEveryTick(t *testing.T) {
	for _, c := range []struct {
		left, before int
		ending       bool
	}{
		{10000, 0, false},    // the first tick after the election
		{9000, 10000, false}, // 1,000 back, 9,000 to come
		{3000, 6000, true},   // as many back as left
		{1000, 6000, true},
		{0, 500, true},
	} {
		if got := stormEnding(c.left, c.before); got != c.ending {
			t.Errorf("%d left, %d at the last publication: ending %v, want %v", c.left, c.before, got, c.ending)
		}
	}
}
