package codec

import (
	"errors"
	"math"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/gomesos/gomesos/api/v1/mesos"
	"github.com/gomesos/gomesos/api/v1/scheduler"
)

type parseCase struct {
	name string
	json string
	want proto.Message // the expected result; nil when an error is expected
	err  string        // the full expected error text
}

func runParseCases(t *testing.T, newMsg func() proto.Message, cases []parseCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.name, func(t *testing.T) {
			m := newMsg()
			err := UnmarshalJSON([]byte(tt.json), m)
			if tt.err != "" {
				if err == nil {
					t.Fatalf("no error; parsed %v", m)
				}
				if err.Error() != tt.err {
					t.Fatalf("error\n got %q\nwant %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			if !proto.Equal(m, tt.want) {
				t.Fatalf("got  %v\nwant %v", m, tt.want)
			}
		})
	}
}

func TestUnmarshalCallRules(t *testing.T) {
	newCall := func() proto.Message { return &scheduler.Call{} }
	teardown := &scheduler.Call{FrameworkId: fwID("f"), Type: scheduler.Call_TEARDOWN.Enum()}
	runParseCases(t, newCall, []parseCase{
		{name: "unknown keys are ignored at every level",
			json: `{"type":"TEARDOWN","bogus":{"x":[1,2]},"framework_id":{"value":"f","extra":null},"force":true}`,
			want: teardown},
		{name: "whitespace and escapes",
			json: "{\n\t\"type\" : \"TEARDOWN\" ,\r\n \"framework_id\" : {\"value\" : \"\\u0066\"} }",
			want: teardown},
		{name: "null means unset",
			json: `{"type":null,"framework_id":null,"accept":null}`,
			want: &scheduler.Call{}},
		{name: "null elements of arrays are skipped",
			json: `{"revive":{"roles":["a",null,"b"]}}`,
			want: &scheduler.Call{Revive: &scheduler.Call_Revive{Roles: []string{"a", "b"}}}},
		{name: "enum number is rejected",
			json: `{"type":1}`,
			err:  `field "type": expected the name of a mesos.v1.scheduler.Call.Type value, got a JSON number`},
		{name: "unknown name of an optional enum is dropped",
			json: `{"type":"FROBNICATE","framework_id":{"value":"f"}}`,
			want: &scheduler.Call{FrameworkId: fwID("f")}},
		{name: "an enum number in a string is just an unknown name",
			json: `{"type":"3"}`,
			want: &scheduler.Call{}},
		{name: "empty object sets the message",
			json: `{"decline":{}}`,
			want: &scheduler.Call{Decline: &scheduler.Call_Decline{}}},
		{name: "array for a singular field",
			json: `{"framework_id":[{"value":"f"}]}`,
			err:  `field "framework_id": not expecting a JSON array: the field is not repeated`},
		{name: "a single value for a repeated field is a one-element list (as stout)",
			json: `{"accept":{"offer_ids":{"value":"o"}},"revive":{"roles":"dev"}}`,
			want: &scheduler.Call{
				Accept: &scheduler.Call_Accept{OfferIds: []*mesos.OfferID{offerID("o")}},
				Revive: &scheduler.Call_Revive{Roles: []string{"dev"}},
			}},
		{name: "nested arrays are flattened (as stout)",
			json: `{"revive":{"roles":[["a","b"],[],"c"]}}`,
			want: &scheduler.Call{Revive: &scheduler.Call_Revive{Roles: []string{"a", "b", "c"}}}},
		{name: "object for an enum",
			json: `{"type":{}}`,
			err:  `field "type": expected the name of a mesos.v1.scheduler.Call.Type value, got a JSON object`},
		{name: "string for a message",
			json: `{"framework_id":"f"}`,
			err:  `field "framework_id": expected a JSON object (mesos.v1.FrameworkID), got a JSON string`},
		{name: "number for a string",
			json: `{"framework_id":{"value":5}}`,
			err:  `field "framework_id.value": expected a string, got a JSON number`},
		{name: "boolean for a string",
			json: `{"framework_id":{"value":true}}`,
			err:  `field "framework_id.value": expected a string, got a JSON boolean`},
		{name: "error path through arrays",
			json: `{"accept":{"operations":[{"type":"LAUNCH"},{"launch":{"task_infos":[{"resources":[{"name":"cpus","type":"SCALAR","scalar":{"value":"x"}}]}]}}]}}`,
			err:  `field "accept.operations[1].launch.task_infos[0].resources[0].scalar.value": cannot parse "x" as a number`},
		{name: "error path through a single-object repeated field",
			json: `{"accept":{"offer_ids":{"value":1}}}`,
			err:  `field "accept.offer_ids.value": expected a string, got a JSON number`},
		{name: "missing required fields are listed by path",
			json: `{"type":"SUBSCRIBE","subscribe":{"framework_info":{"roles":["a"]}}}`,
			err:  `missing required fields: subscribe.framework_info.user, subscribe.framework_info.name`},
		{name: "missing required field inside a list",
			json: `{"accept":{"offer_ids":[{"value":"a"},{}]}}`,
			err:  `missing required fields: accept.offer_ids[1].value`},
		{name: "missing required field set to null",
			json: `{"kill":{"task_id":null}}`,
			err:  `missing required fields: kill.task_id`},
		{name: "unknown name of a required enum",
			json: `{"accept":{"operations":[{"type":"RESERVE","reserve":{"resources":[{"name":"cpus","type":"SCALARS"}]}}]}}`,
			err:  `field "accept.operations[0].reserve.resources[0].type": unknown value "SCALARS" for enum mesos.v1.Value.Type`},
		{name: "duplicate keys: the last one wins",
			json: `{"type":"ACCEPT","type":"DECLINE"}`,
			want: &scheduler.Call{Type: scheduler.Call_DECLINE.Enum()}},
		{name: "top level must be an object (array)", json: `[]`, err: `expected a JSON object, got a JSON array`},
		{name: "top level must be an object (string)", json: `"x"`, err: `expected a JSON object, got a JSON string`},
		{name: "top level must be an object (null)", json: `null`, err: `expected a JSON object, got null`},
	})
}

