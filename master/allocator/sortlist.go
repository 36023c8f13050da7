package allocator

import "slices"

// lazySorted is a list put back in order only when it is read. Between two
// reads the allocator records which items' sort keys changed; when few did,
// only those are moved back into place (by binary search), which keeps the
// hot loop from re-sorting hundreds of frameworks after every allocation.
type lazySorted[T comparable] struct {
	items []T
	moved []T  // items whose key changed since the last read
	full  bool // too much changed: sort everything
}

// maxMoved is how many changed items are repositioned one by one before a
// full sort is cheaper.
const maxMoved = 8

// touch records that x's sort key changed.
func (l *lazySorted[T]) touch(x T) {
	if l.full || slices.Contains(l.moved, x) {
		return
	}
	if len(l.moved) == maxMoved {
		l.resortAll()
		return
	}
	l.moved = append(l.moved, x)
}

// resortAll records that every key may have changed.
func (l *lazySorted[T]) resortAll() {
	l.full = true
	clear(l.moved)
	l.moved = l.moved[:0]
}

func (l *lazySorted[T]) add(x T) {
	l.items = append(l.items, x)
	l.touch(x)
}

func (l *lazySorted[T]) remove(x T) {
	if i := slices.Index(l.items, x); i >= 0 {
		l.items = slices.Delete(l.items, i, i+1)
	}
	if i := slices.Index(l.moved, x); i >= 0 {
		l.moved = slices.Delete(l.moved, i, i+1)
	}
}

// sorted returns the items in order. The slice stays valid (and unchanged)
// until the list is next modified by add, remove or sorted; touch does not
// modify it.
func (l *lazySorted[T]) sorted(cmp func(x, y T) int) []T {
	switch {
	case l.full:
		slices.SortFunc(l.items, cmp)
	case len(l.moved) == 1:
		// The common case in the cycle: the framework that just took an
		// agent moved. Slide it to its place, shifting only the items in
		// between; the others are in order around it.
		l.reposition(l.moved[0], cmp)
	case len(l.moved) > 0:
		kept := l.items[:0]
		for _, x := range l.items {
			if !slices.Contains(l.moved, x) {
				kept = append(kept, x)
			}
		}
		l.items = kept
		for _, x := range l.moved {
			i, _ := slices.BinarySearchFunc(l.items, x, cmp)
			l.items = slices.Insert(l.items, i, x)
		}
	}
	l.full = false
	clear(l.moved)
	l.moved = l.moved[:0]
	return l.items
}

// reposition moves x, the only item whose key changed, back into place.
func (l *lazySorted[T]) reposition(x T, cmp func(x, y T) int) {
	items := l.items
	i := slices.Index(items, x)
	if i < 0 {
		return
	}
	switch {
	case i+1 < len(items) && cmp(x, items[i+1]) > 0:
		// It goes after its right neighbour: find the first item after i
		// that sorts after x.
		j, _ := slices.BinarySearchFunc(items[i+1:], x, cmp)
		j += i // x's new index
		copy(items[i:j], items[i+1:j+1])
		items[j] = x
	case i > 0 && cmp(x, items[i-1]) < 0:
		j, _ := slices.BinarySearchFunc(items[:i], x, cmp)
		copy(items[j+1:i+1], items[j:i])
		items[j] = x
	}
}
