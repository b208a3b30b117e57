package capture

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/projector-dev/projector/internal/testbed"
)

const (
	drainTxns    = 100
	drainTxnRows = 1000
)

// BenchmarkDrainPostgres reads the same backlog of 100 transactions of
// 1000 rows from a real server twice per iteration: with a bare pglogrepl
// loop that only parses each message, and with the Decoder. The slot is
// never confirmed, so every drain reads the whole backlog again.
// decoder/bare is the rate the Decoder drains at relative to the bare
// loop; the capture stage must keep it at 0.9 or more.
func BenchmarkDrainPostgres(b *testing.B) {
	db := testbed.NewDatabase(b, testbed.Primary)
	db.Exec(`CREATE TABLE orders (id int8 PRIMARY KEY, customer text, total numeric,
		placed_at timestamptz, paid bool, items jsonb);
		CREATE PUBLICATION drain FOR TABLE orders`)
	db.Exec(`SELECT pg_create_logical_replication_slot($1, 'pgoutput')`, db.Name)
	db.Exec(`DO $$ BEGIN FOR t IN 0..99 LOOP
		INSERT INTO orders SELECT g, 'customer ' || g, g * 1.25, now(), g % 2 = 0,
			jsonb_build_object('sku', 'A-' || g, 'qty', 2, 'price', g * 0.625)
		FROM generate_series(t * 1000 + 1, t * 1000 + 1000) g;
		COMMIT;
	END LOOP; END $$`)

	conn := db.Connect()
	bare := func() func([]byte) error {
		inStream := false
		return func(data []byte) error {
			inStream = (inStream || data[0] == 'S') && data[0] != 'E'
			_, err := pglogrepl.ParseV2(data, inStream)
			return err
		}
	}
	decoder := func() func([]byte) error {
		dec := NewDecoder("bench", NewCatalogTypes(conn))
		return func(data []byte) error {
			_, err := dec.Decode(context.Background(), 0, data)
			return err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	// Both loops run in every iteration, in alternating order, so that
	// caches warming up and other load on the machine weigh on both alike.
	var bareTime, decoderTime time.Duration
	i := 0
	for b.Loop() {
		if i++; i%2 == 0 {
			bareTime += timeDrain(ctx, b, db, bare())
			decoderTime += timeDrain(ctx, b, db, decoder())
		} else {
			decoderTime += timeDrain(ctx, b, db, decoder())
			bareTime += timeDrain(ctx, b, db, bare())
		}
	}
	rows := float64(drainTxns * drainTxnRows * b.N)
	b.ReportMetric(rows/bareTime.Seconds(), "bare-rows/s")
	b.ReportMetric(rows/decoderTime.Seconds(), "decoder-rows/s")
	b.ReportMetric(bareTime.Seconds()/decoderTime.Seconds(), "decoder/bare")
}

func timeDrain(ctx context.Context, b *testing.B, db *testbed.Database, handle func([]byte) error) time.Duration {
	start := time.Now()
	drainOnce(ctx, b, db, handle)
	return time.Since(start)
}

// drainOnce streams the slot from its start until the last transaction's
// commit, handing every pgoutput message to handle.
func drainOnce(ctx context.Context, b *testing.B, db *testbed.Database, handle func([]byte) error) {
	repl, err := pgconn.Connect(ctx, db.DSN()+"&replication=database")
	if err != nil {
		b.Fatalf("replication connection: %v", err)
	}
	defer func() {
		repl.Close(context.Background())
		// The server ends the walsender a moment after the connection
		// closes; the next drain needs the slot free.
		for activePID(b, db.AdminDSN(), db.Name) != 0 {
			time.Sleep(10 * time.Millisecond)
		}
	}()
	err = pglogrepl.StartReplication(ctx, repl, db.Name, 0, pglogrepl.StartReplicationOptions{
		PluginArgs: []string{"proto_version '2'", "publication_names 'drain'", "streaming 'on'", "messages 'true'"}})
	if err != nil {
		b.Fatalf("start replication: %v", err)
	}
	for commits := 0; commits < drainTxns; {
		msg, err := repl.ReceiveMessage(ctx)
		if err != nil {
			b.Fatalf("receive: %v", err)
		}
		cd, ok := msg.(*pgproto3.CopyData)
		if !ok || len(cd.Data) == 0 || cd.Data[0] != pglogrepl.XLogDataByteID {
			continue
		}
		xld, err := pglogrepl.ParseXLogData(cd.Data[1:])
		if err != nil {
			b.Fatal(err)
		}
		if err := handle(xld.WALData); err != nil {
			b.Fatal(err)
		}
		if xld.WALData[0] == 'C' || xld.WALData[0] == 'c' {
			commits++
		}
	}
}
