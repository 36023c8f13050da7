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
