// Package codec owns the Mesos v1 wire encodings: protobuf and Mesos-style
// JSON for every message, content-type negotiation, and RecordIO framing of
// event streams. It knows nothing about masters, agents or HTTP routing.
package codec

import (
	"errors"
	"fmt"
	"mime"
	"strings"

	"google.golang.org/protobuf/proto"
)

// Media types spoken on the v1 APIs.
const (
	MediaJSON     = "application/json"
	MediaProtobuf = "application/x-protobuf"
	MediaRecordIO = "application/recordio"
)

// Encoding is one of the two message encodings of the v1 APIs.
type Encoding int

// The encodings.
const (
	JSON Encoding = iota
	Protobuf
)

// ContentType is the media type of the encoding.
func (e Encoding) ContentType() string {
	if e == Protobuf {
		return MediaProtobuf
	}
	return MediaJSON
}

func (e Encoding) String() string { return e.ContentType() }

// ErrUnsupportedMediaType is returned for a Content-Type that is neither JSON
// nor protobuf (HTTP 415).
var ErrUnsupportedMediaType = errors.New("unsupported media type")

// FromContentType maps a Content-Type header to an encoding.
func FromContentType(ct string) (Encoding, error) {
	// The type alone, as every client sends it, is not parsed (a map
	// for its parameters each time: an agent's registration is one of ten
	// thousand after a failover).
	switch ct {
	case MediaJSON:
		return JSON, nil
	case MediaProtobuf:
		return Protobuf, nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		mt = strings.TrimSpace(strings.ToLower(ct))
	}
	switch mt {
	case MediaJSON:
		return JSON, nil
	case MediaProtobuf:
		return Protobuf, nil
	}
	return JSON, fmt.Errorf("%w: %q", ErrUnsupportedMediaType, ct)
}

// Negotiate picks the response encoding from an Accept header the way Mesos
// does: JSON when it is acceptable (including an absent header or */*), else
// protobuf; ok is false when neither is acceptable (HTTP 406). When the client
// asks for application/recordio, the inner encoding comes from messageAccept
// (the Message-Accept header) and recordio is true.
func Negotiate(accept, messageAccept string) (enc Encoding, recordio bool, ok bool) {
	if strings.TrimSpace(accept) == "" {
		return JSON, false, true
	}
	types := parseAccept(accept)
	if acceptable(types, MediaRecordIO) && !acceptable(types, MediaJSON) && !acceptable(types, MediaProtobuf) {
		inner := parseAccept(messageAccept)
		if messageAccept == "" || acceptable(inner, MediaJSON) {
			return JSON, true, true
		}
		if acceptable(inner, MediaProtobuf) {
			return Protobuf, true, true
		}
		return JSON, true, false
	}
	if acceptable(types, MediaJSON) {
		return JSON, false, true
	}
	if acceptable(types, MediaProtobuf) {
		return Protobuf, false, true
	}
	return JSON, false, false
}

type acceptRange struct {
	typ string
	q   float64
}

func parseAccept(h string) []acceptRange {
	var out []acceptRange
	for _, part := range strings.Split(h, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		mt, params, err := mime.ParseMediaType(part)
		if err != nil {
			continue
		}
		q := 1.0
		if qs, ok := params["q"]; ok {
			if _, err := fmt.Sscanf(qs, "%g", &q); err != nil {
				q = 1
			}
		}
		out = append(out, acceptRange{typ: mt, q: q})
	}
	return out
}

func acceptable(ranges []acceptRange, mt string) bool {
	major := strings.SplitN(mt, "/", 2)[0]
	for _, r := range ranges {
		if r.q <= 0 {
			continue
		}
		if r.typ == mt || r.typ == "*/*" || r.typ == major+"/*" {
			return true
		}
	}
	return false
}

// Marshal encodes m in the given encoding.
func Marshal(e Encoding, m proto.Message) ([]byte, error) {
	if e == Protobuf {
		return proto.Marshal(m)
	}
	return MarshalJSON(m)
}

// Unmarshal decodes data in the given encoding into m, checking that every
// required field is present.
func Unmarshal(e Encoding, data []byte, m proto.Message) error {
	if e == Protobuf {
		return proto.Unmarshal(data, m)
	}
	return UnmarshalJSON(data, m)
}