func TestUnmarshalNumbers(t *testing.T) {
	newAddr := func() proto.Message { return &mesos.Address{} }
	port := func(p int32) proto.Message { return &mesos.Address{Port: proto.Int32(p)} }
	runParseCases(t, newAddr, []parseCase{
		{name: "number", json: `{"port":5050}`, want: port(5050)},
		{name: "string holding a number", json: `{"port":"5050"}`, want: port(5050)},
		{name: "string with spaces", json: `{"port":" 5050 "}`, want: port(5050)},
		{name: "negative", json: `{"port":-1}`, want: port(-1)},
		{name: "integral with fraction zero", json: `{"port":80.0}`, want: port(80)},
		{name: "integral with exponent", json: `{"port":8e1}`, want: port(80)},
		{name: "integral exponent in a string", json: `{"port":"8E+1"}`, want: port(80)},
		{name: "fraction cancelled by exponent", json: `{"port":0.0080e4}`, want: port(80)},
		{name: "minus zero", json: `{"port":-0}`, want: port(0)},
		{name: "zero with a huge exponent", json: `{"port":0e99999999999999999999}`, want: port(0)},
		{name: "int32 min", json: `{"port":-2147483648}`, want: port(math.MinInt32)},
		{name: "a quoted string holding a number (stout parses strings as JSON)", json: `{"port":"\"80\""}`, want: port(80)},
		{name: "fraction", json: `{"port":80.5}`, err: `field "port": value 80.5 is not an integer (int32)`},
		{name: "small fraction", json: `{"port":1e-1}`, err: `field "port": value 1e-1 is not an integer (int32)`},
		{name: "int32 overflow", json: `{"port":2147483648}`, err: `field "port": value 2147483648 is out of range (int32)`},
		{name: "int32 underflow", json: `{"port":"-2147483649"}`, err: `field "port": value -2147483649 is out of range (int32)`},
		{name: "huge exponent", json: `{"port":1e400}`, err: `field "port": value 1e400 is out of range (int32)`},
		{name: "huger exponent", json: `{"port":1e99999999999999999999}`, err: `field "port": value 1e99999999999999999999 is out of range (int32)`},
		{name: "tiny exponent", json: `{"port":1e-99999999999999999999}`, err: `field "port": value 1e-99999999999999999999 is not an integer (int32)`},
		{name: "infinity for an integer", json: `{"port":"Infinity"}`, err: `field "port": expected a number (int32), got +Inf`},
		{name: "not a number", json: `{"port":"http"}`, err: `field "port": cannot parse "http" as a number`},
		{name: "empty string", json: `{"port":""}`, err: `field "port": cannot parse "" as a number`},
		{name: "trailing garbage in string", json: `{"port":"80 80"}`, err: `field "port": cannot parse "80 80" as a number`},
		{name: "object in a string", json: `{"port":"{}"}`, err: `field "port": cannot parse "{}" as a scalar`},
		{name: "boolean", json: `{"port":true}`, err: `field "port": expected a number (int32), got a JSON boolean`},
		{name: "boolean in a string", json: `{"port":"true"}`, err: `field "port": expected a number (int32), got a JSON boolean`},
		{name: "object", json: `{"port":{}}`, err: `field "port": expected a number (int32), got a JSON object`},
	})

	newTime := func() proto.Message { return &mesos.TimeInfo{} }
	ns := func(n int64) proto.Message { return &mesos.TimeInfo{Nanoseconds: proto.Int64(n)} }
	runParseCases(t, newTime, []parseCase{
		{name: "2^53+1 exact as a number", json: `{"nanoseconds":9007199254740993}`, want: ns(9007199254740993)},
		{name: "2^53+1 exact in a string", json: `{"nanoseconds":"9007199254740993"}`, want: ns(9007199254740993)},
		{name: "int64 max", json: `{"nanoseconds":9223372036854775807}`, want: ns(math.MaxInt64)},
		{name: "int64 min", json: `{"nanoseconds":-9223372036854775808}`, want: ns(math.MinInt64)},
		{name: "int64 overflow", json: `{"nanoseconds":9223372036854775808}`, err: `field "nanoseconds": value 9223372036854775808 is out of range (int64)`},
		{name: "int64 in exponent form", json: `{"nanoseconds":1.5e9}`, want: ns(1500000000)},
		{name: "missing required", json: `{}`, err: `missing required fields: nanoseconds`},
	})

	newRange := func() proto.Message { return &mesos.Value_Range{} }
	rng := func(b, e uint64) proto.Message {
		return &mesos.Value_Range{Begin: proto.Uint64(b), End: proto.Uint64(e)}
	}
	runParseCases(t, newRange, []parseCase{
		{name: "uint64 max", json: `{"begin":0,"end":18446744073709551615}`, want: rng(0, math.MaxUint64)},
		{name: "uint64 max in a string", json: `{"begin":"0","end":"18446744073709551615"}`, want: rng(0, math.MaxUint64)},
		{name: "uint64 overflow", json: `{"begin":0,"end":18446744073709551616}`, err: `field "end": value 18446744073709551616 is out of range (uint64)`},
		{name: "uint64 negative", json: `{"begin":-1,"end":1}`, err: `field "begin": value -1 is out of range (uint64)`},
		{name: "uint64 minus zero", json: `{"begin":-0,"end":1}`, want: rng(0, 1)},
	})

	newMaster := func() proto.Message { return &mesos.MasterInfo{} }
	runParseCases(t, newMaster, []parseCase{
		{name: "uint32 as numbers and strings", json: `{"id":"m","ip":"16777343","port":5050}`,
			want: &mesos.MasterInfo{Id: proto.String("m"), Ip: proto.Uint32(16777343), Port: proto.Uint32(5050)}},
		{name: "uint32 overflow", json: `{"id":"m","ip":4294967296,"port":5050}`, err: `field "ip": value 4294967296 is out of range (uint32)`},
		{name: "uint32 negative", json: `{"id":"m","ip":-1,"port":5050}`, err: `field "ip": value -1 is out of range (uint32)`},
		{name: "required with a default is still required", json: `{"id":"m","ip":1}`, err: `missing required fields: port`},
	})

	newScalar := func() proto.Message { return &mesos.Value_Scalar{} }
	val := func(f float64) proto.Message { return &mesos.Value_Scalar{Value: proto.Float64(f)} }
	runParseCases(t, newScalar, []parseCase{
		{name: "integer", json: `{"value":2}`, want: val(2)},
		{name: "fraction", json: `{"value":0.1}`, want: val(0.1)},
		{name: "exponent", json: `{"value":-1.5E-3}`, want: val(-0.0015)},
		{name: "in a string", json: `{"value":"23081.5"}`, want: val(23081.5)},
		{name: "Infinity", json: `{"value":"Infinity"}`, want: val(math.Inf(1))},
		{name: "-Infinity", json: `{"value":"-Infinity"}`, want: val(math.Inf(-1))},
		{name: "Inf", json: `{"value":"Inf"}`, want: val(math.Inf(1))},
		{name: "NaN", json: `{"value":"NaN"}`, want: val(math.NaN())},
		{name: "underflow reads as zero", json: `{"value":1e-400}`, want: val(0)},
		{name: "overflow", json: `{"value":1e400}`, err: `field "value": value 1e400 is out of range for double`},
		{name: "lowercase infinity is not a number", json: `{"value":"infinity"}`, err: `field "value": cannot parse "infinity" as a number`},
		{name: "boolean", json: `{"value":false}`, err: `field "value": expected a number (double), got a JSON boolean`},
		{name: "array", json: `{"value":[1]}`, err: `field "value": not expecting a JSON array: the field is not repeated`},
	})
}

