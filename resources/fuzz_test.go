package resources

import (
	"strings"
	"testing"
)

// textExpressible reports whether the --resources text form can express rs.
func textExpressible(rs Resources) bool {
	for i := range rs {
		r := &rs[i]
		if r.Disk != nil || r.AllocationRole != "" || r.Revocable || r.Shared || r.ProviderID != "" ||
			strings.ContainsAny(r.Name, "()[]{},;: \t\n\v\f\r") || strings.TrimSpace(r.Name) != r.Name {
			return false
		}
		switch len(r.Reservations) {
		case 0:
		case 1:
			if rv := r.Reservations[0]; rv.Type != ReservationStatic || rv.Principal != "" || rv.Labels != "" ||
				strings.ContainsAny(rv.Role, "(),:;") {
				return false
			}
		default:
			return false
		}
		for _, it := range r.Set {
			if it == "" || strings.ContainsAny(it, ",{}:; \t\n\v\f\r") {
				return false
			}
		}
	}
	return true
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"cpus:24;mem:4096;disk:4096;ports:[31000-32000]",
		"cpus(prod):2;mem(prod):512;gpus:2",
		"ports:[1-10,20-30];zones:{a,b,c}",
		"cpus:0.1;cpus:0.2",
		"ports:[80-80]",
		"cpus(a/b):1e2",
		`[{"name":"cpus","type":"SCALAR","scalar":{"value":2}}]`,
		`[{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":1,"end":2}]},"role":"x"}]`,
		`[{"name":"disk","type":"SCALAR","scalar":{"value":9},"disk":{"source":{"type":"MOUNT","mount":{"root":"/m"}}}}]`,
		"cpus:-1", "cpus(:1", "ports:[5-1]", "zones:{a,a}",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		rs, err := Parse(text)
		if err != nil {
			return
		}
		checkNormalized(t, rs)
		for i := range rs {
			if err := rs[i].Validate(); err != nil {
				t.Fatalf("Parse(%q) gave invalid %v: %v", text, rs[i], err)
			}
		}
		// Text input always round-trips through String; JSON input does
		// when it only uses what the text form expresses.
		if !strings.HasPrefix(strings.TrimSpace(text), "[") || textExpressible(rs) {
			again, err := Parse(rs.String())
			if err != nil {
				t.Fatalf("Parse(%q) ok, but Parse(String() = %q): %v", text, rs.String(), err)
			}
			if !again.Equal(rs) {
				t.Fatalf("Parse(%q) = %v, but Parse(String()) = %v", text, rs, again)
			}
		}
		back, err := FromProto(ToProto(rs))
		if err != nil || !back.Equal(rs) {
			t.Fatalf("proto round trip of %v: %v, %v", rs, back, err)
		}
		_ = LegacyJSON(rs).AppendJSON(nil)
	})
}

func FuzzParseAttributes(f *testing.F) {
	for _, s := range []string{"rack:2;zone:a;ports:[1-2];s:{a,b}", "host:web:01", "x:[1-2", "v:1e3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		attrs, err := ParseAttributes(text)
		if err != nil {
			return
		}
		for _, a := range attrs {
			if err := a.Validate(); err != nil {
				t.Fatalf("ParseAttributes(%q) gave invalid %+v: %v", text, a, err)
			}
		}
		back, err := AttributesFromProto(AttributesToProto(attrs))
		if err != nil || len(back) != len(attrs) {
			t.Fatalf("proto round trip: %v", err)
		}
	})
}
