package ptree

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"pgregory.net/rapid"
)

// check compares m with the reference and checks the tree's shape: sorted
// keys, inner keys that are their children's smallest, no node over
// maxEntries, no empty node, every leaf at the same depth.
func check(t interface{ Fatalf(string, ...any) }, m Map[int], want map[string]int) {
	if m.Len() != len(want) {
		t.Fatalf("Len = %d, want %d", m.Len(), len(want))
	}
	var keys []string
	m.Walk(func(k string, v int) bool {
		if want[k] != v {
			t.Fatalf("%q = %d, want %d", k, v, want[k])
		}
		keys = append(keys, k)
		return true
	})
	if wantKeys := slices.Sorted(maps.Keys(want)); !slices.Equal(keys, wantKeys) {
		t.Fatalf("keys %v, want %v", keys, wantKeys)
	}
	for k, v := range want {
		if got, ok := m.Get(k); !ok || got != v {
			t.Fatalf("Get(%q) = %d, %v; want %d", k, got, ok, v)
		}
	}
	if _, ok := m.Get("absent!"); ok {
		t.Fatalf("Get of an absent key found it")
	}
	if m.root == nil {
		return
	}
	depth := -1
	var walk func(n *node[int], d int)
	walk = func(n *node[int], d int) {
		if len(n.keys) == 0 || len(n.keys) > maxEntries || !slices.IsSorted(n.keys) {
			t.Fatalf("node with keys %v", n.keys)
		}
		if n.leaf() {
			if len(n.vals) != len(n.keys) {
				t.Fatalf("leaf with %d keys and %d values", len(n.keys), len(n.vals))
			}
			if depth == -1 {
				depth = d
			} else if depth != d {
				t.Fatalf("leaves at depths %d and %d", depth, d)
			}
			return
		}
		if len(n.children) != len(n.keys) {
			t.Fatalf("inner node with %d keys and %d children", len(n.keys), len(n.children))
		}
		for i, c := range n.children {
			if c.keys[0] != n.keys[i] {
				t.Fatalf("inner key %q, child's smallest %q", n.keys[i], c.keys[0])
			}
			walk(c, d+1)
		}
	}
	walk(m.root, 0)
}

// A Map behaves as a sorted map through any sequence of sets, deletes and
// prefix deletes, and a committed Map never changes afterwards.
func TestMapAgainstReference(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		key := rapid.Custom(func(t *rapid.T) string {
			return fmt.Sprintf("%s-%d", rapid.SampledFrom([]string{"a", "b", "ab", "c"}).Draw(t, "p"), rapid.IntRange(0, 400).Draw(t, "n"))
		})
		var committed []Map[int]
		var states []map[string]int
		m := Map[int]{}
		want := map[string]int{}
		txn := m.Txn()
		for range rapid.IntRange(1, 25).Draw(t, "batches") {
			for range rapid.IntRange(0, 60).Draw(t, "ops") {
				switch op := rapid.IntRange(0, 9).Draw(t, "op"); {
				case op < 4:
					k, v := key.Draw(t, "k"), rapid.Int().Draw(t, "v")
					txn.Set(k, v)
					want[k] = v
				case op < 6:
					k, v := key.Draw(t, "k"), rapid.Int().Draw(t, "v")
					prev, had := want[k]
					if old, got := txn.Swap(k, v); got != had || old != prev {
						t.Fatalf("Swap(%q) = %d, %v, want %d, %v", k, old, got, prev, had)
					}
					want[k] = v
				case op < 9:
					k := key.Draw(t, "k")
					_, had := want[k]
					if got := txn.Delete(k); got != had {
						t.Fatalf("Delete(%q) = %v, want %v", k, got, had)
					}
					delete(want, k)
				default:
					p := rapid.SampledFrom([]string{"a-1", "ab-", "b-2", "c"}).Draw(t, "prefix")
					txn.DeletePrefix(p)
					for k := range want {
						if strings.HasPrefix(k, p) {
							delete(want, k)
						}
					}
				}
			}
			m = txn.Commit()
			check(t, m, want)
			committed = append(committed, m)
			states = append(states, maps.Clone(want))
			if rapid.Bool().Draw(t, "new txn") {
				txn = m.Txn()
			}
		}
		for i, m := range committed {
			check(t, m, states[i])
		}
	})
}

// Large maps: many keys in and out, in batches, through splits and merges.
func TestMapGrowsAndShrinks(t *testing.T) {
	m := Map[int]{}
	want := map[string]int{}
	for round := range 4 {
		txn := m.Txn()
		for i := range 20000 {
			k := fmt.Sprintf("task-%07d", (i*7919+round)%30000)
			txn.Set(k, i)
			want[k] = i
		}
		m = txn.Commit()
		txn = m.Txn()
		for i := range 15000 {
			k := fmt.Sprintf("task-%07d", (i*104729+round*3)%30000)
			txn.Delete(k)
			delete(want, k)
		}
		m = txn.Commit()
		check(t, m, want)
	}
}

// Readers walk committed Maps while a Txn derives new ones.
func TestConcurrentReaders(t *testing.T) {
	txn := (Map[int]{}).Txn()
	for i := range 5000 {
		txn.Set(fmt.Sprintf("k%05d", i), i)
	}
	m := txn.Commit()
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				n := 0
				m.Leaves(func(l Leaf[int]) bool {
					b, ok := l.Cached(func(l Leaf[int]) []byte { return fmt.Appendf(nil, "%d", l.Len()) })
					if ok && string(b) != fmt.Sprint(l.Len()) {
						t.Errorf("leaf cache %q for %d entries", b, l.Len())
					}
					n += l.Len()
					return true
				})
				if n != 5000 {
					t.Errorf("walked %d entries, want 5000", n)
				}
			}
		}()
	}
	for i := range 5000 {
		if i%2 == 0 {
			txn.Delete(fmt.Sprintf("k%05d", i))
		} else {
			txn.Set(fmt.Sprintf("k%05d", i), -i)
		}
		if i%100 == 0 {
			txn.Commit()
		}
	}
	wg.Wait()
}

func BenchmarkSetOne(b *testing.B) {
	txn := (Map[int]{}).Txn()
	for i := range 100000 {
		txn.Set(fmt.Sprintf("task-%07d", i), i)
	}
	m := txn.Commit()
	keys := make([]string, 1000)
	for i := range keys {
		keys[i] = fmt.Sprintf("task-%07d", i*97)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		t := m.Txn()
		t.Set(keys[i%len(keys)], i)
		m = t.Commit()
		i++
	}
}
