package state

import (
	"encoding/json"
	"fmt"

	"github.com/cockroachdb/pebble/v2"

	"github.com/projector-dev/projector/capture"
)

func chunkProgressKey(source string) []byte { return key(spaceMeta, "chunk-progress", source) }

// ChunkProgress returns how far source's chunked snapshots are, table by
// table (see capture.ChunkProgressStore), and nil when none was recorded.
func (s *Store) ChunkProgress(source string) ([]capture.TableProgress, error) {
	v, ok, err := get(s.db, chunkProgressKey(source))
	if err != nil || !ok {
		return nil, err
	}
	var p []capture.TableProgress
	if err := json.Unmarshal(v, &p); err != nil {
		return nil, corruptState("chunked snapshot progress of source %q: %v", source, err)
	}
	return p, nil
}

// SetChunkProgress durably records how far source's chunked snapshots
// are. Capture writes it once the chunks it counts are applied and
// confirmed, so a restart copies again at most the chunks after it.
func (s *Store) SetChunkProgress(source string, p []capture.TableProgress) error {
	if len(p) == 0 {
		if err := s.db.Delete(chunkProgressKey(source), pebble.Sync); err != nil {
			return fmt.Errorf("forget chunked snapshot progress of source %q: %w", source, err)
		}
		return nil
	}
	v, err := json.Marshal(p)
	if err != nil {
		return fmt.Errorf("encode chunked snapshot progress of source %q: %w", source, err)
	}
	if err := s.db.Set(chunkProgressKey(source), v, pebble.Sync); err != nil {
		return fmt.Errorf("record chunked snapshot progress of source %q: %w", source, err)
	}
	return nil
}
