package resources

import (
	"errors"
	"testing"
)

func static(role string) []Reservation {
	return []Reservation{{Type: ReservationStatic, Role: role}}
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		text string
		want Resources
		str  string // String() of the result
	}{
		{"", nil, ""},
		{" ; ;", nil, ""},
		{"cpus:4", Resources{ScalarResource("cpus", 4000)}, "cpus:4"},
		{"cpus:24;mem:4096;disk:4096;ports:[31000-32000]", Resources{
			ScalarResource("cpus", 24000), ScalarResource("mem", 4096000), ScalarResource("disk", 4096000),
			PortsResource(Range{31000, 32000}),
		}, "cpus:24;mem:4096;disk:4096;ports:[31000-32000]"},
		{"mem:1024.5", Resources{ScalarResource("mem", 1024500)}, "mem:1024.5"},
		{"cpus:0.1;cpus:0.2", Resources{ScalarResource("cpus", 300)}, "cpus:0.3"},
		{"cpus:1e1", Resources{ScalarResource("cpus", 10000)}, "cpus:10"},
		{"cpus:0.0005", Resources{ScalarResource("cpus", 1)}, "cpus:0.001"}, // halves round away from zero
		{"cpus:0", nil, ""},
		{"  cpus : 2 ; mem : 10  ", Resources{ScalarResource("cpus", 2000), ScalarResource("mem", 10000)}, "cpus:2;mem:10"},
		{"ports:[1-10,20-30]", Resources{PortsResource(Range{1, 10}, Range{20, 30})}, "ports:[1-10,20-30]"},
		{"ports:[ 1 - 10 , 20 - 30 ]", Resources{PortsResource(Range{1, 10}, Range{20, 30})}, "ports:[1-10,20-30]"},
		{"ports:[80-80]", Resources{PortsResource(Range{80, 80})}, "ports:[80-80]"},
		{"ports:[20-30,1-10,5-12,31-31]", Resources{PortsResource(Range{1, 12}, Range{20, 31})}, "ports:[1-12,20-31]"},
		{"ports:[]", nil, ""},
		{"ports:[1-2];ports:[3-4]", Resources{PortsResource(Range{1, 4})}, "ports:[1-4]"},
		{"ports:[0-18446744073709551615]", Resources{PortsResource(Range{0, 1<<64 - 1})}, "ports:[0-18446744073709551615]"},
		{"zones:{b,a,c}", Resources{SetResource("zones", "a", "b", "c")}, "zones:{a,b,c}"},
		{"zones:{ a , b }", Resources{SetResource("zones", "a", "b")}, "zones:{a,b}"},
		{"zones:{}", nil, ""},
		{"zones:{a};zones:{b}", Resources{SetResource("zones", "a", "b")}, "zones:{a,b}"},
		{"cpus(prod):2;mem(prod):512", Resources{
			{Name: "cpus", Type: TypeScalar, Scalar: 2000, Reservations: static("prod")},
			{Name: "mem", Type: TypeScalar, Scalar: 512000, Reservations: static("prod")},
		}, "cpus(prod):2;mem(prod):512"},
		{"cpus(*):2", Resources{ScalarResource("cpus", 2000)}, "cpus:2"},
		{"cpus( a/b ):2;cpus:1", Resources{
			{Name: "cpus", Type: TypeScalar, Scalar: 2000, Reservations: static("a/b")},
			ScalarResource("cpus", 1000),
		}, "cpus(a/b):2;cpus:1"},
		{"gpus:2", Resources{ScalarResource("gpus", 2000)}, "gpus:2"},
	}
	for _, tt := range tests {
		got, err := Parse(tt.text)
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.text, err)
			continue
		}
		checkNormalized(t, got)
		if !got.Equal(tt.want) {
			t.Errorf("Parse(%q) = %v, want %v", tt.text, got, tt.want)
		}
		if got.String() != tt.str {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.text, got.String(), tt.str)
		}
	}
}

