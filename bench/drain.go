package bench

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// DrainReport is the capture drain benchmark's result: the same backlog
// drained from identical slots by each contender.
type DrainReport struct {
	Size                  DrainSize
	Rows                  int
	Projector, Bare, Recv time.Duration // summed over the rounds
	// ProjectorCPU, BareCPU and RecvCPU are the clients' CPU time, summed
	// over the rounds: what each needs of a core beside the walsender's.
	ProjectorCPU, BareCPU, RecvCPU time.Duration
	ProfilePath                    string // CPU profile of one extra projector drain
	ProjectorRows, BareRowsSum     int
}

// Rate is rows per second for a summed duration.
func (r DrainReport) Rate(d time.Duration) float64 {
	return float64(r.Rows*r.Size.Rounds) / d.Seconds()
}

// CPUPerMillion is the CPU seconds per million rows of a summed CPU time.
func (r DrainReport) CPUPerMillion(cpu time.Duration) float64 {
	return cpu.Seconds() / float64(r.Rows*r.Size.Rounds) * 1e6
}

// RunDrain writes the backlog once, drains it once untimed to warm the
// page cache, then Rounds times with each contender, rotating their order,
// and once more with projector under the CPU profiler (not counted) when
// profile is a path.
func RunDrain(ctx context.Context, env Env, size DrainSize, profile string, log *slog.Logger) (DrainReport, error) {
	rep := DrainReport{Size: size, ProfilePath: profile}
	db, err := env.CreateDatabase(ctx)
	if err != nil {
		return rep, err
	}
	defer func() {
		if err := db.Drop(); err != nil {
			log.Error("clean up", "error", err)
		}
	}()
	started := time.Now()
	slots, endLSN, err := prepareDrain(ctx, db, size, 3*size.Rounds+2)
	if err != nil {
		return rep, err
	}
	log.Info("drain backlog written", "database", db.Name, "end_lsn", endLSN, "took", time.Since(started).Round(time.Millisecond))

	contenders := []struct {
		name  string
		total *time.Duration
		cpu   *time.Duration
		run   func(slot string) (drainResult, error)
	}{
		{"projector", &rep.Projector, &rep.ProjectorCPU, func(slot string) (drainResult, error) { return drainProjector(ctx, db, slot) }},
		{"bare", &rep.Bare, &rep.BareCPU, func(slot string) (drainResult, error) { return drainBare(ctx, db, slot) }},
		{"pg_recvlogical", &rep.Recv, &rep.RecvCPU, func(slot string) (drainResult, error) { return drainRecvlogical(ctx, db, slot, endLSN) }},
	}
	// The first drain reads the WAL from disk, later ones from the page
	// cache: an untimed drain first gives every contender a warm cache.
	if _, err := drainBare(ctx, db, slots[0]); err != nil {
		return rep, err
	}
	next := 1
	for round := range size.Rounds {
		for i := range contenders {
			c := contenders[(i+round)%len(contenders)]
			res, err := c.run(slots[next])
			next++
			if err != nil {
				return rep, err
			}
			*c.total += res.elapsed
			*c.cpu += res.cpu
			switch c.name {
			case "bare":
				rep.Rows = res.rows
			case "projector":
				rep.ProjectorRows = res.rows
			}
			log.Info("drained", "contender", c.name, "round", round+1, "rows", res.rows, "took", res.elapsed.Round(time.Millisecond), "cpu", res.cpu.Round(time.Millisecond))
		}
	}
	if rep.Rows != rep.ProjectorRows {
		return rep, fmt.Errorf("projector's capture stage delivered %d row changes, the bare loop parsed %d", rep.ProjectorRows, rep.Rows)
	}
	if profile != "" {
		if err := profileDrain(ctx, db, slots[next], profile); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func profileDrain(ctx context.Context, db *Database, slot, path string) error {
	return underCPUProfile(path, func() error {
		_, err := drainProjector(ctx, db, slot)
		return err
	})
}