func TestUnmarshalBoolsAndBytes(t *testing.T) {
	newFw := func() proto.Message { return &mesos.FrameworkInfo{} }
	fw := func(cp bool) proto.Message {
		return &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("n"), Checkpoint: proto.Bool(cp)}
	}
	runParseCases(t, newFw, []parseCase{
		{name: "true", json: `{"user":"u","name":"n","checkpoint":true}`, want: fw(true)},
		{name: "false", json: `{"user":"u","name":"n","checkpoint":false}`, want: fw(false)},
		{name: "string true", json: `{"user":"u","name":"n","checkpoint":"true"}`, want: fw(true)},
		{name: "string false", json: `{"user":"u","name":"n","checkpoint":"false"}`, want: fw(false)},
		{name: "number", json: `{"user":"u","name":"n","checkpoint":1}`, err: `field "checkpoint": expected a boolean, got a JSON number`},
		{name: "number in a string", json: `{"user":"u","name":"n","checkpoint":"1"}`, err: `field "checkpoint": expected a boolean, got a JSON number`},
		{name: "yes", json: `{"user":"u","name":"n","checkpoint":"yes"}`, err: `field "checkpoint": cannot parse "yes" as a boolean`},
		{name: "deprecated field parses", json: `{"user":"u","name":"n","role":"*"}`,
			want: &mesos.FrameworkInfo{User: proto.String("u"), Name: proto.String("n"), Role: proto.String("*")}},
	})

	newMsg := func() proto.Message { return &scheduler.Call_Message{} }
	msg := func(data string) proto.Message {
		return &scheduler.Call_Message{AgentId: agentID("a"), ExecutorId: execID("e"), Data: []byte(data)}
	}
	body := func(data string) string {
		return `{"agent_id":{"value":"a"},"executor_id":{"value":"e"},"data":` + data + `}`
	}
	runParseCases(t, newMsg, []parseCase{
		{name: "padded", json: body(`"aGVsbG8="`), want: msg("hello")},
		{name: "unpadded", json: body(`"aGVsbG8"`), want: msg("hello")},
		{name: "whitespace ignored", json: body(`" aGVs\nbG8= "`), want: msg("hello")},
		{name: "all 64 characters", json: body(`"+/+/"`), want: msg("\xfb\xff\xbf")},
		{name: "empty", json: body(`""`), want: msg("")},
		{name: "invalid character", json: body(`"aGV!bG8="`), err: `field "data": invalid base64: illegal base64 data at input byte 3`},
		{name: "url-safe alphabet", json: body(`"-_-_"`), err: `field "data": invalid base64: illegal base64 data at input byte 0`},
		{name: "wrong padding", json: body(`"aGVsbG8=="`), err: `field "data": invalid base64: illegal base64 data at input byte 8`},
		{name: "dangling character", json: body(`"aGVsb"`), err: `field "data": invalid base64: illegal base64 data at input byte 4`},
		{name: "number", json: body(`12`), err: `field "data": expected a base64 string, got a JSON number`},
		{name: "missing required bytes", json: `{"agent_id":{"value":"a"},"executor_id":{"value":"e"}}`, err: `missing required fields: data`},
	})
}

