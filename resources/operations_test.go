package resources

import (
	"strings"
	"testing"
)

func dyn(text, role string) Resources {
	return MustParse(text).PushReservation(Reservation{Type: ReservationDynamic, Role: role, Principal: "p"})
}

func volume(rs Resources, id string) Resources {
	out := rs.Clone()
	for i := range out {
		out[i].Disk = &DiskInfo{PersistenceID: id}
	}
	return out
}

// An agent's total is its --resources with its checkpointed resources
// applied: each takes the place of what it was made of (static
// reservations stay; dynamic ones and volumes are stripped to find it).
func TestApplyCheckpointed(t *testing.T) {
	flags := MustParse("cpus:4;mem:1024;disk:1000;cpus(eng):2")
	refined := MustParse("cpus(eng):1").PushReservation(Reservation{Type: ReservationDynamic, Role: "eng/ml"})
	ckpt := dyn("cpus:1", "eng").Add(volume(dyn("disk:100", "eng"), "v1")).Add(refined)
	total, err := ApplyCheckpointed(flags, ckpt)
	if err != nil {
		t.Fatal(err)
	}
	want := MustParse("cpus:3;mem:1024;disk:900;cpus(eng):1").Add(ckpt)
	if !total.Equal(want) {
		t.Fatalf("total %v, want %v", total, want)
	}
	if got := total.Checkpointed(); !got.Equal(ckpt) {
		t.Errorf("Checkpointed() = %v, want %v", got, ckpt)
	}
	if got := ckpt.StripDynamic(); !got.Equal(MustParse("cpus:1;disk:100;cpus(eng):1")) {
		t.Errorf("StripDynamic() = %v", got)
	}
	if got := volume(dyn("disk:100", "eng"), "v1").StripPersistence(); !got.Equal(dyn("disk:100", "eng")) {
		t.Errorf("StripPersistence() = %v", got)
	}
	// More than --resources holds is an error naming the resource.
	if _, err := ApplyCheckpointed(flags, dyn("disk:2000", "eng")); err == nil || !strings.Contains(err.Error(), "disk") {
		t.Errorf("too much checkpointed disk: %v", err)
	}
}
