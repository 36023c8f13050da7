package batch

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// The functions of the built-in jobs, registered in every binary that
// links this package.
func init() {
	RegisterFlatMap("batch.words", func(string) (FlatMapFunc, error) {
		return func(r Record, emit func(Record)) {
			for _, w := range strings.Fields(r.Value) {
				emit(Record{Key: w, Value: "1"})
			}
		}, nil
	})
	RegisterReduce("batch.sum", func(string) (ReduceFunc, error) {
		return func(a, b string) string {
			x, _ := strconv.ParseInt(a, 10, 64)
			y, _ := strconv.ParseInt(b, 10, 64)
			return strconv.FormatInt(x+y, 10)
		}, nil
	})
	RegisterMap("batch.lineAsKey", func(_ string, r Record) Record { return Record{Key: r.Value} })
	RegisterFilter("batch.nonEmpty", func(_ string, r Record) bool { return strings.TrimSpace(r.Value) != "" })
	RegisterFlatMap("batch.kmeansAssign", func(arg string) (FlatMapFunc, error) {
		centers, err := parseCenters(arg)
		if err != nil {
			return nil, err
		}
		return func(r Record, emit func(Record)) {
			p, err := parseVector(r.Value)
			if err != nil || len(p) != len(centers[0]) {
				return
			}
			emit(Record{Key: strconv.Itoa(nearest(centers, p)), Value: "1 " + r.Value})
		}, nil
	})
	RegisterReduce("batch.vectorSum", func(string) (ReduceFunc, error) {
		return func(a, b string) string {
			x, _ := parseVector(a)
			y, _ := parseVector(b)
			for i := range x {
				if i < len(y) {
					x[i] += y[i]
				}
			}
			return formatVector(x)
		}, nil
	})
}

func parseVector(s string) ([]float64, error) {
	fields := strings.Fields(s)
	if len(fields) == 0 {
		return nil, fmt.Errorf("empty vector")
	}
	v := make([]float64, len(fields))
	for i, f := range fields {
		x, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return nil, err
		}
		v[i] = x
	}
	return v, nil
}

func formatVector(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = strconv.FormatFloat(x, 'g', -1, 64)
	}
	return strings.Join(parts, " ")
}

// parseCenters reads "x y;x y;..." (the kmeansAssign argument).
func parseCenters(s string) ([][]float64, error) {
	var cs [][]float64
	for _, part := range strings.Split(s, ";") {
		v, err := parseVector(part)
		if err != nil {
			return nil, fmt.Errorf("center %q: %w", part, err)
		}
		if len(cs) > 0 && len(v) != len(cs[0]) {
			return nil, fmt.Errorf("centers of different dimensions")
		}
		cs = append(cs, v)
	}
	return cs, nil
}

func nearest(centers [][]float64, p []float64) int {
	best, bestD := 0, math.Inf(1)
	for i, c := range centers {
		d := 0.0
		for j := range c {
			d += (c[j] - p[j]) * (c[j] - p[j])
		}
		if d < bestD {
			best, bestD = i, d
		}
	}
	return best
}

// Jobs lists the built-in jobs.
var Jobs = []string{"wordcount", "sort", "kmeans"}

// JobOptions tune the built-in jobs.
type JobOptions struct {
	// Partitions is the number of reduce partitions (output files).
	Partitions int
	// SplitSize is the largest input split (default DefaultSplitSize).
	SplitSize int64
	// K and Iterations are kmeans's number of clusters and most rounds;
	// it stops sooner once no center moves more than Epsilon.
	K, Iterations int
	Epsilon       float64
}

// RunBuiltin runs a built-in job over the text files in input, writing
// part files to output:
//   - wordcount: "word<TAB>count" lines, words split at white space, each
//     part file ordered by word;
//   - sort: the input lines in total (bytewise) order across the part files;
//   - kmeans: points, one per line as space-separated numbers, cached in
//     the executors; each iteration is a job over the cached points; the
//     output is one line per center, "index<TAB>coordinates".
func RunBuiltin(ctx context.Context, a *App, job, input, output string, opts JobOptions) error {
	if opts.Partitions <= 0 {
		opts.Partitions = 2
	}
	text := TextFile(input)
	if opts.SplitSize > 0 {
		text.WithSplitSize(opts.SplitSize)
	}
	switch job {
	case "wordcount":
		counts := text.FlatMap("batch.words", "").ReduceByKey("batch.sum", "", opts.Partitions)
		return a.SaveAsText(ctx, counts, output, FormatKV)
	case "sort":
		sorted := text.Map("batch.lineAsKey", "").SortByKey(opts.Partitions)
		return a.SaveAsText(ctx, sorted, output, FormatKeys)
	case "kmeans":
		return runKMeans(ctx, a, text, output, opts)
	}
	return fmt.Errorf("batch: unknown job %q (built-in jobs: %s)", job, strings.Join(Jobs, ", "))
}

func runKMeans(ctx context.Context, a *App, text *Dataset, output string, opts JobOptions) error {
	if opts.K <= 0 {
		opts.K = 2
	}
	if opts.Iterations <= 0 {
		opts.Iterations = 10
	}
	if opts.Epsilon <= 0 {
		opts.Epsilon = 1e-6
	}
	if entries, err := os.ReadDir(output); err == nil && len(entries) > 0 {
		return fmt.Errorf("batch: the output directory %s exists and is not empty", output)
	}
	points := text.Filter("batch.nonEmpty", "").Cache()
	// The first k distinct points of a sample are the initial centers.
	sample, err := a.Sample(ctx, points, 4*opts.K)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	var centers [][]float64
	for _, r := range sample {
		v, err := parseVector(r.Value)
		if err != nil {
			return fmt.Errorf("batch: kmeans: point %q: %w", r.Value, err)
		}
		if key := formatVector(v); !seen[key] && len(centers) < opts.K {
			seen[key] = true
			centers = append(centers, v)
		}
	}
	if len(centers) == 0 {
		return fmt.Errorf("batch: kmeans: no points in the input")
	}
	for it := 0; it < opts.Iterations; it++ {
		arg := make([]string, len(centers))
		for i, c := range centers {
			arg[i] = formatVector(c)
		}
		sums, err := a.Collect(ctx, points.FlatMap("batch.kmeansAssign", strings.Join(arg, ";")).ReduceByKey("batch.vectorSum", "", opts.Partitions))
		if err != nil {
			return err
		}
		moved := 0.0
		for _, r := range sums {
			i, err := strconv.Atoi(r.Key)
			if err != nil || i < 0 || i >= len(centers) {
				return fmt.Errorf("batch: kmeans: bad center index %q", r.Key)
			}
			v, err := parseVector(r.Value)
			if err != nil || len(v) != len(centers[i])+1 || v[0] == 0 {
				return fmt.Errorf("batch: kmeans: bad sum %q", r.Value)
			}
			next := make([]float64, len(centers[i]))
			d := 0.0
			for j := range next {
				next[j] = v[j+1] / v[0]
				d += (next[j] - centers[i][j]) * (next[j] - centers[i][j])
			}
			moved = math.Max(moved, math.Sqrt(d))
			centers[i] = next
		}
		if moved <= opts.Epsilon {
			break
		}
	}
	sort.Slice(centers, func(i, j int) bool { return formatVector(centers[i]) < formatVector(centers[j]) })
	var b strings.Builder
	for i, c := range centers {
		fmt.Fprintf(&b, "%d\t%s\n", i, formatVector(c))
	}
	if err := os.MkdirAll(output, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(output, "part-00000"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(output, "_SUCCESS"), nil, 0o644)
}