func TestUnmarshalMaps(t *testing.T) {
	newTask := func() proto.Message { return &mesos.TaskInfo{} }
	task := func(limits map[string]*mesos.Value_Scalar) proto.Message {
		return &mesos.TaskInfo{Name: proto.String("t"), TaskId: taskID("t"), AgentId: agentID("a"), Limits: limits}
	}
	head := `{"name":"t","task_id":{"value":"t"},"agent_id":{"value":"a"},"limits":`
	runParseCases(t, newTask, []parseCase{
		{name: "object of messages", json: head + `{"cpus":{"value":2},"mem":{"value":"256"},"":{"value":0}}}`,
			want: task(map[string]*mesos.Value_Scalar{"cpus": {Value: proto.Float64(2)}, "mem": {Value: proto.Float64(256)}, "": {Value: proto.Float64(0)}})},
		{name: "empty object", json: head + `{}}`, want: task(nil)},
		{name: "array of objects merges", json: head + `[{"cpus":{"value":1}},{"mem":{"value":2}}]}`,
			want: task(map[string]*mesos.Value_Scalar{"cpus": {Value: proto.Float64(1)}, "mem": {Value: proto.Float64(2)}})},
		{name: "bad value", json: head + `{"cpus":5}}`, err: `field "limits[cpus]": expected a JSON object (mesos.v1.Value.Scalar), got a JSON number`},
		{name: "bad nested value", json: head + `{"cpus":{"value":"x"}}}`, err: `field "limits[cpus].value": cannot parse "x" as a number`},
		{name: "null value leaves an empty entry", json: head + `{"cpus":null}}`, err: `missing required fields: limits[cpus].value`},
		{name: "not an object", json: head + `"cpus"}`, err: `field "limits": expected a JSON object (a map), got a JSON string`},
	})

	f := kitchenDesc.Fields()
	runParseCases(t, func() proto.Message { return newKitchen() }, []parseCase{
		{name: "integer, boolean and uint64 keys", json: `{"by_int":{"1":"a","-2":"b"},"by_bool":{"true":"5","false":6},"by_u64":{"18446744073709551615":{"s":"x"}}}`,
			want: func() proto.Message {
				k := newKitchen()
				bi := k.Mutable(f.ByName("by_int")).Map()
				bi.Set(protoreflect.ValueOfInt32(1).MapKey(), protoreflect.ValueOfString("a"))
				bi.Set(protoreflect.ValueOfInt32(-2).MapKey(), protoreflect.ValueOfString("b"))
				bb := k.Mutable(f.ByName("by_bool")).Map()
				bb.Set(protoreflect.ValueOfBool(true).MapKey(), protoreflect.ValueOfInt64(5))
				bb.Set(protoreflect.ValueOfBool(false).MapKey(), protoreflect.ValueOfInt64(6))
				bu := k.Mutable(f.ByName("by_u64")).Map()
				v := bu.NewValue()
				v.Message().Set(f.ByName("s"), protoreflect.ValueOfString("x"))
				bu.Set(protoreflect.ValueOfUint64(math.MaxUint64).MapKey(), v)
				return k
			}()},
		{name: "enum values: unknown name gives the default", json: `{"by_color":{"a":"GREEN","b":"NOPE","c":null}}`,
			want: func() proto.Message {
				k := newKitchen()
				bc := k.Mutable(f.ByName("by_color")).Map()
				bc.Set(protoreflect.ValueOfString("a").MapKey(), protoreflect.ValueOfEnum(1))
				bc.Set(protoreflect.ValueOfString("b").MapKey(), protoreflect.ValueOfEnum(0))
				bc.Set(protoreflect.ValueOfString("c").MapKey(), protoreflect.ValueOfEnum(0))
				return k
			}()},
		{name: "bad integer key", json: `{"by_int":{"x":"a"}}`, err: `field "by_int[x]": bad map key: cannot parse "x" as a number`},
		{name: "fractional integer key", json: `{"by_int":{"1.5":"a"}}`, err: `field "by_int[1.5]": bad map key: value 1.5 is not an integer (int32)`},
		{name: "bad boolean key", json: `{"by_bool":{"yes":1}}`, err: `field "by_bool[yes]": bad map key: cannot parse "yes" as a boolean`},
		{name: "array as a map value", json: `{"by_int":{"1":["a"]}}`, err: `field "by_int[1]": not expecting a JSON array as a map value`},
		{name: "repeated enum: unknown names are dropped", json: `{"colors":["RED","PURPLE","BLUE"]}`,
			want: func() proto.Message {
				k := newKitchen()
				l := k.Mutable(f.ByName("colors")).List()
				l.Append(protoreflect.ValueOfEnum(0))
				l.Append(protoreflect.ValueOfEnum(2))
				return k
			}()},
		{name: "repeated enum: numbers are rejected", json: `{"colors":["RED",1]}`,
			err: `field "colors[1]": expected the name of a codectest.Kitchen.Color value, got a JSON number`},
		{name: "float", json: `{"fl":"0.1"}`,
			want: func() proto.Message {
				k := newKitchen()
				k.Set(f.ByName("fl"), protoreflect.ValueOfFloat32(0.1))
				return k
			}()},
		{name: "float overflow", json: `{"fl":1e39}`, err: `field "fl": value 1e39 is out of range for float`},
		{name: "sint64, sfixed32 and fixed64", json: `{"s64":"-5","sf32":-6,"f64":"7"}`,
			want: func() proto.Message {
				k := newKitchen()
				k.Set(f.ByName("s64"), protoreflect.ValueOfInt64(-5))
				k.Set(f.ByName("sf32"), protoreflect.ValueOfInt32(-6))
				k.Set(f.ByName("f64"), protoreflect.ValueOfUint64(7))
				return k
			}()},
	})
}

