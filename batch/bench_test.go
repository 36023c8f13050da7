package batch

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkWordCountMapTask runs one wordcount map task (read a split,
// split words, combine counts, write the shuffle buckets) in process; its
// MB/s is the executor's own speed, without the cluster.
func BenchmarkWordCountMapTask(b *testing.B) {
	dir := b.TempDir()
	var sb strings.Builder
	for i := 0; sb.Len() < 8<<20; i++ {
		sb.WriteString("the quick brown fox jumps over the lazy dog w")
		sb.WriteString(strings.Repeat("x", i%50))
		sb.WriteByte('\n')
	}
	path := filepath.Join(dir, "in")
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		b.Fatal(err)
	}
	w := newWorker("e1", "127.0.0.1:0", dir)
	spec := TaskSpec{
		ID:     "bench",
		Source: Source{Kind: sourceText, Path: path, Length: int64(sb.Len())},
		Ops:    []Op{{Kind: opFlatMap, Fn: "batch.words"}},
		Sink:   Sink{Kind: sinkShuffle, Shuffle: 1, Partitioner: Partitioner{Kind: partHash, N: 4}, Combine: "batch.sum"},
	}
	b.SetBytes(int64(sb.Len()))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res := w.run(context.Background(), spec)
		if res.Error != "" {
			b.Fatal(res.Error)
		}
	}
}
