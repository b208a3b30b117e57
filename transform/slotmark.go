package transform

import (
	"encoding/binary"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/projector-dev/projector/capture"
)

func slotMarkKey(source string) []byte { return key(spaceMeta, "slot-mark", source) }

// SlotMark returns the highest position projector recorded as confirmed to
// source's replication slot (see capture.Options.Record), and false when
// none was recorded yet, as in state written by an older projector.
func (s *Store) SlotMark(source string) (capture.LSN, bool, error) {
	v, ok, err := get(s.db, slotMarkKey(source))
	if err != nil || !ok {
		return 0, false, err
	}
	if len(v) != 8 {
		return 0, false, corruptState("slot mark of source %q has %d bytes", source, len(v))
	}
	return capture.LSN(binary.BigEndian.Uint64(v)), true, nil
}

// SetSlotMark durably records lsn as the highest position confirmed to
// source's replication slot. It is written before the slot hears of it, so
// a slot found ahead of the mark is not the one the state follows.
func (s *Store) SetSlotMark(source string, lsn capture.LSN) error {
	if err := s.db.Set(slotMarkKey(source), binary.BigEndian.AppendUint64(nil, uint64(lsn)), pebble.Sync); err != nil {
		return fmt.Errorf("record slot position of source %q: %w", source, err)
	}
	return nil
}