func TestUnmarshalSyntaxErrors(t *testing.T) {
	for _, body := range []string{``, `   `, `not json`, `{"type":`, `{"type":"SUBSCRIBE"`, `{} {}`, `{}]`, `{"a":1,}`, `{'a':1}`, `{"a":NaN}`} {
		err := UnmarshalJSON([]byte(body), &scheduler.Call{})
		if !errors.Is(err, ErrInvalidJSON) {
			t.Errorf("UnmarshalJSON(%q) = %v, want an ErrInvalidJSON error", body, err)
		}
	}
	// Conversion errors are not syntax errors.
	for _, body := range []string{`[]`, `{"type":1}`, `{"subscribe":{}}`} {
		err := UnmarshalJSON([]byte(body), &scheduler.Call{})
		if err == nil || errors.Is(err, ErrInvalidJSON) {
			t.Errorf("UnmarshalJSON(%q) = %v, want a conversion error", body, err)
		}
	}
	err := UnmarshalJSON([]byte(`{} x`), &scheduler.Call{})
	if err == nil || !strings.Contains(err.Error(), "unexpected data after the top-level value") {
		t.Errorf("trailing data: %v", err)
	}
}

// The codec's Unmarshal checks required fields in both encodings.
func TestUnmarshalEncodings(t *testing.T) {
	for _, enc := range []Encoding{JSON, Protobuf} {
		b, err := Marshal(enc, acceptCall())
		if err != nil {
			t.Fatal(err)
		}
		var c scheduler.Call
		if err := Unmarshal(enc, b, &c); err != nil {
			t.Fatalf("%v: %v", enc, err)
		}
		if !proto.Equal(&c, withDefaults(acceptCall())) && !proto.Equal(&c, acceptCall()) {
			t.Errorf("%v: round trip changed the call", enc)
		}
		partial := &scheduler.Call{Accept: &scheduler.Call_Accept{OfferIds: []*mesos.OfferID{{}}}}
		b, err = proto.MarshalOptions{AllowPartial: true}.Marshal(partial)
		if enc == JSON {
			b, err = MarshalJSON(partial)
		}
		if err != nil {
			t.Fatal(err)
		}
		if err := Unmarshal(enc, b, &c); err == nil {
			t.Errorf("%v: a missing required field was accepted", enc)
		}
	}
}

// A syntax error's text is the problem alone, for the caller to prefix
// ("Failed to parse body into JSON: ...").
func TestUnmarshalSyntaxErrorText(t *testing.T) {
	err := UnmarshalJSON([]byte(`not json`), &scheduler.Call{})
	if want := "invalid character 'o' in literal null (expecting 'u')"; err == nil || err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
	if err := UnmarshalJSON(nil, &scheduler.Call{}); err == nil || err.Error() != "empty body" {
		t.Errorf("empty body: %v", err)
	}
}
