package batch

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/v1/mesos"
)

func TestParseConstraints(t *testing.T) {
	good := map[string]string{
		"":                        "",
		"rack:r1":                 "rack:r1",
		" rack : r1 , r2 ;zone:a": "rack:r1,r2;zone:a",
		"gpu;zone:a":              "gpu;zone:a",
	}
	for in, want := range good {
		c, err := ParseConstraints(in)
		if err != nil {
			t.Errorf("ParseConstraints(%q): %v", in, err)
			continue
		}
		if c.String() != want {
			t.Errorf("ParseConstraints(%q) = %q, want %q", in, c.String(), want)
		}
	}
	bad := map[string]string{
		"rack:":           "empty value",
		"rack:r1,,r2":     "empty value",
		":r1":             "no attribute name",
		"rack:r1;;zone:a": "empty constraint",
		"rack:r1;":        "empty constraint",
		"rack:a;rack:b":   "constrained twice",
	}
	for in, want := range bad {
		if _, err := ParseConstraints(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseConstraints(%q) = %v, want an error saying %q", in, err, want)
		}
	}
}

func TestConstraintsMatchEachAttributeType(t *testing.T) {
	attrs := []*mesos.Attribute{
		{Name: proto.String("rack"), Type: mesos.Value_TEXT.Enum(), Text: &mesos.Value_Text{Value: proto.String("r1")}},
		{Name: proto.String("level"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(2)}},
		{Name: proto.String("disks"), Type: mesos.Value_SET.Enum(), Set: &mesos.Value_Set{Item: []string{"ssd", "hdd"}}},
		{Name: proto.String("ids"), Type: mesos.Value_RANGES.Enum(), Ranges: &mesos.Value_Ranges{Range: []*mesos.Value_Range{{Begin: proto.Uint64(10), End: proto.Uint64(20)}}}},
	}
	cases := map[string]bool{
		"":                       true,
		"rack:r1":                true,
		"rack:r2,r1":             true,
		"rack:r2":                false,
		"rack":                   true,
		"zone":                   false,
		"level:2.0":              true,
		"level:3":                false,
		"disks:ssd":              true,
		"disks:nvme":             false,
		"ids:15":                 true,
		"ids:21":                 false,
		"rack:r1;level:2;ids:10": true,
		"rack:r1;level:2;ids:9":  false,
	}
	for in, want := range cases {
		c, err := ParseConstraints(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Match(attrs); got != want {
			t.Errorf("%q matches: %v, want %v", in, got, want)
		}
	}
}

// Whatever the split size, every line is read by exactly one split, in
// order, including a last line without a newline and empty lines.
func TestSplitsReadEachLineOnce(t *testing.T) {
	dir := t.TempDir()
	var lines []string
	for i := 0; i < 200; i++ {
		lines = append(lines, strings.Repeat("x", i%13)+fmt.Sprint(i))
		if i%17 == 0 {
			lines = append(lines, "")
		}
	}
	content := strings.Join(lines, "\n") // no final newline
	if err := os.WriteFile(filepath.Join(dir, "f"), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int64{1, 2, 3, 7, 16, 100, 1 << 20} {
		splits, err := listSplits(dir, size, nil)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, s := range splits {
			if err := readSplit(s.path, s.off, s.len, func(l string) { got = append(got, l) }); err != nil {
				t.Fatal(err)
			}
		}
		if strings.Join(got, "\n") != content || len(got) != len(lines) {
			t.Errorf("split size %d: read %d lines, want %d, or not the same ones", size, len(got), len(lines))
		}
	}
}

func TestRecordsRoundTrip(t *testing.T) {
	in := []Record{{"", ""}, {"a\tb\n", "value"}, {strings.Repeat("k", 300), "\x00\xff"}}
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	for _, r := range in {
		if err := writeRecord(w, r); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	var out []Record
	if err := readRecords(bufio.NewReader(&buf), func(r Record) error { out = append(out, r); return nil }); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(out) != fmt.Sprint(in) {
		t.Errorf("read %q, want %q", out, in)
	}
	// A truncated block is an error, not fewer records.
	var b bytes.Buffer
	w = bufio.NewWriter(&b)
	writeRecord(w, Record{"key", "value"})
	w.Flush()
	whole := b.Bytes()
	err := readRecords(bufio.NewReader(bytes.NewReader(whole[:len(whole)-1])), func(Record) error { return nil })
	if err == nil {
		t.Error("a truncated block read without error")
	}
}

func TestRangePartitioner(t *testing.T) {
	p := Partitioner{Kind: partRange, N: 3, Bounds: []string{"f", "m"}}
	for key, want := range map[string]int{"a": 0, "f": 0, "fa": 1, "m": 1, "n": 2, "zz": 2} {
		if got := p.partition(key); got != want {
			t.Errorf("partition(%q) = %d, want %d", key, got, want)
		}
	}
	h := Partitioner{Kind: partHash, N: 4}
	seen := map[int]bool{}
	for i := 0; i < 100; i++ {
		k := fmt.Sprint("key", i)
		if h.partition(k) != h.partition(k) {
			t.Fatal("hash partition is not stable")
		}
		seen[h.partition(k)] = true
	}
	if len(seen) != 4 {
		t.Errorf("100 keys hashed into %d of 4 partitions", len(seen))
	}
}

// A dataset naming an unregistered function is refused before anything
// runs.
func TestUnknownFunctionIsRefused(t *testing.T) {
	ds := TextFile(t.TempDir()).FlatMap("no.such.function", "")
	if err := ds.checkFuncs(); err == nil || !strings.Contains(err.Error(), `"no.such.function"`) {
		t.Errorf("checkFuncs = %v, want an error naming the function", err)
	}
}

func TestProgressReportsWhereMapTasksRan(t *testing.T) {
	var b strings.Builder
	p := &progressPrinter{w: &b, start: time.Now(), last: map[int]int{}, local: map[int]int{}, away: map[int]int{}}
	for i, loc := range []string{"local", "local", "any"} {
		p.print(Event{Kind: TaskEnded, Stage: 1, Done: i + 1, Total: 3, Locality: loc})
	}
	p.print(Event{Kind: StageEnded, Stage: 1, StageName: "flatMap batch.words", Done: 3, Total: 3})
	p.print(Event{Kind: TaskEnded, Stage: 2, Done: 1, Total: 1, Locality: "no-pref"})
	p.print(Event{Kind: StageEnded, Stage: 2, StageName: "reduceByKey batch.sum", Done: 1, Total: 1})
	out := b.String()
	if !strings.Contains(out, "stage 1 (flatMap batch.words): done, 3/3 tasks, 2 of them where their input is, 1 elsewhere\n") {
		t.Errorf("no locality in the map stage's line:\n%s", out)
	}
	if !strings.Contains(out, "stage 2 (reduceByKey batch.sum): done, 1/1 tasks\n") {
		t.Errorf("the reduce stage's line:\n%s", out)
	}
}
