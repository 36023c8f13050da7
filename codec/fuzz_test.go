package codec

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/gomesos/gomesos/api/v1/executor"
	"github.com/gomesos/gomesos/api/v1/scheduler"
)

// checkJSONRoundTrip asserts that m renders to valid JSON that parses back
// into m (with its rendered defaults set) and renders identically again.
func checkJSONRoundTrip(t *testing.T, m proto.Message) {
	t.Helper()
	j1, err := MarshalJSON(m)
	if err != nil {
		t.Fatalf("MarshalJSON: %v", err)
	}
	m2 := m.ProtoReflect().New().Interface()
	if err := UnmarshalJSON(j1, m2); err != nil {
		t.Fatalf("UnmarshalJSON of our own output %s: %v", j1, err)
	}
	if want := withDefaults(m); !proto.Equal(want, m2) {
		t.Fatalf("JSON round trip changed the message:\n got %v\nwant %v\njson %s", m2, want, j1)
	}
	j2, err := MarshalJSON(m2)
	if err != nil {
		t.Fatalf("MarshalJSON: %v", err)
	}
	if !bytes.Equal(j1, j2) {
		t.Fatalf("rendering is not stable:\n%s\n%s", j1, j2)
	}
}

func seedJSON(f *testing.F, examples []docExample, msgs ...proto.Message) {
	for _, m := range msgs {
		b, err := MarshalJSON(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, ex := range examples {
		f.Add([]byte(ex.json))
	}
	for _, s := range []string{
		`{}`, `[]`, `null`, `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"user":"u","name":"n","failover_timeout":"Infinity"}}}`,
		`{"accept":{"offer_ids":{"value":"o"},"filters":{"refuse_seconds":"-0"}}}`,
		`{"revive":{"roles":[["a"],null,"b"]},"framework_id":{"value":"\u0000\ud800"}}`,
		`{"kill":{"task_id":{"value":"t"},"kill_policy":{"grace_period":{"nanoseconds":"-9223372036854775808"}}}}`,
	} {
		f.Add([]byte(s))
	}
}

func FuzzUnmarshalJSONCall(f *testing.F) {
	var msgs []proto.Message
	for _, c := range schedulerCalls() {
		msgs = append(msgs, c)
	}
	seedJSON(f, schedulerDocExamples, msgs...)
	f.Fuzz(func(t *testing.T, data []byte) {
		var c scheduler.Call
		if err := UnmarshalJSON(data, &c); err != nil {
			return
		}
		checkJSONRoundTrip(t, &c)
	})
}

func FuzzUnmarshalJSONExecutorCall(f *testing.F) {
	m := representativeMessages()
	seedJSON(f, executorDocExamples, m["executor.Call/SUBSCRIBE"], m["executor.Call/MESSAGE"])
	f.Fuzz(func(t *testing.T, data []byte) {
		var c executor.Call
		if err := UnmarshalJSON(data, &c); err != nil {
			return
		}
		checkJSONRoundTrip(t, &c)
	})
}

func FuzzUnmarshalProtobufCall(f *testing.F) {
	for _, c := range schedulerCalls() {
		b, err := proto.Marshal(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0x10, 0x63})                   // type = 99, an unknown enum value
	f.Add([]byte{0xf8, 0x7f, 0x01})             // an unknown field
	f.Add([]byte{0x22, 0x04, 0x0a, 0x02, 0x0a}) // accept.offer_ids[0] without its value
	f.Fuzz(func(t *testing.T, data []byte) {
		var c1 scheduler.Call
		if err := Unmarshal(Protobuf, data, &c1); err != nil {
			return
		}
		b, err := Marshal(Protobuf, &c1)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		var c2 scheduler.Call
		if err := Unmarshal(Protobuf, b, &c2); err != nil {
			t.Fatalf("Unmarshal of our own output: %v", err)
		}
		if !proto.Equal(&c1, &c2) {
			t.Fatalf("protobuf round trip changed the call:\n%v\n%v", &c1, &c2)
		}
		// The call also survives JSON, minus what JSON cannot carry:
		// unknown fields, strings that are not UTF-8, and enum numbers the
		// enum does not define (Go keeps those in the field, where C++
		// would move them to the unknown fields; they render as numbers,
		// which the parser rejects as Mesos does).
		discardUnknown(c1.ProtoReflect())
		if jsonSafe(c1.ProtoReflect()) {
			checkJSONRoundTrip(t, &c1)
		} else if j, err := MarshalJSON(&c1); err != nil || !json.Valid(j) {
			t.Fatalf("MarshalJSON: %v, %s", err, j)
		}
	})
}

// jsonSafe reports whether every string in m is UTF-8 and every enum value
// is one its enum defines.
func jsonSafe(m protoreflect.Message) bool {
	ok := true
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		check := func(fd protoreflect.FieldDescriptor, v protoreflect.Value) {
			switch {
			case fd.Kind() == protoreflect.StringKind:
				ok = ok && utf8.ValidString(v.String())
			case fd.Kind() == protoreflect.EnumKind:
				ok = ok && fd.Enum().Values().ByNumber(v.Enum()) != nil
			case isMessageKind(fd.Kind()):
				ok = ok && jsonSafe(v.Message())
			}
		}
		switch {
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				check(fd.MapKey(), k.Value())
				check(fd.MapValue(), mv)
				return ok
			})
		case fd.IsList():
			for i := range v.List().Len() {
				check(fd, v.List().Get(i))
			}
		default:
			check(fd, v)
		}
		return ok
	})
	return ok
}

