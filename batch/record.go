package batch

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"
)

// Record is one element of a dataset: a key and a value. Text input gives
// records with an empty key and the line as the value.
type Record struct {
	Key   string `json:"k"`
	Value string `json:"v,omitempty"`
}

// writeRecord appends r to w as two uvarint-length-prefixed strings, the
// format of shuffle files.
func writeRecord(w *bufio.Writer, r Record) error {
	var buf [binary.MaxVarintLen64]byte
	for _, s := range [2]string{r.Key, r.Value} {
		n := binary.PutUvarint(buf[:], uint64(len(s)))
		if _, err := w.Write(buf[:n]); err != nil {
			return err
		}
		if _, err := w.WriteString(s); err != nil {
			return err
		}
	}
	return nil
}

// readRecords decodes what writeRecord wrote, calling emit for each record.
func readRecords(r *bufio.Reader, emit func(Record) error) error {
	for {
		k, err := readString(r)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		v, err := readString(r)
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
		if err := emit(Record{Key: k, Value: v}); err != nil {
			return err
		}
	}
}

// maxField bounds one key or value in a shuffle file, so that a corrupt
// file cannot make us allocate without limit.
const maxField = 256 << 20

func readString(r *bufio.Reader) (string, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return "", err
	}
	if n > maxField {
		return "", fmt.Errorf("record field of %d bytes is over the %d limit", n, maxField)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		return "", err
	}
	return string(b), nil
}

// FlatMapFunc turns one record into any number of records, passed to emit.
// Map and Filter are special cases of it.
type FlatMapFunc func(r Record, emit func(Record))

// ReduceFunc combines two values of the same key; it must be associative
// and commutative, since map outputs are combined before the shuffle.
type ReduceFunc func(a, b string) string

// The registry of named functions. A task names its functions, with a
// string argument, and the executor looks them up here: the executor is the
// same binary as the driver (or links the same registrations), so a name
// means the same code on both sides.
var registry = struct {
	sync.RWMutex
	flatMaps map[string]func(arg string) (FlatMapFunc, error)
	reduces  map[string]func(arg string) (ReduceFunc, error)
}{
	flatMaps: map[string]func(string) (FlatMapFunc, error){},
	reduces:  map[string]func(string) (ReduceFunc, error){},
}

// RegisterFlatMap registers a flatMap function by name. make is called once
// per task with the argument the dataset gave, and returns the function to
// apply to each record (an error fails the task). Register from an init
// function, in both the driver and the executor binary.
func RegisterFlatMap(name string, make func(arg string) (FlatMapFunc, error)) {
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.flatMaps[name]; dup {
		panic("batch: flatMap function " + name + " registered twice")
	}
	registry.flatMaps[name] = make
}

// RegisterMap registers a one-to-one function by name.
func RegisterMap(name string, fn func(arg string, r Record) Record) {
	RegisterFlatMap(name, func(arg string) (FlatMapFunc, error) {
		return func(r Record, emit func(Record)) { emit(fn(arg, r)) }, nil
	})
}

// RegisterFilter registers a predicate by name: records for which it
// returns false are dropped.
func RegisterFilter(name string, keep func(arg string, r Record) bool) {
	RegisterFlatMap(name, func(arg string) (FlatMapFunc, error) {
		return func(r Record, emit func(Record)) {
			if keep(arg, r) {
				emit(r)
			}
		}, nil
	})
}

// RegisterReduce registers a reduce function by name.
func RegisterReduce(name string, make func(arg string) (ReduceFunc, error)) {
	registry.Lock()
	defer registry.Unlock()
	if _, dup := registry.reduces[name]; dup {
		panic("batch: reduce function " + name + " registered twice")
	}
	registry.reduces[name] = make
}

var errUnknownFunc = errors.New("no such function registered")

func lookupFlatMap(name, arg string) (FlatMapFunc, error) {
	registry.RLock()
	mk, ok := registry.flatMaps[name]
	registry.RUnlock()
	if !ok {
		return nil, fmt.Errorf("flatMap %q: %w", name, errUnknownFunc)
	}
	fn, err := mk(arg)
	if err != nil {
		return nil, fmt.Errorf("flatMap %q(%q): %w", name, arg, err)
	}
	return fn, nil
}

func lookupReduce(name, arg string) (ReduceFunc, error) {
	registry.RLock()
	mk, ok := registry.reduces[name]
	registry.RUnlock()
	if !ok {
		return nil, fmt.Errorf("reduce %q: %w", name, errUnknownFunc)
	}
	fn, err := mk(arg)
	if err != nil {
		return nil, fmt.Errorf("reduce %q(%q): %w", name, arg, err)
	}
	return fn, nil
}

// hasFunc reports whether a function of the kind is registered; the driver
// checks a dataset's functions before it runs anything.
func hasFunc(kind, name string) bool {
	registry.RLock()
	defer registry.RUnlock()
	if kind == "reduce" {
		_, ok := registry.reduces[name]
		return ok
	}
	_, ok := registry.flatMaps[name]
	return ok
}

// sortRecords orders records by key, then value, bytewise.
func sortRecords(rs []Record) {
	sort.Slice(rs, func(i, j int) bool {
		if rs[i].Key != rs[j].Key {
			return rs[i].Key < rs[j].Key
		}
		return rs[i].Value < rs[j].Value
	})
}
