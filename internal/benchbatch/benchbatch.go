// Package benchbatch is `gomesos bench batch`: it generates text, counts
// its words in this one process (one goroutine, the way anyone would in
// Go), then starts a local cluster (a master and one agent in this process,
// executors as processes, as `gomesos local` does) and runs the batch
// framework's wordcount over the same text with 1, 2 and 4 executors,
// checking each answer against the single-process count. It reports MB/s
// of input for each.
//
// The last line it prints is the one to quote:
//
//	wordcount <size>: go <r> MB/s; executors=1 <r> MB/s; executors=2 <r> MB/s; ...
package benchbatch

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gomesos/gomesos/agent"
	"github.com/gomesos/gomesos/batch"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/master"
	"github.com/gomesos/gomesos/master/core"
)

// ErrBadOptions is wrapped by the errors of options that cannot run.
var ErrBadOptions = errors.New("benchbatch: bad options")

// Options configure a run.
type Options struct {
	// Size is how many bytes of text to generate (and count).
	Size int64
	// Executors lists the executor counts to run with (default 1, 2, 4).
	Executors []int
	// SplitSize is the input split size (default 16 MiB).
	SplitSize int64
	// WorkDir holds the input, the outputs and the agent; "" makes a
	// temporary one, removed at the end.
	WorkDir string
	// ExecutorBinary is the gomesos binary (supervisor and executor);
	// default this process's.
	ExecutorBinary string
	Logger         *slog.Logger
}

// Result is what a run measured.
type Result struct {
	Size       int64
	GoSeconds  float64
	Executors  []int
	Seconds    []float64
	Words      int
	Distinct   int
	ResultLine string
}

func mbps(size int64, secs float64) float64 { return float64(size) / 1e6 / secs }

