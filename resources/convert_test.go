package resources

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/v1/mesos"
)

func scalarPB(name string, v float64) *mesos.Resource {
	return &mesos.Resource{Name: proto.String(name), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(v)}}
}

func TestToProtoForm(t *testing.T) {
	rs := MustParse("cpus:2;mem(prod):512;ports:[31000-32000];zones:{a,b}").Add(
		MustParse("disk:10").PushReservation(Reservation{Type: ReservationDynamic, Role: "prod", Principal: "ops", Labels: EncodeLabels([]Label{{"k", "v"}})}),
	).AllocatedTo("prod")
	pbs := ToProto(rs)
	var sb strings.Builder
	for _, pb := range pbs {
		b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(pb)
		if err != nil {
			t.Fatal(err)
		}
		sb.Write(b)
		sb.WriteByte('\n')
	}
	// protojson adds random spaces; compare without them.
	got := strings.ReplaceAll(sb.String(), " ", "")
	want := strings.Join([]string{
		`{"name":"cpus","type":"SCALAR","scalar":{"value":2},"role":"*","allocation_info":{"role":"prod"}}`,
		`{"name":"mem","type":"SCALAR","scalar":{"value":512},"role":"prod","allocation_info":{"role":"prod"},"reservations":[{"type":"STATIC","role":"prod"}]}`,
		`{"name":"ports","type":"RANGES","ranges":{"range":[{"begin":"31000","end":"32000"}]},"role":"*","allocation_info":{"role":"prod"}}`,
		`{"name":"zones","type":"SET","set":{"item":["a","b"]},"role":"*","allocation_info":{"role":"prod"}}`,
		`{"name":"disk","type":"SCALAR","scalar":{"value":10},"role":"prod","allocation_info":{"role":"prod"},"reservation":{"principal":"ops","labels":{"labels":[{"key":"k","value":"v"}]}},"reservations":[{"type":"DYNAMIC","role":"prod","principal":"ops","labels":{"labels":[{"key":"k","value":"v"}]}}]}`,
	}, "\n") + "\n"
	if got != want {
		t.Errorf("ToProto JSON\n got\n%s want\n%s", got, want)
	}
	back, err := FromProto(pbs)
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, back, rs, "round trip")
}

// The three formats of Mesos's convertResourceFormat, for one resource of
// each kind of reservation: unreserved, static, dynamic (without and with
// principal and labels) and refined.
func TestToProtoFormat(t *testing.T) {
	labels := EncodeLabels([]Label{{"k", "v"}})
	unreserved := MustParse("cpus:2")
	static := MustParse("mem(prod):512")
	bare := MustParse("gpus:1").PushReservation(Reservation{Type: ReservationDynamic, Role: "prod"})
	dynamic := MustParse("disk:10").PushReservation(Reservation{Type: ReservationDynamic, Role: "prod", Principal: "ops", Labels: labels})
	refined := MustParse("cpus(prod):1").PushReservation(Reservation{Type: ReservationDynamic, Role: "prod/web", Principal: "ops"})
	const (
		cpus    = `"name":"cpus","type":"SCALAR","scalar":{"value":2}`
		mem     = `"name":"mem","type":"SCALAR","scalar":{"value":512}`
		gpus    = `"name":"gpus","type":"SCALAR","scalar":{"value":1}`
		disk    = `"name":"disk","type":"SCALAR","scalar":{"value":10}`
		stStack = `"reservations":[{"type":"STATIC","role":"prod"}]`
		bStack  = `"reservations":[{"type":"DYNAMIC","role":"prod"}]`
		dStack  = `"reservations":[{"type":"DYNAMIC","role":"prod","principal":"ops","labels":{"labels":[{"key":"k","value":"v"}]}}]`
		dOld    = `"reservation":{"principal":"ops","labels":{"labels":[{"key":"k","value":"v"}]}}`
		alloc   = `"allocation_info":{"role":"prod"}`
	)
	for _, tc := range []struct {
		f    Format
		want []string
	}{
		{EndpointFormat, []string{
			`{` + cpus + `,"role":"*"}`,
			`{` + mem + `,"role":"prod",` + stStack + `}`,
			`{` + gpus + `,"role":"prod","reservation":{},` + bStack + `}`,
			`{` + disk + `,"role":"prod",` + alloc + `,` + dOld + `,` + dStack + `}`,
		}},
		{PostRefinementFormat, []string{
			`{` + cpus + `}`,
			`{` + mem + `,` + stStack + `}`,
			`{` + gpus + `,` + bStack + `}`,
			`{` + disk + `,` + alloc + `,` + dStack + `}`,
		}},
		{PreRefinementFormat, []string{
			`{` + cpus + `,"role":"*"}`,
			`{` + mem + `,"role":"prod"}`,
			`{` + gpus + `,"role":"prod","reservation":{}}`,
			`{` + disk + `,"role":"prod",` + alloc + `,` + dOld + `}`,
		}},
	} {
		rs := Resources{unreserved[0], static[0], bare[0], dynamic.AllocatedTo("prod")[0]}
		pbs, err := ToProtoFormat(rs, tc.f)
		if err != nil {
			t.Fatalf("%s: %v", tc.f, err)
		}
		for i, pb := range pbs {
			b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(pb)
			if err != nil {
				t.Fatal(err)
			}
			// protojson adds random spaces; compare without them.
			if got := strings.ReplaceAll(string(b), " ", ""); got != tc.want[i] {
				t.Errorf("%s:\n got %s\nwant %s", tc.f, got, tc.want[i])
			}
		}
		back, err := FromProto(pbs)
		if err != nil {
			t.Fatalf("%s: FromProto: %v", tc.f, err)
		}
		mustEqual(t, back, rs, "%s round trip", tc.f)
	}

	// A refined stack has no pre-refinement form; the others write it.
	if _, err := ToProtoFormat(refined, PreRefinementFormat); err == nil || !strings.Contains(err.Error(), "refined") {
		t.Errorf("pre-refinement format of a refined reservation: error %v", err)
	}
	for _, f := range []Format{EndpointFormat, PostRefinementFormat} {
		pbs, err := ToProtoFormat(refined, f)
		if err != nil || len(pbs[0].Reservations) != 2 || pbs[0].Role != nil || pbs[0].Reservation != nil {
			t.Errorf("%s of a refined reservation: %v, %v", f, pbs, err)
		}
	}
	if _, err := ToProtoFormat(unreserved, Format(9)); err == nil {
		t.Error("an unknown format was accepted")
	}
}

