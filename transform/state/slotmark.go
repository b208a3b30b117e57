package state

import (
	"encoding/binary"
	"encoding/json"
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

func tableOIDsKey(source string) []byte { return key(spaceMeta, "table-oids", source) }

// TableOIDs returns the catalog identities (OIDs, by "schema.table") of
// source's tables as last recorded, nil when none were.
func (s *Store) TableOIDs(source string) (map[string]uint32, error) {
	v, ok, err := get(s.db, tableOIDsKey(source))
	if err != nil || !ok {
		return nil, err
	}
	var oids map[string]uint32
	if err := json.Unmarshal(v, &oids); err != nil {
		return nil, corruptState("table identities of source %q: %v", source, err)
	}
	return oids, nil
}

// SetTableOIDs records the catalog identities of source's tables; nil
// forgets them, so that the next ones seen are recorded.
func (s *Store) SetTableOIDs(source string, oids map[string]uint32) error {
	if oids == nil {
		if err := s.db.Delete(tableOIDsKey(source), pebble.Sync); err != nil {
			return fmt.Errorf("forget table identities of source %q: %w", source, err)
		}
		return nil
	}
	v, err := json.Marshal(oids)
	if err != nil {
		return err
	}
	if err := s.db.Set(tableOIDsKey(source), v, pebble.Sync); err != nil {
		return fmt.Errorf("record table identities of source %q: %w", source, err)
	}
	return nil
}
