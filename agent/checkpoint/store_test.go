package checkpoint

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomesos/gomesos/agent/core"
)

func openTemp(t *testing.T) (*Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), File)
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return s, path
}

// What Apply writes, Load reads back after the file is closed and opened
// again; deletes remove.
func TestApplyLoadRoundTrip(t *testing.T) {
	s, path := openTemp(t)
	ops := []core.CheckpointOp{
		{Bucket: "meta", Key: "agent", Value: []byte("agent-record")},
		{Bucket: "streams", Key: "fw/t1", Value: []byte("s1")},
		{Bucket: "streams", Key: "fw/t2", Value: []byte("s2")},
		{Bucket: "executors", Key: "fw/e", Value: []byte{}},
	}
	if err := s.Apply(ops); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply([]core.CheckpointOp{{Bucket: "streams", Key: "fw/t1"}, {Bucket: "nothing", Key: "x"}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	got, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if string(got["meta"]["agent"]) != "agent-record" || string(got["streams"]["fw/t2"]) != "s2" || len(got["streams"]) != 1 {
		t.Fatalf("loaded %v", got)
	}
	if v, ok := got["executors"]["fw/e"]; !ok || len(v) != 0 {
		t.Fatalf("empty value: %v %v", v, ok)
	}
	if err := s.Check(); err != nil {
		t.Fatal(err)
	}
}

// A value whose bytes changed on disk is detected by its checksum and
// named by bucket and key, with the file.
func TestCorruptValueNamed(t *testing.T) {
	s, path := openTemp(t)
	value := bytes.Repeat([]byte("checkpointed-executor-record/"), 8)
	if err := s.Apply([]core.CheckpointOp{{Bucket: "executors", Key: "fw-1/e1", Value: value}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i := bytes.Index(raw, value)
	if i < 0 {
		t.Fatal("value not found in the file")
	}
	raw[i+10] ^= 0x01
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	_, err = s.Load()
	if err == nil {
		t.Fatal("a flipped bit went unnoticed")
	}
	for _, want := range []string{path, `bucket "executors"`, `key "fw-1/e1"`, "checksum"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// A file cut short (a torn write, a full disk) is refused, naming it.
func TestTruncatedFileNamed(t *testing.T) {
	s, path := openTemp(t)
	for i := range 200 {
		if err := s.Apply([]core.CheckpointOp{{Bucket: "streams", Key: "fw/" + strings.Repeat("t", i%50) + string(rune('a'+i%26)), Value: bytes.Repeat([]byte{byte(i)}, 300)}}); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int64{st.Size() / 2, 100} {
		if err := os.Truncate(path, size); err != nil {
			t.Fatal(err)
		}
		s, err := Open(path)
		if err == nil {
			_, err = s.Load()
			s.Close()
		}
		if err == nil {
			t.Fatalf("a file truncated to %d bytes was taken", size)
		}
		if !strings.Contains(err.Error(), path) {
			t.Errorf("error %q does not name %s", err, path)
		}
	}
}

// A file that is not a checkpoint at all is refused, naming it.
func TestGarbageFileNamed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "agent.db")
	if err := os.WriteFile(path, bytes.Repeat([]byte("not a database "), 1000), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path)
	if err == nil {
		s.Close()
		t.Fatal("garbage opened")
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the file", err)
	}
}

// BenchmarkApply is one fsynced transaction of a status update's size.
func BenchmarkApply(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), File))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	value := bytes.Repeat([]byte{7}, 600)
	for i := 0; b.Loop(); i++ {
		if err := s.Apply([]core.CheckpointOp{
			{Bucket: "streams", Key: "fw/t" + string(rune('a'+i%26)), Value: value},
			{Bucket: "executors", Key: "fw/t" + string(rune('a'+i%26)), Value: value},
		}); err != nil {
			b.Fatal(err)
		}
	}
}