// Run generates the text, times the counts and prints a line for each.
func Run(ctx context.Context, opts Options, w io.Writer) (Result, error) {
	if opts.Size < 1 {
		return Result{}, fmt.Errorf("%w: --size must be positive", ErrBadOptions)
	}
	if len(opts.Executors) == 0 {
		opts.Executors = []int{1, 2, 4}
	}
	for _, n := range opts.Executors {
		if n < 1 {
			return Result{}, fmt.Errorf("%w: --executors: %d is not a positive count", ErrBadOptions, n)
		}
	}
	if opts.SplitSize <= 0 {
		opts.SplitSize = 16 << 20
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.ExecutorBinary == "" {
		exe, err := os.Executable()
		if err != nil {
			return Result{}, err
		}
		opts.ExecutorBinary = exe
	}
	workDir := opts.WorkDir
	if workDir == "" {
		d, err := os.MkdirTemp("", "gomesos-bench-batch")
		if err != nil {
			return Result{}, err
		}
		defer os.RemoveAll(d)
		workDir = d
	}
	res := Result{Size: opts.Size}
	input := filepath.Join(workDir, "input")
	fmt.Fprintf(w, "generating %s of text in %s\n", codec.FormatBytes(opts.Size), input)
	if err := generate(input, opts.Size); err != nil {
		return res, err
	}

	start := time.Now()
	counts, err := countWords(input)
	if err != nil {
		return res, err
	}
	res.GoSeconds = time.Since(start).Seconds()
	for _, n := range counts {
		res.Words += n
	}
	res.Distinct = len(counts)
	fmt.Fprintf(w, "single-process go: %.1fs, %.1f MB/s (%d words, %d distinct)\n", res.GoSeconds, mbps(opts.Size, res.GoSeconds), res.Words, res.Distinct)

	maxExec := 0
	for _, n := range opts.Executors {
		maxExec = max(maxExec, n)
	}
	m, err := master.New(master.Config{IP: "127.0.0.1", Port: 0, Options: core.Options{Logger: log.With("component", "master")}})
	if err != nil {
		return res, fmt.Errorf("benchbatch: master: %w", err)
	}
	mctx, stopM := context.WithCancel(context.Background())
	mdone := make(chan error, 1)
	go func() { mdone <- m.Run(mctx) }()
	defer func() { stopM(); <-mdone }()
	a, err := agent.New(agent.Config{
		Master:         m.Addr(),
		IP:             "127.0.0.1",
		WorkDir:        filepath.Join(workDir, "agent"),
		Resources:      fmt.Sprintf("cpus:%d;mem:%d;disk:1024", maxExec, maxExec*600),
		ExecutorBinary: opts.ExecutorBinary,
		Logger:         log.With("component", "agent"),
	})
	if err != nil {
		return res, fmt.Errorf("benchbatch: agent: %w", err)
	}
	actx, stopA := context.WithCancel(context.Background())
	adone := make(chan error, 1)
	go func() { adone <- a.Run(actx) }()
	defer func() { stopA(); <-adone }()

	line := fmt.Sprintf("wordcount %s: go %.1f MB/s", codec.FormatBytes(opts.Size), mbps(opts.Size, res.GoSeconds))
	for _, n := range opts.Executors {
		secs, err := runOnce(ctx, m.Addr(), n, input, filepath.Join(workDir, "out-"+strconv.Itoa(n)), opts, counts, log)
		if err != nil {
			return res, fmt.Errorf("benchbatch: %d executor(s): %w", n, err)
		}
		res.Executors = append(res.Executors, n)
		res.Seconds = append(res.Seconds, secs)
		fmt.Fprintf(w, "executors=%d: %.1fs, %.1f MB/s (the answer equals the single-process count)\n", n, secs, mbps(opts.Size, secs))
		line += fmt.Sprintf("; executors=%d %.1f MB/s", n, mbps(opts.Size, secs))
	}
	res.ResultLine = line
	fmt.Fprintln(w, line)
	return res, nil
}

// runOnce runs the wordcount as its own app with n executors and checks
// its output. The time runs from the job's start, once the n executors
// have registered, to its end.
func runOnce(ctx context.Context, masterAddr string, n int, input, output string, opts Options, counts map[string]int, log *slog.Logger) (float64, error) {
	app, err := batch.Start(ctx, batch.Config{
		Masters: []string{masterAddr}, Name: fmt.Sprintf("bench-batch-%d", n),
		CoresMax: float64(n), ExecutorCores: 1, ExecutorMemory: 512,
		MinRegisteredRatio: 1, ExecutorCommand: opts.ExecutorBinary,
		Logger: log.With("component", "driver"),
	})
	if err != nil {
		return 0, err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		app.Stop(sctx)
	}()
	// Warm the executors up with a job over nothing much: the figure is
	// the word count's, not the executors' start.
	warm := filepath.Join(filepath.Dir(output), "warm-"+strconv.Itoa(n))
	if err := os.MkdirAll(warm, 0o755); err != nil {
		return 0, err
	}
	if err := os.WriteFile(filepath.Join(warm, "w"), []byte("warm up\n"), 0o644); err != nil {
		return 0, err
	}
	if _, err := app.Collect(ctx, batch.TextFile(warm).FlatMap("batch.words", "")); err != nil {
		return 0, fmt.Errorf("warming up: %w", err)
	}
	start := time.Now()
	err = batch.RunBuiltin(ctx, app, "wordcount", input, output, batch.JobOptions{Partitions: n, SplitSize: opts.SplitSize})
	secs := time.Since(start).Seconds()
	if err != nil {
		return 0, err
	}
	got, err := readCounts(output)
	if err != nil {
		return 0, err
	}
	if len(got) != len(counts) {
		return 0, fmt.Errorf("the output has %d words, the single-process count %d", len(got), len(counts))
	}
	for w, c := range counts {
		if got[w] != c {
			return 0, fmt.Errorf("the output counts %q %d times, the single-process count %d", w, got[w], c)
		}
	}
	return secs, nil
}

// generate writes size bytes of lines of random words (Zipf-distributed
// over a vocabulary of 50,000) into files of at most 64 MiB.
func generate(dir string, size int64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	zipf := rand.NewZipf(rng, 1.1, 1, 49999)
	const fileSize = 64 << 20
	for f := 0; size > 0; f++ {
		n := min(size, fileSize)
		size -= n
		file, err := os.Create(filepath.Join(dir, fmt.Sprintf("part-%04d.txt", f)))
		if err != nil {
			return err
		}
		bw := bufio.NewWriterSize(file, 1<<20)
		var written int64
		for written < n {
			line := make([]byte, 0, 128)
			for words := 1 + rng.IntN(15); words > 0; words-- {
				if len(line) > 0 {
					line = append(line, ' ')
				}
				line = append(line, 'w')
				line = strconv.AppendUint(line, zipf.Uint64(), 10)
			}
			line = append(line, '\n')
			if written+int64(len(line)) > n {
				line = line[:n-written]
				line[len(line)-1] = '\n'
			}
			bw.Write(line)
			written += int64(len(line))
		}
		if err := bw.Flush(); err != nil {
			file.Close()
			return err
		}
		if err := file.Close(); err != nil {
			return err
		}
	}
	return nil
}

// countWords is the single-process count: every file, line by line.
func countWords(dir string) (map[string]int, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for _, e := range entries {
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			for _, w := range strings.Fields(sc.Text()) {
				counts[w]++
			}
		}
		f.Close()
		if err := sc.Err(); err != nil {
			return nil, err
		}
	}
	return counts, nil
}

func readCounts(dir string) (map[string]int, error) {
	names, err := filepath.Glob(filepath.Join(dir, "part-*"))
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for _, name := range names {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		for _, l := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
			if l == "" {
				continue
			}
			w, c, ok := strings.Cut(l, "\t")
			n, err := strconv.Atoi(c)
			if !ok || err != nil {
				return nil, fmt.Errorf("%s: bad line %q", name, l)
			}
			counts[w] = n
		}
	}
	return counts, nil
}
