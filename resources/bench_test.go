package resources

import "testing"

// The typical agent of Mesos's allocator benchmarks.
const (
	benchAgent = "cpus:24;mem:4096;disk:4096;ports:[31000-32000]"
	benchUsed  = "cpus:16;mem:2014;disk:1024"
	benchTask  = "cpus:0.1;mem:32;ports:[31005-31005]"
)

var sink Resources
var sinkBool bool

func BenchmarkAdd(b *testing.B) {
	agent, used := MustParse(benchAgent), MustParse(benchUsed)
	b.ReportAllocs()
	for b.Loop() {
		sink = agent.Add(used)
	}
}

func BenchmarkAddWithPorts(b *testing.B) {
	agent, task := MustParse(benchAgent).Subtract(MustParse(benchTask)), MustParse(benchTask)
	b.ReportAllocs()
	for b.Loop() {
		sink = agent.Add(task)
	}
}

func BenchmarkSubtract(b *testing.B) {
	agent, used := MustParse(benchAgent), MustParse(benchUsed)
	b.ReportAllocs()
	for b.Loop() {
		sink = agent.Subtract(used)
	}
}

func BenchmarkSubtractWithPorts(b *testing.B) {
	agent, task := MustParse(benchAgent), MustParse(benchTask)
	b.ReportAllocs()
	for b.Loop() {
		sink = agent.Subtract(task)
	}
}

func BenchmarkContains(b *testing.B) {
	agent, used := MustParse(benchAgent), MustParse(benchUsed)
	b.ReportAllocs()
	for b.Loop() {
		sinkBool = agent.Contains(used)
	}
}

func BenchmarkContainsWithPorts(b *testing.B) {
	agent, task := MustParse(benchAgent), MustParse(benchTask)
	b.ReportAllocs()
	for b.Loop() {
		sinkBool = agent.Contains(task)
	}
}

func BenchmarkEqual(b *testing.B) {
	agent, other := MustParse(benchAgent), MustParse(benchAgent)
	b.ReportAllocs()
	for b.Loop() {
		sinkBool = agent.Equal(other)
	}
}

// The in-place forms, as an allocator keeping per-agent running totals would
// use them: add then subtract the same allocation.
func BenchmarkAddSubtractInPlace(b *testing.B) {
	agent, used := MustParse(benchAgent), MustParse(benchUsed)
	b.ReportAllocs()
	for b.Loop() {
		agent.AddInPlace(used)
		agent.SubtractInPlace(used)
	}
}

// Labeled dynamic reservations: Mesos's worst case for Resources equality.
func BenchmarkContainsReserved(b *testing.B) {
	rv := Reservation{Type: ReservationDynamic, Role: "role1", Principal: "p", Labels: EncodeLabels([]Label{{"key", "value"}})}
	agent := MustParse(benchAgent).Add(MustParse("cpus:8;mem:1024").PushReservation(rv))
	used := MustParse("cpus:4;mem:512").PushReservation(rv)
	b.ReportAllocs()
	for b.Loop() {
		sinkBool = agent.Contains(used)
	}
}

func BenchmarkToScalarQuantities(b *testing.B) {
	agent := MustParse(benchAgent)
	b.ReportAllocs()
	for b.Loop() {
		_ = agent.ToScalarQuantities()
	}
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sink, _ = Parse(benchAgent)
	}
}