func FuzzRecordReader(f *testing.F) {
	f.Add([]byte("20\n{\"type\":\"HEARTBEAT\"}"))
	f.Add(writeRecords(f, "a", "", "0123456789", `{"type":"SUBSCRIBED"}`))
	f.Add([]byte("5\nabc"))
	f.Add([]byte("007\nabcdefg1"))
	f.Add([]byte("99999999999999999999\n"))
	f.Add([]byte("1x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		const max = 1 << 16
		recs, err := readAll(bytes.NewReader(data), max)
		oneByte, errOne := readAll(iotest1(data), max)
		if len(recs) != len(oneByte) || (err == io.EOF) != (errOne == io.EOF) {
			t.Fatalf("chunking changed the result: %d records/%v vs %d/%v", len(recs), err, len(oneByte), errOne)
		}
		if err == nil {
			t.Fatal("readAll ended without an error")
		}
		// Whatever was read re-encodes and reads back the same.
		var buf bytes.Buffer
		w := NewRecordWriter(&buf)
		for _, r := range recs {
			if err := w.WriteRecord([]byte(r)); err != nil {
				t.Fatal(err)
			}
		}
		again, err := readAll(&buf, max)
		if err != io.EOF {
			t.Fatalf("re-read ended with %v", err)
		}
		if len(again) != len(recs) {
			t.Fatalf("re-read %d records, want %d", len(again), len(recs))
		}
		for i := range recs {
			if recs[i] != again[i] || recs[i] != oneByte[i] {
				t.Fatalf("record %d differs", i)
			}
		}
	})
}

// iotest1 reads data one byte at a time.
func iotest1(data []byte) io.Reader { return &splitReader{data: data, cuts: ones(len(data))} }

func ones(n int) []int {
	c := make([]int, n)
	for i := range c {
		c[i] = i + 1
	}
	return c
}

func BenchmarkMarshalJSONOffers10(b *testing.B) {
	ev := offersEvent(10)
	out, _ := MarshalJSON(ev)
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := MarshalJSON(ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnmarshalJSONOffers10(b *testing.B) {
	data, _ := MarshalJSON(offersEvent(10))
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		var ev scheduler.Event
		if err := UnmarshalJSON(data, &ev); err != nil {
			b.Fatal(err)
		}
	}
}

// For comparison: protojson (not Mesos-compatible) on the same event.
func BenchmarkProtojsonMarshalOffers10(b *testing.B) {
	ev := offersEvent(10)
	opts := protojson.MarshalOptions{UseProtoNames: true}
	out, _ := opts.Marshal(ev)
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := opts.Marshal(ev); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalProtobufOffers10(b *testing.B) {
	ev := offersEvent(10)
	out, _ := proto.Marshal(ev)
	b.SetBytes(int64(len(out)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := proto.Marshal(ev); err != nil {
			b.Fatal(err)
		}
	}
}
