package main

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// Bad batch submit command lines fail before anything starts, naming the
// flag.
func TestBatchSubmitBadFlags(t *testing.T) {
	in := t.TempDir()
	base := []string{"batch", "submit", "--master=127.0.0.1:1", "--input=" + in, "--output=" + filepath.Join(in, "out")}
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"batch"}, "Usage: gomesos batch submit"},
		{[]string{"batch", "run"}, "Usage: gomesos batch submit"},
		{base, "--job is required"},
		{append(base[:len(base):len(base)], "--job=pagerank"), `--job: unknown job "pagerank"`},
		{[]string{"batch", "submit", "--job=sort", "--output=/tmp/x"}, "--input is required"},
		{[]string{"batch", "submit", "--job=sort", "--input=/tmp/x"}, "--output is required"},
		{append(base[:len(base):len(base)], "--job=sort", "--constraints=rack:"), "--constraints: constraint \"rack:\" has an empty value"},
		{append(base[:len(base):len(base)], "--job=sort", "--constraints=:r1"), "--constraints: constraint \":r1\" has no attribute name"},
		{append(base[:len(base):len(base)], "--job=sort", "--constraints=rack:r1;;zone:a"), "--constraints: empty constraint"},
		{append(base[:len(base):len(base)], "--job=sort", "--constraints=rack:r1;rack:r2"), `--constraints: attribute "rack" is constrained twice`},
		{append(base[:len(base):len(base)], "--job=sort", "--cores_max=-1"), "--cores_max"},
		{append(base[:len(base):len(base)], "--job=sort", "--cores_max=1", "--executor_cores=2"), "--cores_max=1 is less than one executor's --executor_cores=2"},
		{append(base[:len(base):len(base)], "--job=sort", "--executor_cores=0"), "--executor_cores"},
		{append(base[:len(base):len(base)], "--job=sort", "--executor_memory=lots"), "-executor_memory"},
		{append(base[:len(base):len(base)], "--job=sort", "--executor_memory=1MB"), "--executor_memory must be at least 32MB"},
		{append(base[:len(base):len(base)], "--job=sort", "--locality_wait=soon"), "-locality_wait"},
		{append(base[:len(base):len(base)], "--job=sort", "--task_max_failures=0"), "--task_max_failures"},
		{append(base[:len(base):len(base)], "--job=sort", "--executor_idle_timeout=idle"), "-executor_idle_timeout"},
		{append(base[:len(base):len(base)], "--job=sort", "--min_registered_ratio=2"), "--min_registered_ratio"},
		{append(base[:len(base):len(base)], "--job=sort", "--executor_timeout=0s"), "--executor_timeout must be positive"},
		{append(base[:len(base):len(base)], "--job=sort", "--ship_executor=sometimes"), `--ship_executor must be remote, always or never, not "sometimes"`},
		{append(base[:len(base):len(base)], "--job=kmeans", "--k=0"), "--k must be at least 1"},
		{append(base[:len(base):len(base)], "--job=sort", "extra"), `unexpected arguments ["extra"]`},
		{[]string{"bench", "batch", "--job=sort"}, "--job: only wordcount"},
		{[]string{"bench", "batch", "--executors=1,x"}, `--executors: "x"`},
		{[]string{"bench", "batch", "--size=0B"}, "--size must be positive"},
	}
	for _, c := range cases {
		code, _, stderr := runCLI(c.args...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("gomesos %s: exit %d, stderr %q; want exit 2 and %q", strings.Join(c.args, " "), code, stderr, c.want)
		}
	}
}

// gomesos batch submit runs a word count on a real cluster, prints its
// progress, exits 0 with the output complete, and tears its framework
// down; a job that cannot succeed exits 1 with the reason.
func TestBatchSubmitWordCount(t *testing.T) {
	master := startCluster(t)
	in := t.TempDir()
	if err := os.WriteFile(filepath.Join(in, "a.txt"), []byte("to be or\nnot to be\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(in, "b.txt"), []byte("be quick\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithTimeout(context.Background(), 2*waitTimeout)
	defer cancel()
	code := runIn(ctx, "batch", []string{"submit", "--master=" + master, "--job=wordcount", "--input=" + in, "--output=" + out,
		"--cores_max=1", "--executor_memory=64MB", "--partitions=2"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	for _, want := range []string{"stage 1 (flatMap batch.words): 0/2 tasks", "stage 2 (reduceByKey batch.sum): done, 2/2 tasks", "wordcount finished"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, stdout.String())
		}
	}
	var lines []string
	for _, p := range []string{"part-00000", "part-00001"} {
		b, err := os.ReadFile(filepath.Join(out, p))
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, strings.Fields(strings.ReplaceAll(string(b), "\t", "="))...)
	}
	sort.Strings(lines)
	if got, want := strings.Join(lines, " "), "be=3 not=1 or=1 quick=1 to=2"; got != want {
		t.Errorf("counts %q, want %q", got, want)
	}
	resp, err := http.Get("http://" + master + "/master/frameworks")
	if err != nil {
		t.Fatal(err)
	}
	var fws struct {
		Frameworks          []struct{ Name string }
		CompletedFrameworks []struct{ Name string } `json:"completed_frameworks"`
	}
	err = json.NewDecoder(resp.Body).Decode(&fws)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if len(fws.Frameworks) != 0 || len(fws.CompletedFrameworks) != 1 || fws.CompletedFrameworks[0].Name != "gomesos-batch-wordcount" {
		t.Errorf("after submit returned, the master has frameworks %v and completed %v; want only gomesos-batch-wordcount, completed", fws.Frameworks, fws.CompletedFrameworks)
	}

	// An output directory that is not empty fails the job, with the reason.
	var stdout2, stderr2 syncBuffer
	code = runIn(ctx, "batch", []string{"submit", "--master=" + master, "--job=wordcount", "--input=" + in, "--output=" + out,
		"--cores_max=1", "--executor_memory=64MB"}, &stdout2, &stderr2)
	if code != 1 || !strings.Contains(stderr2.String(), "exists and is not empty") {
		t.Errorf("resubmitting into a full output: exit %d, stderr %q; want 1 and the reason", code, stderr2.String())
	}
}
