package codec

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"google.golang.org/protobuf/proto"
)

// HTTP statuses of the v1 request ladder. They are spelled out here so
// that the codec, which the state machines import, need not import
// net/http.
const (
	StatusBadRequest           = 400
	StatusMethodNotAllowed     = 405
	StatusNotAcceptable        = 406
	StatusRequestEntityTooBig  = 413
	StatusUnsupportedMediaType = 415
)

// RequestError is a refusal by the v1 request ladder: the HTTP status Mesos
// answers with, the text of its body, and for 405 the Allow header.
type RequestError struct {
	Status  int
	Allow   string
	Message string
}

func (e *RequestError) Error() string { return fmt.Sprintf("%d: %s", e.Status, e.Message) }

// MethodNotAllowed is libprocess's 405 for a request whose method is not
// one of allowed.
func MethodNotAllowed(method string, allowed ...string) *RequestError {
	return &RequestError{
		Status: StatusMethodNotAllowed,
		Allow:  strings.Join(allowed, ", "),
		Message: "405 Method Not Allowed. Expecting one of { '" + strings.Join(allowed, "', '") +
			"' }, but received '" + method + "'.",
	}
}

// DecodeCall runs the request ladder that Mesos's v1 APIs (scheduler,
// executor and operator) share, up to a decoded message: the method must
// be POST (405), Content-Type present (400) and JSON or protobuf (415), the
// body at most limit bytes (413, rather than cut short) and decodable into
// msg (400, telling unparsable JSON from JSON that is not a call). It
// returns the body's encoding. What follows (validation, Accept for
// streaming calls, stream ids) is each API's own.
func DecodeCall(method, contentType string, body io.Reader, limit int64, msg proto.Message) (Encoding, *RequestError) {
	return DecodeCallWith(method, contentType, body, limit, msg, proto.Unmarshal)
}

// DecodeCallWith is DecodeCall with unmarshal decoding a protobuf body
// into msg: a decoder made for one message type, which must give
// proto.Unmarshal's result and errors.
func DecodeCallWith(method, contentType string, body io.Reader, limit int64, msg proto.Message, unmarshal func([]byte, proto.Message) error) (Encoding, *RequestError) {
	enc, _, rerr := decodeCall(method, contentType, body, limit, msg, unmarshal, nil)
	return enc, rerr
}

// DecodeCallInto is DecodeCallWith reading the body into buf's array when
// it is large enough (a new one otherwise) and returning the buffer the
// body was read into, emptied, for the caller to read another request's
// body into: a master taking back ten thousand agents at once then reads
// their re-registrations into a few buffers instead of ten thousand fresh
// ones. Only the buffer of a protobuf body is given back (nil otherwise,
// and after an error), and unmarshal must keep no part of its input in msg
// (as proto.Unmarshal keeps none); JSON decoding is not held to that.
func DecodeCallInto(method, contentType string, body io.Reader, limit int64, msg proto.Message,
	unmarshal func([]byte, proto.Message) error, buf []byte) (Encoding, []byte, *RequestError) {
	enc, data, rerr := decodeCall(method, contentType, body, limit, msg, unmarshal, buf)
	if rerr != nil || enc != Protobuf {
		return enc, nil, rerr
	}
	return enc, data[:0], nil
}

func decodeCall(method, contentType string, body io.Reader, limit int64, msg proto.Message,
	unmarshal func([]byte, proto.Message) error, buf []byte) (Encoding, []byte, *RequestError) {
	if method != "POST" {
		return 0, nil, MethodNotAllowed(method, "POST")
	}
	if contentType == "" {
		return 0, nil, &RequestError{Status: StatusBadRequest, Message: "Expecting 'Content-Type' to be present"}
	}
	enc, err := FromContentType(contentType)
	if err != nil {
		return 0, nil, &RequestError{Status: StatusUnsupportedMediaType,
			Message: "Expecting 'Content-Type' of " + MediaJSON + " or " + MediaProtobuf}
	}
	data, err := readBodyInto(body, limit, buf)
	if err != nil {
		return 0, nil, &RequestError{Status: StatusBadRequest, Message: "Failed to read body: " + err.Error()}
	}
	if int64(len(data)) > limit {
		return 0, nil, &RequestError{Status: StatusRequestEntityTooBig, Message: fmt.Sprintf("Request body exceeds %d bytes", limit)}
	}
	name := string(msg.ProtoReflect().Descriptor().Name())
	if enc == Protobuf {
		if err := unmarshal(data, msg); err != nil {
			return 0, nil, &RequestError{Status: StatusBadRequest, Message: "Failed to parse body into " + name + " protobuf: " + err.Error()}
		}
		return enc, data, nil
	}
	if err := UnmarshalJSON(data, msg); err != nil {
		if errors.Is(err, ErrInvalidJSON) {
			return 0, nil, &RequestError{Status: StatusBadRequest, Message: "Failed to parse body into JSON: " + err.Error()}
		}
		return 0, nil, &RequestError{Status: StatusBadRequest, Message: "Failed to convert JSON into " + name + " protobuf: " + err.Error()}
	}
	return enc, data, nil
}

// SizedBody is a request body that knows its length (an HTTP request's
// Content-Length, -1 when unknown), so that DecodeCall reads it into one
// buffer of that size, not into a buffer that grows, and is copied, as it
// goes: a master taking thousands of agents' re-registrations at once
// allocates, and collects, half as much.
type SizedBody struct {
	io.Reader
	Size int64
}

// readBodyInto reads up to limit bytes of body, and one more (which tells
// a body at the limit from a longer one), into buf's array when a body of
// known length fits in it.
func readBodyInto(body io.Reader, limit int64, buf []byte) ([]byte, error) {
	sb, ok := body.(SizedBody)
	if !ok || sb.Size < 0 || sb.Size > limit {
		return io.ReadAll(io.LimitReader(body, limit+1))
	}
	// One byte more than announced: a body longer than its length is read
	// on to the limit, as any other.
	if int64(cap(buf)) > sb.Size {
		buf = buf[:sb.Size+1]
	} else {
		buf = make([]byte, sb.Size+1)
	}
	n, err := io.ReadFull(sb.Reader, buf)
	switch {
	case err == io.ErrUnexpectedEOF || err == io.EOF:
		return buf[:n], nil
	case err != nil:
		return nil, err
	}
	rest, err := io.ReadAll(io.LimitReader(sb.Reader, limit+1-int64(n)))
	return append(buf, rest...), err
}

// AcceptStream chooses the encoding of a streaming response (SUBSCRIBE)
// from the Accept and Message-Accept headers, or answers 406. recordio
// reports whether Accept asked for RecordIO framing explicitly.
func AcceptStream(accept, messageAccept string) (enc Encoding, recordio bool, rerr *RequestError) {
	enc, recordio, ok := Negotiate(accept, messageAccept)
	if !ok {
		return 0, false, &RequestError{Status: StatusNotAcceptable,
			Message: "Expecting 'Accept' to allow '" + MediaProtobuf + "' or '" + MediaJSON + "'"}
	}
	return enc, recordio, nil
}