func TestFromProtoFormats(t *testing.T) {
	// Pre-refinement: role only (static) and role + reservation (dynamic).
	static := scalarPB("cpus", 1)
	static.Role = proto.String("prod")
	dynamic := scalarPB("mem", 2)
	dynamic.Role = proto.String("prod")
	dynamic.Reservation = &mesos.Resource_ReservationInfo{Principal: proto.String("ops")}
	unreserved := scalarPB("disk", 3) // role unset means "*"
	got, err := FromProto([]*mesos.Resource{static, dynamic, unreserved, scalarPB("gpus", 0)})
	if err != nil {
		t.Fatal(err)
	}
	want := Resources{
		{Name: "cpus", Type: TypeScalar, Scalar: 1000, Reservations: []Reservation{{Type: ReservationStatic, Role: "prod"}}},
		{Name: "mem", Type: TypeScalar, Scalar: 2000, Reservations: []Reservation{{Type: ReservationDynamic, Role: "prod", Principal: "ops"}}},
		ScalarResource("disk", 3000),
	}
	mustEqual(t, got, want, "pre-refinement")

	// Scalars are rounded to three decimals.
	got, _ = FromProto([]*mesos.Resource{scalarPB("cpus", 0.1), scalarPB("cpus", 0.2)})
	if got.CPUs() != 300 || ToProto(got)[0].GetScalar().GetValue() != 0.3 {
		t.Errorf("rounding: %v", got)
	}
}

func TestFromProtoInvalid(t *testing.T) {
	nan := scalarPB("cpus", 0)
	nan.Scalar.Value = proto.Float64(posInf - posInf)
	noType := scalarPB("cpus", 1)
	noType.Type = nil
	mismatch := scalarPB("cpus", 1)
	mismatch.Type = mesos.Value_RANGES.Enum()
	badRange := &mesos.Resource{Name: proto.String("ports"), Type: mesos.Value_RANGES.Enum(),
		Ranges: &mesos.Value_Ranges{Range: []*mesos.Value_Range{{Begin: proto.Uint64(9), End: proto.Uint64(1)}}}}
	tooMany := scalarPB("cpus", 1)
	tooMany.Role = proto.String("a")
	tooMany.Reservations = []*mesos.Resource_ReservationInfo{
		{Type: mesos.Resource_ReservationInfo_STATIC.Enum(), Role: proto.String("a")},
		{Type: mesos.Resource_ReservationInfo_DYNAMIC.Enum(), Role: proto.String("a/b")},
	}
	badDisk := scalarPB("disk", 1)
	badDisk.Disk = &mesos.Resource_DiskInfo{Persistence: &mesos.Resource_DiskInfo_Persistence{}}
	tests := []struct {
		pb  *mesos.Resource
		err string
	}{
		{nil, `invalid resource "#0": nil resource`},
		{&mesos.Resource{Type: mesos.Value_SCALAR.Enum()}, `invalid resource "#0": missing required field name`},
		{scalarPB("cpus", -1), `invalid resource "#0 (cpus)": scalar value -1 must not be negative`},
		{nan, `invalid resource "#0 (cpus)": scalar value NaN is not finite`},
		{noType, `invalid resource "#0 (cpus)": missing required field type`},
		{mismatch, `invalid resource "#0 (cpus)": a RANGES resource must have ranges and no scalar or set`},
		{badRange, `invalid resource "#0 (ports)": range 9-1 has begin > end`},
		{tooMany, `invalid resource "#0 (cpus)": role must not be set when there is more than one reservation`},
		{badDisk, `invalid resource "#0 (disk)": disk.persistence.id must be set`},
	}
	for _, tt := range tests {
		_, err := FromProto([]*mesos.Resource{tt.pb})
		if err == nil || err.Error() != tt.err {
			t.Errorf("FromProto(%v) error\n got  %v\n want %s", tt.pb, err, tt.err)
		}
	}
}

