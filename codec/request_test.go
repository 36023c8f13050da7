package codec

import (
	"strings"
	"testing"

	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
)

// The v1 request ladder (facts §1.1): each refusal with Mesos's status and
// text, and nothing decoded when a step refuses.
func TestDecodeCallLadder(t *testing.T) {
	tests := []struct {
		name, method, ct, body string
		status                 int
		text                   string
	}{
		{"GET", "GET", MediaJSON, `{}`, 405, "405 Method Not Allowed. Expecting one of { 'POST' }, but received 'GET'."},
		{"no content type", "POST", "", `{}`, 400, "Expecting 'Content-Type' to be present"},
		{"text/plain", "POST", "text/plain", `{}`, 415, "Expecting 'Content-Type' of application/json or application/x-protobuf"},
		{"too big", "POST", MediaJSON, `{"type":"` + strings.Repeat("A", 64) + `"}`, 413, "Request body exceeds 32 bytes"},
		{"not JSON", "POST", MediaJSON, `not json`, 400, "Failed to parse body into JSON: "},
		{"not a call", "POST", MediaJSON, `{"subscribe":"not an object"}`, 400, "Failed to convert JSON into Call protobuf: "},
		{"bad protobuf", "POST", MediaProtobuf, "\xff\xff\xff", 400, "Failed to parse body into Call protobuf: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			call := &schedpb.Call{}
			_, rerr := DecodeCall(tt.method, tt.ct, strings.NewReader(tt.body), 32, call)
			if rerr == nil {
				t.Fatalf("accepted, want %d %q", tt.status, tt.text)
			}
			if rerr.Status != tt.status || !strings.HasPrefix(rerr.Message, tt.text) {
				t.Errorf("refused with %d %q, want %d %q", rerr.Status, rerr.Message, tt.status, tt.text)
			}
			if tt.status == 405 && rerr.Allow != "POST" {
				t.Errorf("405 without Allow: POST (%q)", rerr.Allow)
			}
		})
	}
	call := &schedpb.Call{}
	enc, rerr := DecodeCall("POST", MediaJSON+"; charset=utf-8", strings.NewReader(`{"type":"TEARDOWN"}`), 32, call)
	if rerr != nil || enc != JSON || call.GetType() != schedpb.Call_TEARDOWN {
		t.Errorf("a good call: %v %v %v", enc, rerr, call)
	}
}

func TestAcceptStream(t *testing.T) {
	if _, _, rerr := AcceptStream("text/html", ""); rerr == nil || rerr.Status != 406 {
		t.Errorf("Accept: text/html gave %v, want 406", rerr)
	}
	if enc, _, rerr := AcceptStream(MediaProtobuf, ""); rerr != nil || enc != Protobuf {
		t.Errorf("Accept: protobuf gave %v %v", enc, rerr)
	}
}

// A body whose length is announced is read whole whatever the truth of the
// announcement: shorter or longer than said, and past the limit refused as
// any other body.
func TestDecodeCallSizedBody(t *testing.T) {
	const good = `{"type":"TEARDOWN"}`
	for _, size := range []int64{-1, 0, 5, int64(len(good)), int64(len(good)) + 7, 32} {
		call := &schedpb.Call{}
		enc, rerr := DecodeCall("POST", MediaJSON, SizedBody{Reader: strings.NewReader(good), Size: size}, 32, call)
		if rerr != nil || enc != JSON || call.GetType() != schedpb.Call_TEARDOWN {
			t.Errorf("announced %d bytes of %d: %v %v %v", size, len(good), enc, rerr, call)
		}
	}
	long := `{"type":"` + strings.Repeat("A", 64) + `"}`
	for _, size := range []int64{-1, 10, 32, 33, int64(len(long))} {
		_, rerr := DecodeCall("POST", MediaJSON, SizedBody{Reader: strings.NewReader(long), Size: size}, 32, &schedpb.Call{})
		if rerr == nil || rerr.Status != 413 {
			t.Errorf("announced %d bytes of %d over a limit of 32: %v, want 413", size, len(long), rerr)
		}
	}
	exact := `{"type":"` + strings.Repeat("A", 32-11) + `"}`
	if len(exact) != 32 {
		t.Fatalf("the body at the limit is %d bytes", len(exact))
	}
	if _, rerr := DecodeCall("POST", MediaJSON, SizedBody{Reader: strings.NewReader(exact), Size: 32}, 32, &schedpb.Call{}); rerr != nil && rerr.Status == 413 {
		t.Errorf("a body of exactly the limit was refused: %v", rerr)
	}
}
