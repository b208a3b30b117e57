package e2e

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

// TestChaosTypeMatrixSIGKILL streams the type matrix's edge values under a
// steady load of inserts, updates and deletes, kills projector with
// SIGKILL in the middle and starts it again on the same state: the views
// must end equal to the table, with nothing dead-lettered.
func TestChaosTypeMatrixSIGKILL(t *testing.T) {
	m := newTypeMatrix(t)
	d := startDaemon(t, m.cfg, m.addr)
	d.waitReady(2 * time.Minute)

	const rounds = 12
	next := m.rows + 1
	for round := range rounds {
		if round == rounds/2 {
			if err := d.stop(syscall.SIGKILL, 30*time.Second); err == nil {
				t.Fatalf("projector survived SIGKILL")
			}
			t.Logf("killed projector after %d rounds of changes", round)
		}
		// Rounds go on while projector is down: the restarted process
		// must pick them up from its slot.
		for i := range m.rows {
			m.insert(next, round+i)
			next++
		}
		m.db.Exec(fmt.Sprintf(`UPDATE "odd schema"."type.matrix v2" SET i2 = (i2 %% 1000) + %d, b = NOT b WHERE pk %% 3 = %d`, round, round%3))
		m.db.Exec(fmt.Sprintf(`DELETE FROM "odd schema"."type.matrix v2" WHERE pk = %d`, next-1-round%m.rows))
		if round == rounds/2 {
			d = startDaemon(t, m.cfg, m.addr)
		}
	}
	d.waitReady(3 * time.Minute)
	var docs int
	if err := m.db.Connect().QueryRow(t.Context(), `SELECT count(*) FROM "odd schema"."type.matrix v2"`).Scan(&docs); err != nil {
		t.Fatal(err)
	}
	m.check(t, docs)
	if err := d.stop(syscall.SIGTERM, time.Minute); err != nil {
		t.Errorf("projector exit: %v", err)
	}
}
