package taskenv

import (
	"slices"
	"testing"

	"google.golang.org/protobuf/proto"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

func TestPortsEnv(t *testing.T) {
	ports := func(ranges ...[2]uint64) *mesos.Resource {
		r := &mesos.Resource{Name: proto.String("ports"), Type: mesos.Value_RANGES.Enum(), Ranges: &mesos.Value_Ranges{}}
		for _, rg := range ranges {
			r.Ranges.Range = append(r.Ranges.Range, &mesos.Value_Range{Begin: proto.Uint64(rg[0]), End: proto.Uint64(rg[1])})
		}
		return r
	}
	cpus := &mesos.Resource{Name: proto.String("cpus"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(1)}}
	got := PortsEnv([]*mesos.Resource{cpus, ports([2]uint64{31000, 31001}, [2]uint64{31005, 31005})}, nil)
	want := []string{"PORT=31000", "PORT0=31000", "PORT1=31001", "PORT2=31005", "PORTS=31000,31001,31005"}
	if !slices.Equal(got, want) {
		t.Errorf("PortsEnv = %v, want %v", got, want)
	}
	got = PortsEnv([]*mesos.Resource{ports([2]uint64{80, 81})}, func(name string) bool { return name == "PORT1" })
	if want := []string{"PORT=80", "PORT0=80", "PORTS=80,81"}; !slices.Equal(got, want) {
		t.Errorf("with PORT1 defined: %v, want %v", got, want)
	}
	if got := PortsEnv([]*mesos.Resource{cpus}, nil); got != nil {
		t.Errorf("without ports: %v, want nothing", got)
	}
}
