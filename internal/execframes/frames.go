// Package execframes owns the lean transport between the executor host's
// built-in executors and their agent: HTTP requests and responses of the
// v1 executor API carried as frames of one unix socket connection, instead
// of HTTP/2.
//
// Why: a hosted command executor makes a SUBSCRIBE and two UPDATE calls
// for its task and reads four events, and HTTP/2 (HPACK, flow control, a
// goroutine per stream on both sides and the server's frame scheduler)
// cost about 0.4 ms of CPU per executor for that on the test machines,
// against 0.06 ms for frames. Both ends stay net/http: the client is an
// http.RoundTripper (Transport) under the executor SDK, and the server
// (Serve) runs the agent's http.Handler for the executor API, so the calls,
// events, status codes and errors are exactly those of HTTP.
//
// A connection opens with Preface, sent by the client, which tells it from
// HTTP/1.1 and HTTP/2 on the same socket. Then each side sends frames: a
// 9-byte header (payload length and stream ID, big-endian uint32s, and the
// frame's type) and the payload. The client numbers its streams with odd
// IDs and sends, per request, a request frame (the request line, headers
// and the whole body) and, when it gives up on the response, a cancel
// frame. The server answers a stream with a head frame (status and
// headers), data frames (the body as the handler flushed it) and an end
// frame.
package execframes

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"
)

// Preface opens a connection of frames.
const Preface = "GOMESOS-EXECUTOR-FRAMES/1\n"

// Frame types.
const (
	frameRequest byte = 1 + iota // client: request line, headers, body
	frameCancel                  // client: the response is no longer wanted
	frameHead                    // server: status and headers
	frameData                    // server: a piece of the body
	frameEnd                     // server: the response is complete
)

// maxFrame bounds a frame's payload: a request's body, a flush of the
// response. The agent bounds executor calls well below it.
const maxFrame = 16 << 20

const headerLen = 9

// ErrFrameTooLarge is returned for a frame over the bound.
var ErrFrameTooLarge = errors.New("execframes: frame too large")

// appendFrame appends a frame to b.
func appendFrame(b []byte, stream uint32, typ byte, payload []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	b = binary.BigEndian.AppendUint32(b, stream)
	b = append(b, typ)
	return append(b, payload...)
}

// readFrame reads the next frame.
func readFrame(r *bufio.Reader) (stream uint32, typ byte, payload []byte, err error) {
	var h [headerLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, 0, nil, err
	}
	n := binary.BigEndian.Uint32(h[0:4])
	if n > maxFrame {
		return 0, 0, nil, fmt.Errorf("%w: %d bytes", ErrFrameTooLarge, n)
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return 0, 0, nil, err
	}
	return binary.BigEndian.Uint32(h[4:8]), h[8], payload, nil
}

// appendHeader appends h as "Key: value" lines and an empty line.
func appendHeader(b []byte, h http.Header) []byte {
	for k, vs := range h {
		for _, v := range vs {
			if strings.ContainsAny(k, "\r\n:") || strings.ContainsAny(v, "\r\n") {
				continue // not a valid header line; HTTP would refuse it too
			}
			b = append(b, k...)
			b = append(b, ": "...)
			b = append(b, v...)
			b = append(b, '\n')
		}
	}
	return append(b, '\n')
}

// parseHeader reads the lines appendHeader wrote from the front of p and
// returns the rest.
func parseHeader(p []byte) (http.Header, []byte, error) {
	h := make(http.Header)
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			return nil, nil, errors.New("execframes: headers without an end")
		}
		line := p[:i]
		p = p[i+1:]
		if len(line) == 0 {
			return h, p, nil
		}
		k, v, ok := bytes.Cut(line, []byte(": "))
		if !ok || len(k) == 0 {
			return nil, nil, fmt.Errorf("execframes: bad header line %q", line)
		}
		key := textproto.CanonicalMIMEHeaderKey(string(k))
		h[key] = append(h[key], string(v))
	}
}

// encodeRequest is a request frame's payload: "METHOD target\n", the
// headers, then the body.
func encodeRequest(method, target string, h http.Header, body []byte) []byte {
	b := make([]byte, 0, len(method)+len(target)+2+64*len(h)+1+len(body))
	b = append(b, method...)
	b = append(b, ' ')
	b = append(b, target...)
	b = append(b, '\n')
	b = appendHeader(b, h)
	return append(b, body...)
}

// decodeRequest parses a request frame's payload.
func decodeRequest(p []byte) (method, target string, h http.Header, body []byte, err error) {
	i := bytes.IndexByte(p, '\n')
	if i < 0 {
		return "", "", nil, nil, errors.New("execframes: request without a request line")
	}
	m, t, ok := strings.Cut(string(p[:i]), " ")
	if !ok || m == "" || !strings.HasPrefix(t, "/") {
		return "", "", nil, nil, fmt.Errorf("execframes: bad request line %q", p[:i])
	}
	h, body, err = parseHeader(p[i+1:])
	if err != nil {
		return "", "", nil, nil, err
	}
	return m, t, h, body, nil
}

// encodeHead is a head frame's payload: the status code, then the headers.
func encodeHead(code int, h http.Header) []byte {
	b := strconv.AppendInt(nil, int64(code), 10)
	b = append(b, '\n')
	return appendHeader(b, h)
}

// decodeHead parses a head frame's payload.
func decodeHead(p []byte) (int, http.Header, error) {
	i := bytes.IndexByte(p, '\n')
	if i < 0 {
		return 0, nil, errors.New("execframes: head without a status")
	}
	code, err := strconv.Atoi(string(p[:i]))
	if err != nil || code < 100 || code > 999 {
		return 0, nil, fmt.Errorf("execframes: bad status %q", p[:i])
	}
	h, rest, err := parseHeader(p[i+1:])
	if err != nil {
		return 0, nil, err
	}
	if len(rest) != 0 {
		return 0, nil, errors.New("execframes: bytes after a head's headers")
	}
	return code, h, nil
}