func TestParseDefaultRole(t *testing.T) {
	got, err := ParseWithDefaultRole("cpus:1;mem(*):2;disk(x):3", "dev")
	if err != nil {
		t.Fatal(err)
	}
	want := Resources{
		{Name: "cpus", Type: TypeScalar, Scalar: 1000, Reservations: static("dev")},
		ScalarResource("mem", 2000),
		{Name: "disk", Type: TypeScalar, Scalar: 3000, Reservations: static("x")},
	}
	mustEqual(t, got, want, "default role")
	if _, err := ParseWithDefaultRole("cpus:1", "-bad"); err == nil {
		t.Error("bad default role accepted")
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct{ text, err string }{
		{"cpus", `invalid resource "cpus": missing ':' between name and value`},
		{"cpus:1:2", `invalid resource "cpus:1:2": extra ':'`},
		{":4", `invalid resource ":4": empty resource name`},
		{" (prod):4", `invalid resource "(prod):4": empty resource name`},
		{"cpus:", `invalid resource "cpus:": empty value`},
		{"cpus:-1", `invalid resource "cpus:-1": scalar value -1 must not be negative`},
		{"cpus:nan", `invalid resource "cpus:nan": value "nan" is not a number, ranges [b-e,...] or a set {a,...}`},
		{"cpus:NaN", `invalid resource "cpus:NaN": value "NaN" is not a number, ranges [b-e,...] or a set {a,...}`},
		{"cpus:inf", `invalid resource "cpus:inf": value "inf" is not a number, ranges [b-e,...] or a set {a,...}`},
		{"cpus:0x10", `invalid resource "cpus:0x10": value "0x10" is not a number, ranges [b-e,...] or a set {a,...}`},
		{"cpus:abc", `invalid resource "cpus:abc": value "abc" is not a number, ranges [b-e,...] or a set {a,...}`},
		{"cpus:1e400", `invalid resource "cpus:1e400": scalar value 1e400 is too large`},
		{"cpus:1e16", `invalid resource "cpus:1e16": scalar value 1e16 is too large`},
		{"cpus:0.0001", `invalid resource "cpus:0.0001": scalar value 0.0001 is not zero but rounds to zero (scalars have three decimals)`},
		{"ports:[10-1]", `invalid resource "ports:[10-1]": range "10-1" has begin > end`},
		{"ports:[1-2", `invalid resource "ports:[1-2": ranges "[1-2" must be written [begin-end,...]`},
		{"ports:[80]", `invalid resource "ports:[80]": range "80" must be written begin-end`},
		{"ports:[a-b]", `invalid resource "ports:[a-b]": range "a-b" must be two non-negative integers begin-end`},
		{"ports:[-1-5]", `invalid resource "ports:[-1-5]": range "-1-5" must be two non-negative integers begin-end`},
		{"ports:[1-5,]", `invalid resource "ports:[1-5,]": range "" must be written begin-end`},
		{"zones:{a,a}", `invalid resource "zones:{a,a}": set "{a,a}" has duplicate items`},
		{"zones:{a,b", `invalid resource "zones:{a,b": set "{a,b" must be written {a,b,...}`},
		{"cpus(prod:1", `invalid resource "cpus(prod:1": mismatched parentheses`},
		{"cpus)prod(:1", `invalid resource "cpus)prod(:1": mismatched parentheses`},
		{"cpus(prod)x:1", `invalid resource "cpus(prod)x:1": unexpected text after ')'`},
		{"cpus(prod, alice):1", `invalid resource "cpus(prod, alice):1": only a role may be given in parentheses`},
		{"cpus():1", `invalid resource "cpus():1": invalid role: empty role name`},
		{"cpus(-x):1", `invalid resource "cpus(-x):1": invalid role: role "-x" has a component starting with '-'`},
		{"cpus(a//b):1", `invalid resource "cpus(a//b):1": invalid role: role "a//b" must not contain two adjacent '/'`},
		{"cpus(a/*):1", `invalid resource "cpus(a/*):1": invalid role: role "a/*" must not have "*" as a component`},
		{"cpus(..):1", `invalid resource "cpus(..):1": invalid role: role ".." must not have ".." as a component`},
		{"a:0;[x:1", `invalid resource "[x:1": resource name "[x" must not contain whitespace or any of ()[]{},`},
		{"my cpus:1", `invalid resource "my cpus:1": resource name "my cpus" must not contain whitespace or any of ()[]{},`},
		{"cpus:1;cpus:[1-2]", `invalid resource "cpus:[1-2]": resource "cpus" was already given as SCALAR; the same name cannot have two types`},
		{"cpus:1;mem:x", `invalid resource "mem:x": value "x" is not a number, ranges [b-e,...] or a set {a,...}`},
	}
	for _, tt := range tests {
		got, err := Parse(tt.text)
		if err == nil {
			t.Errorf("Parse(%q) = %v, want error %q", tt.text, got, tt.err)
			continue
		}
		if err.Error() != tt.err {
			t.Errorf("Parse(%q) error\n got  %s\n want %s", tt.text, err, tt.err)
		}
		var pe *ParseError
		if !errors.As(err, &pe) || pe.What != "resource" {
			t.Errorf("Parse(%q) error %T is not a resource *ParseError", tt.text, err)
		}
	}
}

func TestParseJSON(t *testing.T) {
	text := `[
	  {"name":"cpus","type":"SCALAR","scalar":{"value":2}},
	  {"name":"mem","type":"SCALAR","scalar":{"value":"1024.5"},"role":"prod"},
	  {"name":"ports","type":"RANGES","ranges":{"range":[{"begin":31000,"end":31500},{"begin":"31501","end":32000}]}},
	  {"name":"zones","type":"SET","set":{"item":["b","a"]},"reservations":[{"type":"STATIC","role":"web"}]},
	  {"name":"disk","type":"SCALAR","scalar":{"value":1000},"disk":{"source":{"type":"MOUNT","mount":{"root":"/mnt/d1"}}},"unknown_field":1},
	  {"name":"disk","type":"SCALAR","scalar":{"value":1000},"disk":{"source":{"type":"MOUNT","mount":{"root":"/mnt/d1"}}}}
	]`
	got, err := Parse(text)
	if err != nil {
		t.Fatal(err)
	}
	mount := &DiskInfo{Source: &DiskSource{Type: DiskSourceMount, Root: "/mnt/d1"}}
	want := Resources{
		ScalarResource("cpus", 2000),
		{Name: "mem", Type: TypeScalar, Scalar: 1024500, Reservations: static("prod")},
		PortsResource(Range{31000, 32000}),
		{Name: "zones", Type: TypeSet, Set: Set{"a", "b"}, Reservations: static("web")},
		{Name: "disk", Type: TypeScalar, Scalar: 1000000, Disk: mount},
		{Name: "disk", Type: TypeScalar, Scalar: 1000000, Disk: mount}, // MOUNT disks never merge
	}
	checkNormalized(t, got)
	mustEqual(t, got, want, "JSON resources")
	if len(got) != 6 {
		t.Fatalf("got %d entries, want 6 (two separate MOUNT disks)", len(got))
	}
	if got[4].String() != "disk[MOUNT:/mnt/d1]:1000" {
		t.Errorf("String = %q", got[4].String())
	}
}

func TestParseJSONInvalid(t *testing.T) {
	tests := []struct{ text, err string }{
		{`[1,2`, `invalid resources JSON: unexpected end of JSON input`},
		{`[{"type":"SCALAR","scalar":{"value":1}}]`, `invalid resource "#0": missing required field name`},
		{`[{"name":"cpus","scalar":{"value":1}}]`, `invalid resource "#0 (cpus)": missing required field type`},
		{`[{"name":"cpus","type":"FLOAT","scalar":{"value":1}}]`, `invalid resource "#0 (cpus)": unknown resource type "FLOAT"`},
		{`[{"name":"cpus","type":"TEXT","scalar":{"value":1}}]`, `invalid resource "#0 (cpus)": unsupported resource type TEXT`},
		{`[{"name":"cpus","type":"SCALAR","ranges":{"range":[]}}]`, `invalid resource "#0 (cpus)": a SCALAR resource must have a scalar value and no ranges or set`},
		{`[{"name":"cpus","type":"SCALAR","scalar":{"value":-1}}]`, `invalid resource "#0 (cpus)": scalar value -1 must not be negative`},
		{`[{"name":"cpus","type":"SCALAR","scalar":{"value":"Infinity"}}]`, `invalid resource "#0 (cpus)": scalar value +Inf is not finite`},
		{`[{"name":"cpus","type":"SCALAR","scalar":{}}]`, `invalid resource "#0 (cpus)": missing required field scalar.value`},
		{`[{"name":"p","type":"RANGES","ranges":{"range":[{"begin":5,"end":1}]}}]`, `invalid resource "#0 (p)": range 5-1 has begin > end`},
		{`[{"name":"p","type":"RANGES","ranges":{"range":[{"begin":1,"end":5},{"begin":5,"end":6}]}}]`, `invalid resource "#0 (p)": ranges 1-5 and 5-6 overlap`},
		{`[{"name":"s","type":"SET","set":{"item":["a","a"]}}]`, `invalid resource "#0 (s)": set has duplicate items`},
		{`[{"name":"","type":"SCALAR","scalar":{"value":1}}]`, `invalid resource "#0 ()": empty resource name`},
		{`[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"revocable":{}}]`, `invalid resource "#0 (cpus)": revocable resources cannot be given on the command line`},
		{`[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"reservations":[{"type":"DYNAMIC","role":"a","principal":"p"}]}]`, `invalid resource "#0 (cpus)": dynamic reservations cannot be given on the command line`},
		{`[{"name":"disk","type":"SCALAR","scalar":{"value":1},"role":"a","disk":{"persistence":{"id":"v"}}}]`, `invalid resource "#0 (disk)": persistent volumes cannot be given on the command line`},
		{`[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"disk":{}}]`, `invalid resource "#0 (cpus)": disk information is not allowed on resource "cpus"`},
		{`[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"role":"*","reservation":{"principal":"p"}}]`, `invalid resource "#0 (cpus)": invalid reservation: role "*" cannot be dynamically reserved`},
		{`[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"reservations":[{"type":"STATIC","role":"*"}]}]`, `invalid resource "#0 (cpus)": invalid reservation: role "*" cannot be reserved`},
		{`[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"reservations":[{"type":"STATIC","role":"a"},{"type":"DYNAMIC","role":"b"}]}]`, `invalid resource "#0 (cpus)": invalid refined reservation: role "b" is not a refinement of "a"`},
		{`[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"reservations":[{"role":"a"}]}]`, `invalid resource "#0 (cpus)": invalid reservation: type must be set`},
		{`[{"name":"cpus","type":"SCALAR","scalar":{"value":1},"role":"b","reservations":[{"type":"STATIC","role":"a"}]}]`, `invalid resource "#0 (cpus)": role "b" does not match the role "a" in reservations`},
		{`[{"name":"cpus","type":"SCALAR","scalar":{"value":1}},{"name":"cpus","type":"SET","set":{"item":["a"]}}]`, `invalid resource "#1 (cpus)": resource "cpus" was already given as SCALAR; the same name cannot have two types`},
	}
	for _, tt := range tests {
		got, err := Parse(tt.text)
		if err == nil {
			t.Errorf("Parse(%s) = %v, want error", tt.text, got)
			continue
		}
		if err.Error() != tt.err {
			t.Errorf("Parse(%s) error\n got  %s\n want %s", tt.text, err, tt.err)
		}
	}
}

func TestParseAttributes(t *testing.T) {
	got, err := ParseAttributes("rack:2;zone:a;ports:[1-2];s:{b,a};host:web:01;ver:1.25; spaced : a b ;neg:-3")
	if err != nil {
		t.Fatal(err)
	}
	want := []Attribute{
		{Name: "rack", Type: TypeScalar, Scalar: 2},
		{Name: "zone", Type: TypeText, Text: "a"},
		{Name: "ports", Type: TypeRanges, Ranges: Ranges{{1, 2}}},
		{Name: "s", Type: TypeSet, Set: []string{"b", "a"}},
		{Name: "host", Type: TypeText, Text: "web:01"},
		{Name: "ver", Type: TypeScalar, Scalar: 1.25},
		{Name: "spaced", Type: TypeText, Text: "ab"}, // Mesos removes all whitespace from values
		{Name: "neg", Type: TypeScalar, Scalar: -3},
	}
	if len(got) != len(want) {
		t.Fatalf("got %v", got)
	}
	for i := range want {
		if !got[i].Equal(want[i]) {
			t.Errorf("attribute %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if s := AttributesString(got); s != "rack:2;zone:a;ports:[1-2];s:{b,a};host:web:01;ver:1.25;spaced:ab;neg:-3" {
		t.Errorf("AttributesString = %q", s)
	}
	again, err := ParseAttributes(AttributesString(got))
	if err != nil || len(again) != len(got) {
		t.Fatalf("round trip: %v %v", again, err)
	}
	for i := range got {
		if !again[i].Equal(got[i]) {
			t.Errorf("round trip %d: %+v vs %+v", i, again[i], got[i])
		}
	}
}

func TestParseAttributesInvalid(t *testing.T) {
	tests := []struct{ text, err string }{
		{"rack", `invalid attribute "rack": missing ':' between name and value`},
		{":2", `invalid attribute ":2": empty attribute name`},
		{"rack:", `invalid attribute "rack:": empty value`},
		{"p:[1-2", `invalid attribute "p:[1-2": mismatched [] brackets`},
		{"p:[2-1]", `invalid attribute "p:[2-1]": range "2-1" has begin > end`},
		{"p:a[1-2]", `invalid attribute "p:a[1-2]": unexpected '['`},
		{"s:a{b}", `invalid attribute "s:a{b}": unexpected '{'`},
		{"s:{a}}{", `invalid attribute "s:{a}}{": mismatched {} brackets`},
	}
	for _, tt := range tests {
		_, err := ParseAttributes(tt.text)
		if err == nil || err.Error() != tt.err {
			t.Errorf("ParseAttributes(%q) error\n got  %v\n want %s", tt.text, err, tt.err)
		}
	}
}
