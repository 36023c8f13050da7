package resources

import (
	"encoding/json"
	"testing"
)

func TestLegacyJSON(t *testing.T) {
	tests := []struct{ res, want string }{
		// As captured from Mesos 1.12 (shared/mesos-samples).
		{"cpus:2;mem:23081;disk:252899;ports:[31000-32000]", `{"disk":252899.0,"mem":23081.0,"gpus":0.0,"cpus":2.0,"ports":"[31000-32000]"}`},
		{"cpus:0.1;mem:32", `{"disk":0.0,"mem":32.0,"gpus":0.0,"cpus":0.1}`},
		{"", `{"disk":0.0,"mem":0.0,"gpus":0.0,"cpus":0.0}`},
		// Reservations are summed; other names follow; ranges and sets use
		// Mesos's ", " separator.
		{"cpus(a):1;cpus:0.5;foo:3;bar:0.25;ports:[1-2,4-5];zones:{x,y}", `{"disk":0.0,"mem":0.0,"gpus":0.0,"cpus":1.5,"bar":0.25,"foo":3.0,"ports":"[1-2, 4-5]","zones":"{x, y}"}`},
	}
	for _, tt := range tests {
		got, err := json.Marshal(LegacyJSON(MustParse(tt.res)))
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.want {
			t.Errorf("LegacyJSON(%q)\n got  %s\n want %s", tt.res, got, tt.want)
		}
	}
	rev := MustParse("cpus:1;ports:[5-6]").remap(func(r *Resource) { r.Revocable = true })
	got, _ := json.Marshal(LegacyJSON(MustParse("cpus:2").Add(rev)))
	if want := `{"disk":0.0,"mem":0.0,"gpus":0.0,"cpus":2.0,"cpus_revocable":1.0,"ports_revocable":"[5-6]"}`; string(got) != want {
		t.Errorf("revocable:\n got  %s\n want %s", got, want)
	}
	if f, ok := LegacyJSON(MustParse("cpus:3")).Get("cpus"); !ok || f.Number != 3 {
		t.Errorf("Get = %v %v", f, ok)
	}
	// It embeds in a larger document as a json.Marshaler.
	doc, _ := json.Marshal(map[string]any{"resources": LegacyJSON(nil)})
	if string(doc) != `{"resources":{"disk":0.0,"mem":0.0,"gpus":0.0,"cpus":0.0}}` {
		t.Errorf("embedded: %s", doc)
	}
}

func TestLegacyAttributesJSON(t *testing.T) {
	attrs, err := ParseAttributes("rack:2;zone:a;ports:[1-2,4-4];s:{b,a};w:0.5")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(LegacyAttributesJSON(attrs))
	if want := `{"rack":2.0,"zone":"a","ports":"[1-2, 4-4]","s":"{b, a}","w":0.5}`; string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if got, _ := json.Marshal(LegacyAttributesJSON(nil)); string(got) != `{}` {
		t.Errorf("empty: %s", got)
	}
}

// Legacy objects write numbers by the codec's one rule for doubles.
func TestLegacyObjectRendering(t *testing.T) {
	tests := []struct {
		f    float64
		want string
	}{
		{0, "0.0"}, {1, "1.0"}, {0.1, "0.1"}, {1024.5, "1024.5"}, {-2, "-2.0"},
		{15, "15.0"}, {1e20, "100000000000000000000.0"}, {1e21, "1e21"}, {1.5e22, "1.5e22"},
		{1e-6, "0.000001"}, {1e-7, "1e-7"}, {2.5e-8, "2.5e-8"}, {0.3, "0.3"},
	}
	for _, tt := range tests {
		got, err := json.Marshal(LegacyObject{{Key: "x", Number: tt.f}})
		if want := `{"x":` + tt.want + `}`; err != nil || string(got) != want {
			t.Errorf("%v renders as %s (%v), want %s", tt.f, got, err, want)
		}
	}
	var o LegacyObject = []LegacyField{{Key: "a\"\n\x01é", IsText: true, Text: "\xff"}}
	b, _ := json.Marshal(o)
	var back map[string]string
	if err := json.Unmarshal(b, &back); err != nil || back["a\"\n\x01é"] != "\ufffd" {
		t.Errorf("escaping: %s %v %v", b, back, err)
	}
}
