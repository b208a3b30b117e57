package config

// DefaultChunkRows is sources.<name>.snapshot.chunk_rows when unset.
const DefaultChunkRows = 5000

// snapshot checks a source's snapshot settings.
func (v *validator) snapshot(path string, s SourceSnapshot) {
	switch s.Mode {
	case "", SnapshotAuto, SnapshotExported, SnapshotChunked:
	default:
		v.add(path+".mode", "%q is not a snapshot mode; use auto (chunked for sources of more than a million rows), "+
			"exported (one consistent copy before streaming) or chunked (resumable copy in key order while streaming)", s.Mode)
	}
	// 0, from a configuration built in code, means the default.
	if s.ChunkRows < 0 || s.ChunkRows > 1_000_000 {
		v.add(path+".chunk_rows", "%d rows is out of range; use a number from 1 to 1000000 (one chunk is held in memory), or leave it out for %d", s.ChunkRows, DefaultChunkRows)
	}
}
