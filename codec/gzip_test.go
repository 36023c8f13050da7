package codec

import (
	"bytes"
	"compress/gzip"
	"io"
	"testing"
)

func TestAcceptsGzip(t *testing.T) {
	for h, want := range map[string]bool{
		"":                         false,
		"gzip":                     true,
		"GZIP":                     true,
		"deflate, gzip;q=1.0":      true,
		"gzip;q=0":                 false,
		"gzip; q=0.000":            false,
		"gzip;q=0.5":               true,
		"gzip;q=bogus":             false,
		"identity":                 false,
		"*":                        true,
		"*;q=0":                    false,
		"*, gzip;q=0":              false,
		"gzip;q=0, *":              false,
		"br, deflate":              false,
		"deflate;q=0.5, gzip;q=.1": true,
	} {
		if got := AcceptsGzip(h); got != want {
			t.Errorf("AcceptsGzip(%q) = %v, want %v", h, got, want)
		}
	}
}

func TestGzipRoundTrip(t *testing.T) {
	in := bytes.Repeat([]byte(`{"type":"GET_STATE"}`), 200)
	zr, err := gzip.NewReader(bytes.NewReader(Gzip(in)))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil || !bytes.Equal(out, in) {
		t.Fatalf("round trip: %v, %d bytes of %d", err, len(out), len(in))
	}
}
