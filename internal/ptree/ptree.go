// Package ptree is a persistent sorted map from strings to values: a
// copy-on-write B+tree. A Map never changes once made; a Txn derives a new
// Map from an old one by copying only the nodes on the paths it changes,
// so the two share everything else. Nodes a Txn made itself it changes in
// place until it commits, so a batch of changes copies each node at most
// once.
//
// It holds the master's snapshots for readers (master/core): publishing a
// change costs a few node copies, and readers walk a Map from any number
// of goroutines without locks. Each leaf can keep one byte encoding of its
// entries (Leaf.Cached), made by the first reader that asks, so that
// readers of a large map that changed in a few places copy whole leaves.
// (A leaf's encoding is made the second time it is asked for: under many
// changes, most leaves are replaced before they are read twice.)
//
// It does no I/O and holds no locks but the leaves' sync.Once.
package ptree

import (
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

const (
	maxEntries = 64             // per node, leaf or inner
	minEntries = maxEntries / 4 // below this a node merges with a sibling
)

// Map is an immutable sorted map. The zero value is an empty map.
type Map[V any] struct {
	root *node[V]
	size int
}

// node is a leaf (children nil) or an inner node. An inner node's keys[i]
// is the smallest key under children[i].
type node[V any] struct {
	owner    uint64 // the generation of the Txn that may still change it
	keys     []string
	vals     []V        // leaves
	children []*node[V] // inner nodes

	// Leaves: Leaf.Cached.
	asks  atomic.Int32
	cache sync.Once
	bytes []byte
}

// generations numbers the Txns' generations of nodes: a Txn changes in
// place the nodes of its current generation, and starts a new one when it
// commits. 0 is no generation.
var generations atomic.Uint64

func (n *node[V]) leaf() bool { return n.children == nil }

// Len is the number of entries.
func (m Map[V]) Len() int { return m.size }

// Get returns the value of key.
func (m Map[V]) Get(key string) (V, bool) { return get(m.root, key) }

func get[V any](n *node[V], key string) (V, bool) {
	var zero V
	for n != nil {
		if n.leaf() {
			i := sort.SearchStrings(n.keys, key)
			if i < len(n.keys) && n.keys[i] == key {
				return n.vals[i], true
			}
			return zero, false
		}
		n = n.children[childIndex(n, key)]
	}
	return zero, false
}

// childIndex is the child of inner node n whose range holds key.
func childIndex[V any](n *node[V], key string) int {
	i := sort.Search(len(n.keys), func(i int) bool { return n.keys[i] > key })
	return max(0, i-1)
}

// Walk calls fn for each entry in key order until fn returns false.
func (m Map[V]) Walk(fn func(key string, v V) bool) {
	m.Leaves(func(l Leaf[V]) bool {
		for i, k := range l.n.keys {
			if !fn(k, l.n.vals[i]) {
				return false
			}
		}
		return true
	})
}

// Leaf is a run of consecutive entries of a Map.
type Leaf[V any] struct{ n *node[V] }

// Len is the number of entries in the leaf.
func (l Leaf[V]) Len() int { return len(l.n.keys) }

// Key and Value are the leaf's i-th entry.
func (l Leaf[V]) Key(i int) string { return l.n.keys[i] }
func (l Leaf[V]) Value(i int) V    { return l.n.vals[i] }

// Cached returns the leaf's encoding, which encode makes the second time
// the leaf is asked for it (by any goroutine): a leaf read once before it
// is replaced is not worth keeping. ok is false the first time; the caller
// then encodes the entries itself. A leaf keeps one encoding: every caller
// must encode the same way.
func (l Leaf[V]) Cached(encode func(Leaf[V]) []byte) (b []byte, ok bool) {
	if l.n.asks.Add(1) == 1 {
		return nil, false
	}
	l.n.cache.Do(func() { l.n.bytes = encode(l) })
	return l.n.bytes, true
}

// Leaves calls fn for each leaf in key order until fn returns false.
func (m Map[V]) Leaves(fn func(Leaf[V]) bool) {
	if m.root == nil {
		return
	}
	leaves(m.root, fn)
}

func leaves[V any](n *node[V], fn func(Leaf[V]) bool) bool {
	if n.leaf() {
		return len(n.keys) == 0 || fn(Leaf[V]{n})
	}
	for _, c := range n.children {
		if !leaves(c, fn) {
			return false
		}
	}
	return true
}

// Txn changes a copy of a Map. It is not safe for concurrent use, and the
// Maps it commits are.
type Txn[V any] struct {
	root  *node[V]
	size  int
	owner uint64
}

// Txn starts changing a copy of m.
func (m Map[V]) Txn() *Txn[V] {
	return &Txn[V]{root: m.root, size: m.size, owner: generations.Add(1)}
}

// Commit returns the map as changed so far. The Txn may go on changing it;
// the committed Map does not change.
func (t *Txn[V]) Commit() Map[V] {
	t.owner = generations.Add(1) // nodes made so far now belong to the Map
	return Map[V]{root: t.root, size: t.size}
}

// Len is the number of entries.
func (t *Txn[V]) Len() int { return t.size }

// Get returns the value of key.
func (t *Txn[V]) Get(key string) (V, bool) { return get(t.root, key) }

// writable returns n if this Txn made it, else a copy it may change.
func (t *Txn[V]) writable(n *node[V]) *node[V] {
	if n.owner == t.owner {
		return n
	}
	c := &node[V]{owner: t.owner}
	c.keys = append(make([]string, 0, len(n.keys)+1), n.keys...)
	if n.leaf() {
		c.vals = append(make([]V, 0, len(n.vals)+1), n.vals...)
	} else {
		c.children = append(make([]*node[V], 0, len(n.children)+1), n.children...)
	}
	return c
}

// Set sets key's value.
func (t *Txn[V]) Set(key string, v V) { t.Swap(key, v) }

// Swap sets key's value and returns the one it replaced, if any.
func (t *Txn[V]) Swap(key string, v V) (old V, had bool) {
	if t.root == nil {
		t.root = &node[V]{owner: t.owner, keys: []string{key}, vals: []V{v}}
		t.size = 1
		return old, false
	}
	root, split, old, had := t.set(t.root, key, v)
	if split != nil {
		root = &node[V]{owner: t.owner, keys: []string{root.keys[0], split.keys[0]}, children: []*node[V]{root, split}}
	}
	t.root = root
	if !had {
		t.size++
	}
	return old, had
}

// set puts key in the subtree n, returning n's replacement, the new node
// split off to its right if it grew too big, and the value key had, if
// any.
func (t *Txn[V]) set(n *node[V], key string, v V) (_, split *node[V], old V, had bool) {
	if n.leaf() {
		i := sort.SearchStrings(n.keys, key)
		n = t.writable(n)
		if i < len(n.keys) && n.keys[i] == key {
			old, n.vals[i] = n.vals[i], v
			return n, nil, old, true
		}
		n.keys = insertAt(n.keys, i, key)
		n.vals = insertAt(n.vals, i, v)
		return n, t.split(n), old, false
	}
	i := childIndex(n, key)
	child, split, old, had := t.set(n.children[i], key, v)
	n = t.writable(n)
	n.children[i], n.keys[i] = child, child.keys[0]
	if split != nil {
		n.children = insertAt(n.children, i+1, split)
		n.keys = insertAt(n.keys, i+1, split.keys[0])
	}
	return n, t.split(n), old, had
}

// split moves the upper half of an overfull node n to a new node.
func (t *Txn[V]) split(n *node[V]) *node[V] {
	if len(n.keys) <= maxEntries {
		return nil
	}
	h := len(n.keys) / 2
	r := &node[V]{owner: t.owner, keys: append([]string(nil), n.keys[h:]...)}
	clear(n.keys[h:])
	n.keys = n.keys[:h]
	if n.leaf() {
		r.vals = append([]V(nil), n.vals[h:]...)
		clear(n.vals[h:])
		n.vals = n.vals[:h]
	} else {
		r.children = append([]*node[V](nil), n.children[h:]...)
		clear(n.children[h:])
		n.children = n.children[:h]
	}
	return r
}

// Delete removes key, reporting whether it was there.
func (t *Txn[V]) Delete(key string) bool {
	if t.root == nil {
		return false
	}
	root, removed := t.delete(t.root, key)
	if !removed {
		return false
	}
	t.size--
	for root != nil && !root.leaf() && len(root.children) == 1 {
		root = root.children[0]
	}
	if root != nil && len(root.keys) == 0 {
		root = nil
	}
	t.root = root
	return true
}

// delete removes key from the subtree n, returning n's replacement (which
// may be underfull, for its parent to mend) and whether key was there.
func (t *Txn[V]) delete(n *node[V], key string) (*node[V], bool) {
	if n.leaf() {
		i := sort.SearchStrings(n.keys, key)
		if i == len(n.keys) || n.keys[i] != key {
			return n, false
		}
		n = t.writable(n)
		n.keys = removeAt(n.keys, i)
		n.vals = removeAt(n.vals, i)
		return n, true
	}
	i := childIndex(n, key)
	child, removed := t.delete(n.children[i], key)
	if !removed {
		return n, false
	}
	n = t.writable(n)
	switch {
	case len(child.keys) == 0:
		n.children = removeAt(n.children, i)
		n.keys = removeAt(n.keys, i)
	case len(child.keys) < minEntries && len(n.children) > 1:
		n.children[i], n.keys[i] = child, child.keys[0]
		t.mend(n, i)
	default:
		n.children[i], n.keys[i] = child, child.keys[0]
	}
	return n, true
}

// mend merges n's underfull child i with a neighbour, or evens them out
// when together they are too many for one node.
func (t *Txn[V]) mend(n *node[V], i int) {
	l := i - 1
	if i == 0 {
		l = 0
	}
	left, right := t.writable(n.children[l]), n.children[l+1]
	all := len(left.keys) + len(right.keys)
	left.keys = append(left.keys, right.keys...)
	if left.leaf() {
		left.vals = append(left.vals, right.vals...)
	} else {
		left.children = append(left.children, right.children...)
	}
	n.children[l] = left
	if all <= maxEntries {
		n.children = removeAt(n.children, l+1)
		n.keys = removeAt(n.keys, l+1)
		return
	}
	r := t.split(left)
	if r == nil { // cannot happen: all > maxEntries
		panic("ptree: mend without a split")
	}
	n.children[l+1], n.keys[l+1] = r, r.keys[0]
}

// DeletePrefix removes every key that starts with prefix.
func (t *Txn[V]) DeletePrefix(prefix string) {
	var doomed []string
	Map[V]{root: t.root}.Walk(func(k string, _ V) bool {
		if strings.HasPrefix(k, prefix) {
			doomed = append(doomed, k)
		}
		return k < prefix || strings.HasPrefix(k, prefix)
	})
	for _, k := range doomed {
		t.Delete(k)
	}
}

func insertAt[T any](s []T, i int, v T) []T {
	var zero T
	s = append(s, zero)
	copy(s[i+1:], s[i:])
	s[i] = v
	return s
}

func removeAt[T any](s []T, i int) []T {
	copy(s[i:], s[i+1:])
	var zero T
	s[len(s)-1] = zero
	return s[:len(s)-1]
}
