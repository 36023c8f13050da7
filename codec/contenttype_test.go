package codec

import (
	"errors"
	"testing"
)

// Content types name an encoding with or without parameters, in any case;
// the bare types, as clients send them, cost no allocation.
func TestFromContentType(t *testing.T) {
	for _, c := range []struct {
		ct   string
		want Encoding
		err  bool
	}{
		{MediaJSON, JSON, false},
		{MediaProtobuf, Protobuf, false},
		{"application/json; charset=utf-8", JSON, false},
		{"Application/X-Protobuf", Protobuf, false},
		{" application/x-protobuf ", Protobuf, false},
		{"text/plain", JSON, true},
		{"", JSON, true},
	} {
		got, err := FromContentType(c.ct)
		if got != c.want || (err != nil) != c.err || (err != nil && !errors.Is(err, ErrUnsupportedMediaType)) {
			t.Errorf("FromContentType(%q) = %v, %v; want %v, error %v", c.ct, got, err, c.want, c.err)
		}
	}
	for _, ct := range []string{MediaJSON, MediaProtobuf} {
		if n := testing.AllocsPerRun(10, func() { _, _ = FromContentType(ct) }); n != 0 {
			t.Errorf("FromContentType(%q): %v allocations; want none", ct, n)
		}
	}
}
