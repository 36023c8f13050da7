package allocator

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gomesos/gomesos/resources"
)

// The per-agent filter arrays move filters around when one is removed
// (the last takes its place) and chain each client's filters through
// indexes. Drive one agent with 150 clients (three words of bitset) through
// random filters, revives and expiries, several filters per client on
// different shapes, and compare every answer with a plain list.
func TestFilterArraysAgreeWithAPlainList(t *testing.T) {
	a := New(Options{Seed: 1})
	a.AddAgent("agent", Agent{}, res("cpus:8;mem:1000"), nil)
	ag := a.agents["agent"]
	const clients = 150
	cs := make([]*client, clients)
	for i := range cs {
		id := fmt.Sprintf("framework-%03d", i)
		a.AddFramework(id, Framework{}, nil)
		cs[i] = a.frameworks[id].clients["*"]
	}
	shapes := []resources.Resources{
		res("cpus:1"), res("cpus:2"), res("cpus:1;mem:10"), res("cpus:2;mem:10"), res("cpus:8;mem:1000"),
	}
	offers := append([]resources.Resources{ag.available}, shapes...)

	type plain struct {
		c       *client
		res     resources.Resources
		expires time.Time
	}
	var list []plain
	now := time.Unix(1_700_000_000, 0)
	rng := rand.New(rand.NewPCG(1, 2))
	for step := range 1500 {
		switch op := rng.IntN(10); {
		case op < 6: // a decline with a filter
			c := cs[rng.IntN(clients)]
			r := shapes[rng.IntN(len(shapes))]
			refuse := time.Duration(1+rng.IntN(20)) * time.Second
			a.addFilter(c, ag, ag.canonical(r.Clone()), refuse, now)
			list = append(list, plain{c, r, now.Add(refuse)})
		case op < 7: // a revive
			c := cs[rng.IntN(clients)]
			a.clearFilters(c)
			kept := list[:0]
			for _, f := range list {
				if f.c != c {
					kept = append(kept, f)
				}
			}
			list = kept
		default: // time passes
			now = now.Add(time.Duration(rng.IntN(3000)) * time.Millisecond)
			a.expireFilters(now)
			kept := list[:0]
			for _, f := range list {
				if f.expires.After(now) {
					kept = append(kept, f)
				}
			}
			list = kept
		}
		if err := a.CheckInvariants(); err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if len(ag.filters) != len(list) {
			t.Fatalf("step %d: %d filters on the agent, want %d", step, len(ag.filters), len(list))
		}
		for _, c := range cs {
			for _, offer := range offers {
				want := false
				for _, f := range list {
					want = want || f.c == c && f.res.Contains(offer)
				}
				if got := a.refused(c, ag, offer); got != want {
					t.Fatalf("step %d: %s refused %v: %v, want %v", step, c.fw.id, offer, got, want)
				}
			}
		}
	}
	// Everything expires in the end, and the agent leaves the expiry heap.
	a.expireFilters(now.Add(time.Minute))
	live := 0
	for _, s := range ag.shapes {
		if s.refs > 0 {
			live++
		}
	}
	if len(ag.filters) != 0 || len(a.expiry) != 0 || live != 1 {
		t.Fatalf("after expiry: %d filters, %d agents in the heap, %d shapes held (want 0, 0, 1: the last refused)",
			len(ag.filters), len(a.expiry), live)
	}
	if s := a.Stats(); s.ActiveFilters["*"] != 0 {
		t.Fatalf("%d active filters counted after expiry", s.ActiveFilters["*"])
	}
}

// Removing an agent drops its filters from every client's index, and its
// number is reused by the next agent without inheriting them.
func TestARemovedAgentsNumberIsReusedWithoutItsFilters(t *testing.T) {
	h := newHarness(t, Options{})
	h.agent("a1", "cpus:4;mem:1024")
	h.framework("f1")
	o := only(t, h.allocate())
	h.decline(o, time.Hour)
	num := h.a.agents["a1"].num
	h.a.RemoveAgent("a1")
	h.check()
	h.agent("a2", "cpus:4;mem:1024")
	if got := h.a.agents["a2"].num; got != num {
		t.Fatalf("new agent numbered %d, want the freed %d", got, num)
	}
	if o := only(t, h.allocate()); o.AgentID != "a2" || o.FrameworkID != "f1" {
		t.Fatalf("offer %+v, want a2 to f1", o)
	}
	h.check()
}
