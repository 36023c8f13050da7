package core

import (
	"slices"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/protobuf/reflect/protoreflect"

	mesos "github.com/gomesos/gomesos/api/v1/mesos"
	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
)

// Per-framework metrics: Mesos's master/frameworks/<name>/<id>/* (which
// Mesos publishes by default, --publish_per_framework_metrics). The
// counters (calls, events, offers, terminal tasks, offer operations) are
// kept on the framework and published with its record; the gauges
// (subscribed, tasks/active/*, roles/<role>/suppressed) are computed from
// the snapshot. The
// frameworks the master holds, active and completed, have them.

// Indexes of the fixed per-framework counters; the others follow them.
const (
	fwCalls = iota
	fwEvents
	fwOffersSent
	fwOffersAccepted
	fwOffersDeclined
	fwOffersRescinded
	fwOperations
)

// fwTables are the per-framework counters' names and the indexes into
// them by enum value.
type fwTables struct {
	// names are the counters' names below the framework's prefix, by
	// index.
	names    []string
	call     map[schedpb.Call_Type]int
	event    map[schedpb.Event_Type]int
	terminal map[mesos.TaskState]int
	op       map[mesos.Offer_Operation_Type]int
	// active are the non-terminal task states, of the tasks/active/*
	// gauges.
	active []mesos.TaskState
}

// fwt builds the tables the first time a master needs them, not when the
// package is initialised: walking the enums' descriptors unpacks the whole
// of mesos.proto and scheduler.proto, a cost (about a millisecond and a
// third of a megabyte) that every gomesos process would otherwise pay at
// start-up, including each container's supervisor and executor.
var fwt = sync.OnceValue(func() *fwTables {
	t := &fwTables{
		names:    []string{"calls", "events", "offers/sent", "offers/accepted", "offers/declined", "offers/rescinded", "operations"},
		call:     map[schedpb.Call_Type]int{},
		event:    map[schedpb.Event_Type]int{},
		terminal: map[mesos.TaskState]int{},
		op:       map[mesos.Offer_Operation_Type]int{},
	}
	add := func(name string) int {
		t.names = append(t.names, name)
		return len(t.names) - 1
	}
	// Every value of each enum but UNKNOWN (0), as Mesos walks its
	// descriptors.
	each := func(values protoreflect.EnumValueDescriptors, f func(n protoreflect.EnumNumber, lower string)) {
		for i := range values.Len() {
			v := values.Get(i)
			f(v.Number(), strings.ToLower(string(v.Name())))
		}
	}
	each(schedpb.Call_UNKNOWN.Descriptor().Values(), func(n protoreflect.EnumNumber, name string) {
		if n != 0 {
			t.call[schedpb.Call_Type(n)] = add("calls/" + name)
		}
	})
	each(schedpb.Event_UNKNOWN.Descriptor().Values(), func(n protoreflect.EnumNumber, name string) {
		if n != 0 {
			t.event[schedpb.Event_Type(n)] = add("events/" + name)
		}
	})
	each(mesos.TaskState_TASK_STAGING.Descriptor().Values(), func(n protoreflect.EnumNumber, name string) {
		if s := mesos.TaskState(n); s.IsTerminal() {
			t.terminal[s] = add("tasks/terminal/" + name)
		} else {
			t.active = append(t.active, s)
		}
	})
	each(mesos.Offer_Operation_UNKNOWN.Descriptor().Values(), func(n protoreflect.EnumNumber, name string) {
		if n != 0 {
			t.op[mesos.Offer_Operation_Type(n)] = add("operations/" + name)
		}
	})
	return t
})

// count adds n to a framework's counter i (and to total, when not
// negative) and has its record published again.
func (c *Core) count(fw *framework, total, i int, n float64) {
	if fw == nil || i < 0 {
		return
	}
	if fw.counters == nil {
		fw.counters = make([]float64, len(fwt().names))
	}
	fw.counters[i] += n
	if total >= 0 {
		fw.counters[total] += n
	}
	c.frameworkChanged(fw)
}

func indexOr[K comparable](m map[K]int, k K) int {
	if i, ok := m[k]; ok {
		return i
	}
	return -1
}

func (c *Core) countCall(fw *framework, t schedpb.Call_Type) {
	c.count(fw, fwCalls, indexOr(fwt().call, t), 1)
}

func (c *Core) countEvent(fw *framework, t schedpb.Event_Type) {
	c.count(fw, fwEvents, indexOr(fwt().event, t), 1)
}

func (c *Core) countOperation(fw *framework, t mesos.Offer_Operation_Type) {
	c.count(fw, fwOperations, indexOr(fwt().op, t), 1)
}

func (c *Core) countFrameworkTerminal(fw *framework, s mesos.TaskState) {
	c.count(fw, -1, indexOr(fwt().terminal, s), 1)
}

// countOffers adds n to offers/sent, accepted, declined or rescinded.
func (c *Core) countOffers(fw *framework, i, n int) {
	if n > 0 {
		c.count(fw, -1, i, float64(n))
	}
}

// setSuppressed marks roles of fw (all its roles when roles is empty) as
// suppressed or revived, as the allocator does: roles it is not
// subscribed to are ignored.
func (c *Core) setSuppressed(fw *framework, roles []string, suppressed bool) {
	subscribed := fw.roles()
	if len(roles) == 0 {
		if !suppressed {
			fw.suppressed = nil
			c.frameworkChanged(fw)
			return
		}
		roles = subscribed
	}
	for _, r := range roles {
		if !slices.Contains(subscribed, r) {
			continue
		}
		if suppressed {
			if fw.suppressed == nil {
				fw.suppressed = map[string]bool{}
			}
			fw.suppressed[r] = true
		} else {
			delete(fw.suppressed, r)
		}
	}
	c.frameworkChanged(fw)
}

// frameworkMetrics adds a framework's master/frameworks/* figures to out.
func (r *frameworkRec) frameworkMetrics(out map[string]float64) {
	prefix := "master/frameworks/" + encodeMetricName(r.info.GetName()) + "/" + r.id + "/"
	for i, name := range fwt().names {
		v := 0.0
		if i < len(r.counters) {
			v = r.counters[i]
		}
		out[prefix+name] = v
	}
	out[prefix+"subscribed"] = 0
	if r.connected {
		out[prefix+"subscribed"] = 1
	}
	for _, role := range frameworkRoles(r.info) {
		out[prefix+"roles/"+role+"/suppressed"] = 0
		if slices.Contains(r.suppressed, role) {
			out[prefix+"roles/"+role+"/suppressed"] = 1
		}
	}
	for _, s := range fwt().active {
		n := r.states.get(s)
		if s == mesos.TaskState_TASK_UNREACHABLE {
			n += float64(len(r.unreachable))
		}
		out[prefix+"tasks/active/"+strings.ToLower(s.String())] = n
	}
}

// encodeMetricName percent-encodes a framework's name in its metrics'
// names as Mesos's http::encode does: reserved and unsafe characters,
// control characters and bytes beyond ASCII.
func encodeMetricName(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || strings.IndexByte("$&+,/:;=?@ \"<>#%{}|\\^~[]`", c) >= 0 {
			b.WriteByte('%')
			h := strings.ToUpper(strconv.FormatUint(uint64(c), 16))
			if len(h) < 2 {
				b.WriteByte('0')
			}
			b.WriteString(h)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}
