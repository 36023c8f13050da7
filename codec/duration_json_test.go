package codec_test

import (
	"strings"
	"testing"
	"time"

	masterpb "github.com/gomesos/gomesos/api/v1/master"
	"github.com/gomesos/gomesos/codec"
)

// A google.protobuf.Duration (DRAIN_AGENT's max_grace_period) is read
// from protobuf's JSON string ("10s"), a Mesos duration ("10mins") or the
// object form.
func TestDurationFieldsReadStringsAndObjects(t *testing.T) {
	for body, want := range map[string]time.Duration{
		`"10s"`:                      10 * time.Second,
		`"1.5s"`:                     1500 * time.Millisecond,
		`"10mins"`:                   10 * time.Minute,
		`"250ms"`:                    250 * time.Millisecond,
		`{"seconds":3,"nanos":5000}`: 3*time.Second + 5*time.Microsecond,
	} {
		call := &masterpb.Call{}
		err := codec.Unmarshal(codec.JSON, []byte(`{"type":"DRAIN_AGENT","drain_agent":{"agent_id":{"value":"a"},"max_grace_period":`+body+`}}`), call)
		if err != nil {
			t.Errorf("%s: %v", body, err)
			continue
		}
		if got := call.GetDrainAgent().GetMaxGracePeriod().AsDuration(); got != want {
			t.Errorf("%s: %v, want %v", body, got, want)
		}
	}
	for _, bad := range []string{`"ten seconds"`, `"s"`, `"1e400s"`, `7`} {
		err := codec.Unmarshal(codec.JSON, []byte(`{"type":"DRAIN_AGENT","drain_agent":{"agent_id":{"value":"a"},"max_grace_period":`+bad+`}}`), &masterpb.Call{})
		if err == nil || !strings.Contains(err.Error(), "max_grace_period") {
			t.Errorf("%s: error %v, want one naming max_grace_period", bad, err)
		}
	}
}
