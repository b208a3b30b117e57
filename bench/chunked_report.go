package bench

import "time"

// writeChunked renders the chunked snapshot benchmark.
func (r *Report) writeChunked(p printer) {
	c := r.Chunked
	o := c.Options
	p("")
	p("## 7. Chunked snapshot, killed at half and resumed")
	p("")
	p("One table of %s rows (a bigint key and three columns) in its own database, copied with", thousands(float64(o.Rows)))
	p("`snapshot: { mode: chunked, chunk_rows: %d }` while %.0f transactions per second update, insert", o.ChunkRows, o.WriteRate)
	p("and delete its rows; projector is killed with SIGKILL once it has copied half of the table and")
	p("started again on the same state, which resumes after the last chunk applied. Rows copied counts")
	p("what both runs read (the first up to its last scrape before the kill); retained WAL is")
	p("`pg_wal_lsn_diff(pg_current_wal_lsn(), restart_lsn)` of the slot, sampled during the copy, and")
	p("counts every database's writes on the server.")
	p("")
	p("| rows | rows copied / table | retained WAL, max | time to ready | projector CPU | writes | documents |")
	p("| --- | --- | --- | --- | --- | --- | --- |")
	ratio := 0.0
	if c.Rows > 0 {
		ratio = float64(c.Copied) / float64(c.Rows)
	}
	p("| %s | %.3f (%s, killed at %s) | %s | %s | %s | %s | %s |", thousands(float64(c.Rows)), ratio,
		thousands(float64(c.Copied)), thousands(float64(c.KilledAt)), mib(float64(c.RetainedWALMax)),
		c.Took.Round(time.Second), seconds(c.CPUSeconds), thousands(float64(c.Writes)), thousands(float64(c.Documents)))
	c.Criteria.write(p)
}
