package codec

import "testing"

func TestBytesParseAndFormatAsMesos(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
		out  string
	}{
		{"2GB", 2 << 30, "2GB"},
		{"512MB", 512 << 20, "512MB"},
		{"1536KB", 1536 << 10, "1536KB"},
		{"1.5KB", 1536, "1536B"},
		{"100B", 100, "100B"},
		{"0B", 0, "0B"},
		{"1TB", 1 << 40, "1TB"},
		{"1GiB", 1 << 30, "1GB"},
		{"256MiB", 256 << 20, "256MB"},
		{"2KiB", 2 << 10, "2KB"},
	} {
		got, err := ParseBytes(c.in)
		if err != nil || got != c.want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", c.in, got, err, c.want)
		}
		if f := FormatBytes(got); f != c.out {
			t.Errorf("FormatBytes(%d) = %q, want %q", got, f, c.out)
		}
	}
	for _, bad := range []string{"", "2", "GB", "-1MB", "2XB", "abcB", "1e300TB", "iB", "5iB", "1XiB"} {
		if v, err := ParseBytes(bad); err == nil {
			t.Errorf("ParseBytes(%q) = %d, want an error", bad, v)
		}
	}
}
