package state

import (
	"encoding/binary"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// versionBlock is how many document versions are reserved at a time; the
// reservation is durable, so versions keep growing across crashes.
const versionBlock = 1 << 20

// versionCeilingKey holds the highest version reserved so far.
func versionCeilingKey() []byte { return key(spaceMeta, "version-ceiling") }

// Versions hands out external document versions that only ever grow: a
// newer build of a document always carries a higher version, so the search
// engine refuses any older revision that arrives late. Only one goroutine
// uses it.
type Versions struct {
	db            *pebble.DB
	next, ceiling uint64
}

// Versions continues the document versions from the last reservation.
func (s *Store) Versions() (*Versions, error) {
	v, ok, err := get(s.db, versionCeilingKey())
	if err != nil {
		return nil, err
	}
	// The clock seeds the counter so that even a store rebuilt from scratch
	// writes versions above those of the documents already indexed.
	next := uint64(time.Now().UnixMicro())
	if ok {
		next = max(next, binary.BigEndian.Uint64(v))
	}
	return &Versions{db: s.db, next: next, ceiling: next}, nil
}

// Reserve makes sure n more versions are durable before they are used.
func (vs *Versions) Reserve(n int) error {
	if vs.next+uint64(n) <= vs.ceiling {
		return nil
	}
	vs.ceiling = vs.next + uint64(n) + versionBlock
	return vs.db.Set(versionCeilingKey(), binary.BigEndian.AppendUint64(nil, vs.ceiling), pebble.Sync)
}

// Take returns the next version; Reserve must have covered it.
func (vs *Versions) Take() int64 {
	v := vs.next
	vs.next++
	return int64(v)
}
