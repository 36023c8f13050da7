package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// fileServer serves fixed files over HTTP and counts the requests.
func fileServer(t *testing.T, files map[string][]byte) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		hits.Add(1)
		_, _ = w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// A framework that serves its executor binary over HTTP with executable:
// true and launches it as ./name gets it run from the sandbox (the issue's
// check: "a framework that puts its executor at an http URI with
// executable: true runs it").
func TestFetchedExecutorRuns(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(self)
	if err != nil {
		t.Fatal(err)
	}
	srv, _ := fileServer(t, map[string][]byte{"/dist/my-executor": bin})
	c := startCluster(t, clusterOptions{agents: 1})
	fw := startFramework(t, c, frameworkOptions{})
	o := fw.nextOffer()
	ex := &mesos.ExecutorInfo{
		ExecutorId: &mesos.ExecutorID{Value: ptr("fetched")},
		Command: &mesos.CommandInfo{
			Value:       ptr("./my-executor"),
			Uris:        []*mesos.CommandInfo_URI{{Value: ptr(srv.URL + "/dist/my-executor"), Executable: ptr(true)}},
			Environment: &mesos.Environment{Variables: []*mesos.Environment_Variable{{Name: ptr(customExecutorEnv), Value: ptr("1")}}},
		},
		Resources: commandTask("x", o, "cpus:0.1;mem:32", "").GetResources(),
	}
	task := commandTask("work", o, "cpus:0.1;mem:32", "")
	task.Command = nil
	task.Executor = ex
	if err := fw.client.Launch(ctxT(t), ids(o), []*mesos.TaskInfo{task}, nil); err != nil {
		t.Fatal(err)
	}
	if s := fw.nextUpdate(); s.GetState() != mesos.TaskState_TASK_RUNNING {
		t.Fatalf("first update %s %q, want TASK_RUNNING", s.GetState(), s.GetMessage())
	}
	if err := fw.client.Message(ctxT(t), o.GetAgentId(), ex.GetExecutorId(), []byte("finish work")); err != nil {
		t.Fatal(err)
	}
	if s := fw.nextUpdate(); s.GetState() != mesos.TaskState_TASK_FINISHED {
		t.Fatalf("after finish: %s", s.GetState())
	}
	dir := sandboxOf(t, c.agents[0].Addr(), "fetched")
	if _, err := os.Stat(dir + "/my-executor"); err != nil {
		t.Fatalf("the fetched executor is not in the sandbox: %v", err)
	}
}

// A command task's URIs are fetched into its sandbox: an archive is
// extracted, a script made executable, and a cached URI downloaded once
// for two tasks.
func TestCommandTaskFetchesURIs(t *testing.T) {
	var tb bytes.Buffer
	zw := gzip.NewWriter(&tb)
	tw := tar.NewWriter(zw)
	body := "payload"
	_ = tw.WriteHeader(&tar.Header{Name: "conf/app.conf", Typeflag: tar.TypeReg, Mode: 0o644, Size: int64(len(body))})
	_, _ = tw.Write([]byte(body))
	_ = tw.Close()
	_ = zw.Close()
	srv, hits := fileServer(t, map[string][]byte{
		"/conf.tgz": tb.Bytes(),
		"/run.sh":   []byte("#!/bin/sh\ngrep -q payload conf/app.conf && echo fetched-ok\n"),
	})
	c := startCluster(t, clusterOptions{agents: 1})
	fw := startFramework(t, c, frameworkOptions{})
	for _, id := range []string{"first", "second"} {
		o := fw.nextOffer()
		task := commandTask(id, o, "cpus:0.1;mem:32", "./run.sh")
		task.Command.Uris = []*mesos.CommandInfo_URI{
			{Value: ptr(srv.URL + "/conf.tgz"), Cache: ptr(true)},
			{Value: ptr(srv.URL + "/run.sh"), Executable: ptr(true), Cache: ptr(true)},
		}
		if err := fw.client.Launch(ctxT(t), ids(o), []*mesos.TaskInfo{task}, nil); err != nil {
			t.Fatal(err)
		}
		_, last := fw.waitTerminal(id)
		if last.GetState() != mesos.TaskState_TASK_FINISHED {
			t.Fatalf("%s ended %s %q, want TASK_FINISHED", id, last.GetState(), last.GetMessage())
		}
		dir := sandboxOf(t, c.agents[0].Addr(), id)
		if got := readFile(t, c.agents[0].Addr(), dir+"/stdout"); !strings.Contains(got, "fetched-ok") {
			t.Fatalf("%s's stdout %q lacks the script's output", id, got)
		}
	}
	if n := hits.Load(); n != 2 {
		t.Fatalf("two tasks with two cached URIs made %d downloads, want 2", n)
	}
}

// A fetch that fails ends the task TASK_FAILED with
// REASON_CONTAINER_LAUNCH_FAILED and a message naming the URI and the
// HTTP code (Mesos has no fetcher-specific reason).
func TestFailedFetchFailsTheTask(t *testing.T) {
	srv, _ := fileServer(t, map[string][]byte{})
	c := startCluster(t, clusterOptions{agents: 1})
	fw := startFramework(t, c, frameworkOptions{})
	o := fw.nextOffer()
	task := commandTask("nofile", o, "cpus:0.1;mem:32", "true")
	missing := srv.URL + "/missing.tar.gz"
	task.Command.Uris = []*mesos.CommandInfo_URI{{Value: ptr(missing)}}
	if err := fw.client.Launch(ctxT(t), ids(o), []*mesos.TaskInfo{task}, nil); err != nil {
		t.Fatal(err)
	}
	_, last := fw.waitTerminal("nofile")
	if last.GetState() != mesos.TaskState_TASK_FAILED || last.GetReason() != mesos.TaskStatus_REASON_CONTAINER_LAUNCH_FAILED {
		t.Fatalf("final status %s %s, want TASK_FAILED REASON_CONTAINER_LAUNCH_FAILED", last.GetState(), last.GetReason())
	}
	want := "Failed to fetch '" + missing + "': Error downloading resource, received HTTP return code 404"
	if !strings.Contains(last.GetMessage(), want) {
		t.Fatalf("message %q lacks %q", last.GetMessage(), want)
	}
	// The sandbox's stderr tells the same story.
	dir := sandboxOf(t, c.agents[0].Addr(), "nofile")
	if got := readFile(t, c.agents[0].Addr(), dir+"/stderr"); !strings.Contains(got, want) {
		t.Fatalf("the sandbox's stderr %q lacks %q", got, want)
	}
}