func TestDiskProtoRoundTrip(t *testing.T) {
	pb := scalarPB("disk", 100)
	pb.Role = proto.String("db")
	pb.Reservation = &mesos.Resource_ReservationInfo{Principal: proto.String("ops")}
	pb.Disk = &mesos.Resource_DiskInfo{
		Persistence: &mesos.Resource_DiskInfo_Persistence{Id: proto.String("vol1"), Principal: proto.String("ops")},
		Volume:      &mesos.Volume{},
		Source: &mesos.Resource_DiskInfo_Source{
			Type:  mesos.Resource_DiskInfo_Source_MOUNT.Enum(),
			Mount: &mesos.Resource_DiskInfo_Source_Mount{Root: proto.String("/mnt/d")},
		},
	}
	pb.Shared = &mesos.Resource_SharedInfo{}
	rs, err := FromProto([]*mesos.Resource{pb})
	if err != nil {
		t.Fatal(err)
	}
	r := rs[0]
	if !r.IsPersistentVolume() || !r.Shared || r.Disk.Source.Root != "/mnt/d" || r.Disk.PersistencePrincipal != "ops" {
		t.Fatalf("got %+v", r)
	}
	if r.String() != "disk(reservations: [(DYNAMIC,db,ops)])[MOUNT:/mnt/d,vol1]<SHARED>:100" {
		t.Errorf("String = %q", r.String())
	}
	back := ToProto(rs)[0]
	if back.GetDisk().Volume == nil {
		t.Error("volume lost")
	}
	back.Disk.Volume = nil
	pb.Disk.Volume = nil
	pb.Reservations = []*mesos.Resource_ReservationInfo{{Type: mesos.Resource_ReservationInfo_DYNAMIC.Enum(), Role: proto.String("db"), Principal: proto.String("ops")}}
	if !proto.Equal(back, pb) {
		t.Errorf("round trip\n got  %v\n want %v", back, pb)
	}
	// A disk built in Go converts without a proto.
	d := Resource{Name: "disk", Type: TypeScalar, Scalar: 1000, Disk: &DiskInfo{Source: &DiskSource{Type: DiskSourceRaw, Vendor: "csi", ID: "x", Metadata: EncodeLabels([]Label{{"a", "b"}})}}}
	again, err := FromProto(ToProto(Resources{d}))
	if err != nil || !again[0].Equal(&d) {
		t.Errorf("Go disk round trip: %v %v", again, err)
	}
}

func TestAttributeProto(t *testing.T) {
	attrs, err := ParseAttributes("rack:2;zone:a;ports:[1-2];s:{b,a}")
	if err != nil {
		t.Fatal(err)
	}
	pbs := AttributesToProto(attrs)
	if pbs[1].GetType() != mesos.Value_TEXT || pbs[1].GetText().GetValue() != "a" || pbs[0].GetScalar().GetValue() != 2 {
		t.Fatalf("AttributesToProto = %v", pbs)
	}
	back, err := AttributesFromProto(pbs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range attrs {
		if !back[i].Equal(attrs[i]) {
			t.Errorf("attribute %d: %+v vs %+v", i, back[i], attrs[i])
		}
	}
	bad := []*mesos.Attribute{
		{Name: proto.String("x"), Type: mesos.Value_SCALAR.Enum(), Text: &mesos.Value_Text{Value: proto.String("a")}},
		{Name: proto.String(""), Type: mesos.Value_TEXT.Enum(), Text: &mesos.Value_Text{Value: proto.String("a")}},
		{Name: proto.String("x"), Type: mesos.Value_TEXT.Enum()},
	}
	wants := []string{
		`invalid attribute "#0": attribute "x": a SCALAR attribute must have exactly the SCALAR value`,
		`invalid attribute "#0": empty attribute name`,
		`invalid attribute "#0": attribute "x": a TEXT attribute must have exactly the TEXT value`,
	}
	for i, pb := range bad {
		if _, err := AttributesFromProto([]*mesos.Attribute{pb}); err == nil || err.Error() != wants[i] {
			t.Errorf("AttributesFromProto(%v) = %v, want %s", pb, err, wants[i])
		}
	}
}
