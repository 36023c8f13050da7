package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gomesos/gomesos/internal/benchbatch"
	"github.com/gomesos/gomesos/internal/flagx"
)

// runBenchBatch is `gomesos bench batch`: the batch framework's word count
// against a single-process one (see package benchbatch).
func runBenchBatch(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench batch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	job := fs.String("job", "wordcount", "the job to measure (only wordcount)")
	size := int64(1 << 30)
	fs.Var(flagx.Bytes{B: &size}, "size", "text to generate and count (e.g. 1GB, 256MB)")
	executors := fs.String("executors", "1,2,4", "the executor counts to run with, comma-separated")
	var opts benchbatch.Options
	fs.Var(flagx.Bytes{B: &opts.SplitSize}, "split_size", "input split size (default 16MB)")
	fs.StringVar(&opts.WorkDir, "work_dir", "", "where the input, outputs and agent go (default: a temporary directory, removed at the end)")
	level := fs.String("logging_level", "ERROR", "the cluster's log level: INFO, WARNING, ERROR or DEBUG")
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			return 0
		}
		return 2
	}
	if *job != "wordcount" {
		fmt.Fprintf(stderr, "gomesos bench batch: --job: only wordcount is measured, not %q\n", *job)
		return 2
	}
	for _, f := range strings.Split(*executors, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			fmt.Fprintf(stderr, "gomesos bench batch: --executors: %q is not a positive count\n", f)
			return 2
		}
		opts.Executors = append(opts.Executors, n)
	}
	opts.Size = size
	log, _, err := newLogger(stderr, *level)
	if err != nil {
		fmt.Fprintln(stderr, "gomesos bench batch:", err)
		return 2
	}
	opts.Logger = log
	if _, err := benchbatch.Run(ctx, opts, stdout); err != nil {
		fmt.Fprintln(stderr, "gomesos bench batch:", err)
		if errors.Is(err, benchbatch.ErrBadOptions) {
			return 2
		}
		return 1
	}
	return 0
}
