package codec

import (
	"bytes"
	"compress/gzip"
	"strconv"
	"strings"
)

// GzipMin is the smallest response body worth compressing.
const GzipMin = 1024

// AcceptsGzip reports whether an Accept-Encoding header allows gzip (by
// name or as "*", with a quality above 0), as Mesos asks before it
// compresses an operator API response.
func AcceptsGzip(acceptEncoding string) bool {
	star := false
	for part := range strings.SplitSeq(acceptEncoding, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name != "gzip" && name != "*" {
			continue
		}
		ok := true
		for p := range strings.SplitSeq(params, ";") {
			k, v, found := strings.Cut(strings.TrimSpace(p), "=")
			if found && strings.EqualFold(strings.TrimSpace(k), "q") {
				q, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				ok = err == nil && q > 0
			}
		}
		if name == "gzip" {
			return ok // gzip named outright overrides "*"
		}
		star = ok
	}
	return star
}

// Gzip compresses b.
func Gzip(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b) // a bytes.Buffer does not fail
	_ = zw.Close()
	return buf.Bytes()
}
