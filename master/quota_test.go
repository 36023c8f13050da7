package master_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	schedpb "github.com/gomesos/gomesos/api/v1/scheduler"
	"github.com/gomesos/gomesos/codec"
	"github.com/gomesos/gomesos/master"
	"google.golang.org/protobuf/proto"
)

// The check of quota, end to end through a real master: a role
// with a guarantee gets it within one allocation interval even when
// another role's framework asked first, and a limit holds under pressure,
// through sub-roles too.

// A framework of role "web" subscribes first and takes everything it is
// offered; the allocator holds back the headroom that role "data"'s
// guarantee needs, so that when data's framework subscribes its first
// offers carry its guarantee: no periodic allocation (30s apart here) is
// needed for it.
func TestQuotaGuaranteeIsMetWithinOneAllocationIntervalWhenAnotherRoleAskedFirst(t *testing.T) {
	m := startMaster(t, func(c *master.Config) { c.Options.AllocationInterval = 30 * time.Second })
	startAgent(t, m, "h1", "cpus:4;mem:4096")
	if status, body := m.updateQuota(`{"role":"data","guarantees":{"cpus":{"value":2},"mem":{"value":1024}}}`, false); status != http.StatusOK {
		t.Fatalf("UPDATE_QUOTA: %d %s", status, body)
	}

	fiWeb := frameworkInfo("web")
	fiWeb.Role = proto.String("web")
	web := subscribe(t, m, fiWeb, codec.JSON)
	offers := web.nextOffers()
	cpus, mem := offeredScalar("cpus", offers...), offeredScalar("mem", offers...)
	if cpus > 2 || mem > 3072 {
		t.Fatalf("web was offered cpus %v mem %v: more than what data's guarantee leaves (2 and 3072)", cpus, mem)
	}
	if cpus == 0 {
		t.Fatalf("web was offered no cpus: the 2 data's guarantee leaves are for anyone")
	}
	web.accept(offerIDs(offers...), 3600, launchOp(commandTask("greedy", fmt.Sprintf("cpus:%v;mem:%v", cpus, mem), offers[0])))

	fiData := frameworkInfo("data")
	fiData.Role = proto.String("data")
	data := subscribe(t, m, fiData, codec.JSON)
	got := data.nextOffers()
	if c, mm := offeredScalar("cpus", got...), offeredScalar("mem", got...); c < 2 || mm < 1024 {
		t.Fatalf("data's first offers carry cpus %v mem %v, want at least its guarantee (2, 1024)", c, mm)
	}
	if runs := m.metrics()["allocator/mesos/allocation_runs"]; runs > 10 {
		t.Errorf("%v allocation runs: the periodic allocation should not have run yet", runs)
	}
}

// The same when the guarantee comes while web already holds offers of the
// whole cluster: setting it rescinds them, and data's first offers carry
// its guarantee all the same.
func TestQuotaGuaranteeSetWhileAnotherRoleHoldsEverythingIsMetAtOnce(t *testing.T) {
	m := startMaster(t, func(c *master.Config) { c.Options.AllocationInterval = 30 * time.Second })
	startAgent(t, m, "h1", "cpus:4;mem:4096")
	fiWeb := frameworkInfo("web")
	fiWeb.Role = proto.String("web")
	web := subscribe(t, m, fiWeb, codec.JSON)
	if offers := web.nextOffers(); offeredScalar("cpus", offers...) != 4 {
		t.Fatalf("web's first offers: %v, want the whole agent", offers)
	}
	if status, body := m.updateQuota(`{"role":"data","guarantees":{"cpus":{"value":2},"mem":{"value":1024}}}`, false); status != http.StatusOK {
		t.Fatalf("UPDATE_QUOTA: %d %s", status, body)
	}
	web.next(schedpb.Event_RESCIND)
	// What was rescinded is offered again, the headroom held back.
	if again := web.nextOffers(); offeredScalar("cpus", again...) > 2 || offeredScalar("mem", again...) > 3072 {
		t.Fatalf("web was offered again %v: more than what data's guarantee leaves", again)
	}
	fiData := frameworkInfo("data")
	fiData.Role = proto.String("data")
	data := subscribe(t, m, fiData, codec.JSON)
	got := data.nextOffers()
	if c, mm := offeredScalar("cpus", got...), offeredScalar("mem", got...); c < 2 || mm < 1024 {
		t.Fatalf("data's first offers carry cpus %v mem %v, want at least its guarantee (2, 1024)", c, mm)
	}
}

// Frameworks of role "batch" and of its sub-role "batch/etl" launch on
// every offer, for many allocation cycles, with plenty of free cpus on the
// agent; together they never hold more than batch's limit of 1 cpu.
func TestQuotaLimitHoldsUnderPressureThroughSubRoles(t *testing.T) {
	m := startMaster(t)
	startAgent(t, m, "h1", "cpus:8;mem:8192")
	if status, body := m.updateQuota(`{"role":"batch","limits":{"cpus":{"value":1}}}`, false); status != http.StatusOK {
		t.Fatalf("UPDATE_QUOTA: %d %s", status, body)
	}
	var frameworks []*scheduler
	for _, role := range []string{"batch", "batch/etl"} {
		fi := frameworkInfo(role)
		fi.Role = proto.String(role)
		frameworks = append(frameworks, subscribe(t, m, fi, codec.JSON))
	}
	launched, tasks := 0.0, 0
	start := m.metrics()["allocator/mesos/allocation_runs"]
	deadline := time.Now().Add(3 * waitTimeout)
	for m.metrics()["allocator/mesos/allocation_runs"] < start+20 {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than 20 allocation runs in %v", 3*waitTimeout)
		}
		for _, s := range frameworks {
			ev, ok := s.events.take(schedpb.Event_OFFERS.String(), 20*time.Millisecond)
			if !ok {
				continue
			}
			for _, o := range ev.GetOffers().GetOffers() {
				cpus := offeredScalar("cpus", o)
				if launched+cpus > 1.0001 {
					t.Fatalf("role batch was offered cpus %v with %v launched: over its limit of 1", cpus, launched)
				}
				if cpus == 0 {
					s.decline(offerIDs(o), 0)
					continue
				}
				tasks++
				s.accept(offerIDs(o), 0, launchOp(commandTask(fmt.Sprintf("t%d", tasks), fmt.Sprintf("cpus:%v;mem:16", cpus), o)))
				launched += cpus
			}
		}
	}
	if launched < 0.999 {
		t.Errorf("role batch launched %v cpus: it should reach its limit of 1 (8 are free)", launched)
	}
	if got := m.metrics()["allocator/mesos/quota/roles/batch/resources/cpus/offered_or_allocated"]; got > 1.0001 {
		t.Errorf("batch's cpus offered or allocated: %v, over its limit", got)
	}
}
