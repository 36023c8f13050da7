// Package checkpoint is the agent's durable store: the checkpoint the core
// writes (agent/core's Checkpoint output) and a restarted agent reads back
// (agent/core.DecodeCheckpoint). It is one bbolt file, by default
// <work_dir>/meta/agent.db; every Apply is one transaction, fsynced before
// it returns. Every value is stored behind a CRC-32C of its bytes, so a
// value damaged on disk is detected and named, never half-used.
package checkpoint

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"runtime/debug"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gomesos/gomesos/agent/core"
)

// File is the store's path under the work directory.
const File = "meta/agent.db"

// Path is the store of the agent with this work directory.
func Path(workDir string) string { return filepath.Join(workDir, filepath.FromSlash(File)) }

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Store is an open checkpoint file.
type Store struct {
	db   *bolt.DB
	path string
}

// Open opens (creating if needed) the checkpoint at path. A file that is
// not a sound bbolt database is an error naming it.
func Open(path string) (s *Store, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("checkpoint: creating the directory of %s: %w", path, err)
	}
	// bbolt panics on some damaged files, and a file shorter than its
	// pages say faults when read through the mapping: both are a
	// corrupt file.
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, fmt.Errorf("checkpoint: %s is corrupt: %v", path, r)
		}
	}()
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		return nil, fmt.Errorf("checkpoint: opening %s: %w", path, err)
	}
	return &Store{db: db, path: path}, nil
}

// Path is the file's path.
func (s *Store) Path() string { return s.path }

// Close closes the file.
func (s *Store) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("checkpoint: closing %s: %w", s.path, err)
	}
	return nil
}

// Apply performs the ops in one transaction, on disk when it returns.
func (s *Store) Apply(ops []core.CheckpointOp) error {
	err := s.db.Update(func(tx *bolt.Tx) error {
		for _, op := range ops {
			if op.Value == nil {
				b := tx.Bucket([]byte(op.Bucket))
				if b == nil {
					continue
				}
				if err := b.Delete([]byte(op.Key)); err != nil {
					return fmt.Errorf("deleting %s/%s: %w", op.Bucket, op.Key, err)
				}
				continue
			}
			b, err := tx.CreateBucketIfNotExists([]byte(op.Bucket))
			if err != nil {
				return fmt.Errorf("bucket %s: %w", op.Bucket, err)
			}
			if err := b.Put([]byte(op.Key), seal(op.Value)); err != nil {
				return fmt.Errorf("writing %s/%s: %w", op.Bucket, op.Key, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("checkpoint: %s: %w", s.path, err)
	}
	return nil
}

// Load reads every value: bucket → key → value. A value whose checksum
// does not match, or a file bbolt finds damaged, is an error naming the
// file and, for a value, its bucket and key.
func (s *Store) Load() (out map[string]map[string][]byte, err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		// bbolt panics on some damaged pages: that is a corrupt file too.
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("checkpoint: %s is corrupt: %v", s.path, r)
		}
	}()
	out = make(map[string]map[string][]byte)
	err = s.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			m := make(map[string][]byte)
			out[string(name)] = m
			return b.ForEach(func(k, v []byte) error {
				if v == nil {
					return fmt.Errorf("bucket %q, key %q: a nested bucket", name, k)
				}
				val, err := unseal(v)
				if err != nil {
					return fmt.Errorf("bucket %q, key %q: %w", name, k, err)
				}
				m[string(k)] = val
				return nil
			})
		})
	})
	if err != nil {
		return nil, fmt.Errorf("checkpoint: %s is corrupt: %w", s.path, err)
	}
	return out, nil
}

// Check walks the whole file, as bbolt's consistency check does; an error
// names the file. (bbolt checks on a goroutine of its own, where a panic
// on a badly damaged file cannot be caught: Load does not call it.)
func (s *Store) Check() error {
	return s.db.View(func(tx *bolt.Tx) error {
		var first error
		for err := range tx.Check() {
			if first == nil {
				first = fmt.Errorf("checkpoint: %s is corrupt: %w", s.path, err)
			}
		}
		return first
	})
}

var errChecksum = errors.New("checksum mismatch")

// seal prefixes a value with its CRC-32C (big-endian).
func seal(v []byte) []byte {
	out := make([]byte, 4+len(v))
	binary.BigEndian.PutUint32(out, crc32.Checksum(v, castagnoli))
	copy(out[4:], v)
	return out
}

func unseal(b []byte) ([]byte, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("%w: a value of %d bytes", errChecksum, len(b))
	}
	v := b[4:]
	if binary.BigEndian.Uint32(b) != crc32.Checksum(v, castagnoli) {
		return nil, errChecksum
	}
	return append([]byte(nil), v...), nil
}
