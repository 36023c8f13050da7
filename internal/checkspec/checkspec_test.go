package checkspec

import (
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/v1/mesos"
)

func TestValidation(t *testing.T) {
	for _, tc := range []struct {
		hc   *mesos.HealthCheck
		want string
	}{
		{&mesos.HealthCheck{}, "HealthCheck must specify 'type'"},
		{&mesos.HealthCheck{Type: mesos.HealthCheck_COMMAND.Enum()}, "Expecting 'command' to be set for COMMAND health check"},
		{&mesos.HealthCheck{Type: mesos.HealthCheck_HTTP.Enum(), Http: &mesos.HealthCheck_HTTPCheckInfo{Port: proto.Uint32(1), Scheme: proto.String("ftp")}}, "Unsupported HTTP health check scheme: 'ftp'"},
		{&mesos.HealthCheck{Type: mesos.HealthCheck_HTTP.Enum(), Http: &mesos.HealthCheck_HTTPCheckInfo{Port: proto.Uint32(1), Path: proto.String("x")}}, "The path 'x' of HTTP health check must start with '/'"},
		{&mesos.HealthCheck{Type: mesos.HealthCheck_TCP.Enum()}, "Expecting 'tcp' to be set for TCP health check"},
		{&mesos.HealthCheck{Type: mesos.HealthCheck_TCP.Enum(), Tcp: &mesos.HealthCheck_TCPCheckInfo{Port: proto.Uint32(1)}, IntervalSeconds: proto.Float64(-1)}, "Expecting 'interval_seconds' to be non-negative"},
		{&mesos.HealthCheck{Type: mesos.HealthCheck_UNKNOWN.Enum()}, "'UNKNOWN' is not a valid health check type"},
	} {
		err := ValidateHealthCheck(tc.hc)
		if err == nil || err.Error() != tc.want {
			t.Errorf("ValidateHealthCheck(%v) = %v; want %q", tc.hc, err, tc.want)
		}
	}
	if err := ValidateCheck(&mesos.CheckInfo{Type: mesos.CheckInfo_HTTP.Enum()}); err == nil || err.Error() != "Expecting 'http' to be set for HTTP check" {
		t.Errorf("ValidateCheck = %v", err)
	}
	if err := ValidateCheck(&mesos.CheckInfo{Type: mesos.CheckInfo_TCP.Enum(), Tcp: &mesos.CheckInfo_Tcp{Port: proto.Uint32(80)}}); err != nil {
		t.Errorf("ValidateCheck(valid) = %v", err)
	}
}

// A valid check comes back as what it runs and when, defaults included.
func TestScheduleAndProbe(t *testing.T) {
	p, s, err := Health(&mesos.HealthCheck{
		Type: mesos.HealthCheck_HTTP.Enum(),
		Http: &mesos.HealthCheck_HTTPCheckInfo{Port: proto.Uint32(8080), Path: proto.String("/ok")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.Kind != mesos.CheckInfo_HTTP || p.Scheme != "http" || p.Port != 8080 || p.Path != "/ok" {
		t.Errorf("probe = %+v", p)
	}
	// Mesos's defaults: delay 15 s, interval 10 s, timeout 20 s.
	if s.Delay != 15*time.Second || s.Interval != 10*time.Second || s.Timeout != 20*time.Second {
		t.Errorf("schedule = %+v", s)
	}
}
