package core

import (
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/gomesos/gomesos/api/agentproto"
	mesos "github.com/gomesos/gomesos/api/v1/mesos"
)

// Every agent is pinged at the first tick at least --agent_ping_timeout
// after it connected or was last pinged, as Mesos pings each agent on its
// own timer, also when agents connect at different times: the tick skips
// the walk over the agents until the earliest ping falls due, and must not
// skip one.
func TestPingsFallDueForEachAgent(t *testing.T) {
	r := newRig(t)
	timeout := r.c.opts.AgentPingTimeout
	connected := map[string]time.Time{}
	pings := map[string][]time.Time{}
	var order []string
	join := func(i int) {
		a := r.agent(fmt.Sprintf("conn-%d", i), &mesos.AgentInfo{
			Hostname: proto.String(fmt.Sprintf("agent%d.example", i)), Port: proto.Int32(5051), Resources: cpus(4),
		}, "")
		connected[a.conn] = r.now
		order = append(order, a.conn)
	}
	seen := 0
	collect := func() {
		for _, o := range r.outs[seen:] {
			if s, ok := o.(SendAgent); ok && s.Msg.GetType() == agentproto.MasterMessage_PING {
				pings[s.Conn] = append(pings[s.Conn], r.now)
			}
		}
		seen = len(r.outs)
	}
	join(0)
	// Ticks of 1.25s; agents join at 4, 6.5 and 11.5 seconds.
	for tick := range 40 {
		switch tick {
		case 3, 5, 9:
			join(tick)
		}
		r.tick()
		// Every agent answers its pings.
		collect()
		for conn, ps := range pings {
			if len(ps) > 0 && ps[len(ps)-1].Equal(r.now) {
				r.c.agentConns[conn].pongSincePing = true
			}
		}
	}
	for _, conn := range order {
		last := connected[conn]
		ps := pings[conn]
		if len(ps) < 2 {
			t.Fatalf("%s, connected at %v, was pinged at %v; want at least two pings in 50s", conn, last.Sub(r.c.startTime), ps)
		}
		for _, at := range ps {
			if gap := at.Sub(last); gap < timeout || gap >= timeout+1250*time.Millisecond {
				t.Errorf("%s was pinged %v after it connected or was last pinged; want the first tick at least %v after", conn, gap, timeout)
			}
			last = at
		}
	}
}

func cpus(n int) []*mesos.Resource {
	return []*mesos.Resource{{
		Name: proto.String("cpus"), Type: mesos.Value_SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: proto.Float64(float64(n))},
	}}
}
