package codec

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func writeRecords(t testing.TB, recs ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := NewRecordWriter(&buf)
	for _, r := range recs {
		if err := w.WriteRecord([]byte(r)); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// readAll reads records until an error, returning the records and the
// error that ended the stream.
func readAll(r io.Reader, max int) ([]string, error) {
	rr := NewRecordReader(r, max)
	var out []string
	for {
		rec, err := rr.ReadRecord()
		if err != nil {
			return out, err
		}
		out = append(out, string(rec))
	}
}

func TestRecordWriterFormat(t *testing.T) {
	got := string(writeRecords(t, `{"type":"HEARTBEAT"}`, "a", strings.Repeat("x", 12)))
	want := "20\n{\"type\":\"HEARTBEAT\"}1\na12\nxxxxxxxxxxxx"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// splitReader returns the stream in chunks cut at the given offsets, as an
// HTTP chunked body or a proxy might.
type splitReader struct {
	data []byte
	cuts []int // ascending offsets
}

func (s *splitReader) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		return 0, io.EOF
	}
	n := len(s.data)
	if len(s.cuts) > 0 {
		n = s.cuts[0]
		s.cuts = s.cuts[1:]
		for i := range s.cuts {
			s.cuts[i] -= n
		}
	}
	n = min(n, len(p))
	copy(p, s.data[:n])
	s.data = s.data[n:]
	return n, nil
}

// Record boundaries are independent of read boundaries: every way of
// cutting the stream in two or three pieces, one byte at a time, and
// io.Readers that return data and EOF together all give the same records.
func TestRecordReaderChunkBoundaries(t *testing.T) {
	recs := []string{`{"type":"SUBSCRIBED"}`, "x", strings.Repeat("0123456789", 11), `{"type":"HEARTBEAT"}`}
	stream := writeRecords(t, recs...)
	check := func(name string, r io.Reader) {
		t.Helper()
		got, err := readAll(r, 0)
		if err != io.EOF {
			t.Fatalf("%s: ended with %v, want io.EOF", name, err)
		}
		if strings.Join(got, "|") != strings.Join(recs, "|") {
			t.Fatalf("%s: got %q", name, got)
		}
	}
	check("whole", bytes.NewReader(stream))
	check("one byte", iotest.OneByteReader(bytes.NewReader(stream)))
	check("half", iotest.HalfReader(bytes.NewReader(stream)))
	check("data+EOF", iotest.DataErrReader(bytes.NewReader(stream)))
	for i := 1; i < len(stream); i++ {
		check("cut", &splitReader{data: stream, cuts: []int{i}})
		for j := i + 1; j < len(stream); j += 7 {
			check("cuts", &splitReader{data: stream, cuts: []int{i, j}})
		}
	}
	// The captured Mesos stream read one byte at a time is covered by
	// TestMarshalMatchesMesosSubscribeStream.
}

func TestRecordReaderTruncated(t *testing.T) {
	tests := []struct {
		name, stream string
		records      int
	}{
		{"in the length", "20\n{\"type\":\"HEARTBEAT\"}12", 1},
		{"before the newline", "1\na5", 1},
		{"right after the newline", "5\n", 0},
		{"inside the data", "5\nabc", 0},
		{"inside large data", "70000\n" + strings.Repeat("x", 1000), 0},
	}
	for _, tt := range tests {
		for _, oneByte := range []bool{false, true} {
			var r io.Reader = strings.NewReader(tt.stream)
			if oneByte {
				r = iotest.OneByteReader(r)
			}
			got, err := readAll(r, 0)
			if !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("%s: ended with %v, want io.ErrUnexpectedEOF", tt.name, err)
			}
			if len(got) != tt.records {
				t.Errorf("%s: %d records before the error, want %d", tt.name, len(got), tt.records)
			}
		}
	}
	if _, err := readAll(strings.NewReader(""), 0); err != io.EOF {
		t.Errorf("empty stream: %v, want io.EOF", err)
	}
}

func TestRecordReaderOversize(t *testing.T) {
	tests := []struct {
		name, stream string
		max          int
	}{
		{"over the limit", "11\nhello world", 10},
		{"far over the limit, never sent", "1000000000\n", 1 << 20},
		{"over the default limit", "67108865\n", 0},
		{"length with more than 19 digits", "100000000000000000000\n", 0},
		{"length overflowing uint64", "99999999999999999999999999\n", 0},
	}
	for _, tt := range tests {
		_, err := readAll(strings.NewReader(tt.stream), tt.max)
		if !errors.Is(err, ErrRecordTooLarge) {
			t.Errorf("%s: %v, want ErrRecordTooLarge", tt.name, err)
		}
	}
	// At the limit is fine.
	got, err := readAll(strings.NewReader("10\nhelloworld"), 10)
	if err != io.EOF || len(got) != 1 || got[0] != "helloworld" {
		t.Errorf("at the limit: %q, %v", got, err)
	}
	// A record above the whole-allocation size but within the limit.
	big := strings.Repeat("y", smallRecord*3+5)
	got, err = readAll(iotest.HalfReader(bytes.NewReader(writeRecords(t, big, "z"))), 0)
	if err != io.EOF || len(got) != 2 || got[0] != big || got[1] != "z" {
		t.Errorf("large record: %d records, %v", len(got), err)
	}
}

func TestRecordReaderBadLength(t *testing.T) {
	for _, stream := range []string{
		"1a\nx",     // letter
		" 5\nhello", // leading space
		"-5\nhello", // sign
		"+5\nhello", // sign
		"5\r\nhello",
		"0x5\nhello",
		"\nhello", // empty length
		"{\"type\":\"HEARTBEAT\"}",
		"1\na\n1\nb", // a newline where a length should start
	} {
		got, err := readAll(strings.NewReader(stream), 0)
		if err == nil || err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("%q: %q then %v, want a format error", stream, got, err)
		}
	}
	// Leading zeros are digits like any other; Mesos never sends a zero
	// length, but an empty record is read as one.
	got, err := readAll(strings.NewReader("005\nhello0\n"), 0)
	if err != io.EOF || len(got) != 2 || got[0] != "hello" || got[1] != "" {
		t.Errorf("leading zeros / zero length: %q, %v", got, err)
	}
}

func TestRecordReaderPassesReadErrors(t *testing.T) {
	boom := errors.New("boom")
	for _, stream := range []string{"", "5", "5\nab"} {
		r := io.MultiReader(strings.NewReader(stream), iotest.ErrReader(boom))
		if _, err := readAll(r, 0); !errors.Is(err, boom) {
			t.Errorf("%q: %v, want boom", stream, err)
		}
	}
	if err := NewRecordWriter(iotestErrWriter{boom}).WriteRecord([]byte("x")); !errors.Is(err, boom) {
		t.Errorf("writer: %v, want boom", err)
	}
}

type iotestErrWriter struct{ err error }

func (w iotestErrWriter) Write([]byte) (int, error) { return 0, w.err }
