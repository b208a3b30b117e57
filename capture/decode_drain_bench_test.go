package capture

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/projector-dev/projector/internal/testbed"
)

const (
	drainTxns    = 100
	drainTxnRows = 1000
	// drainSmallTxns is how many transactions of one row
	// BenchmarkDrainStream's backlog has after the large ones, as an OLTP
	// load writes them.
	drainSmallTxns = 20000
)

// BenchmarkDrainPostgres reads the same backlog of 100 transactions of
// 1000 rows from a real server twice per iteration: with a bare pglogrepl
// loop that only parses each message, and with the Decoder. The slot is
// never confirmed, so every drain reads the whole backlog again.
// decoder/bare is the rate the Decoder drains at relative to the bare
// loop; the capture stage must keep it at 0.9 or more.
func BenchmarkDrainPostgres(b *testing.B) {
	db := drainBacklog(b, 0)
	conn := db.Connect()
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
			bareTime += timeDrain(ctx, b, db, drainTxns, bareParser())
			decoderTime += timeDrain(ctx, b, db, drainTxns, decoder())
		} else {
			decoderTime += timeDrain(ctx, b, db, drainTxns, decoder())
			bareTime += timeDrain(ctx, b, db, drainTxns, bareParser())
		}
	}
	rows := float64(drainTxns * drainTxnRows * b.N)
	b.ReportMetric(rows/bareTime.Seconds(), "bare-rows/s")
	b.ReportMetric(rows/decoderTime.Seconds(), "decoder-rows/s")
	b.ReportMetric(bareTime.Seconds()/decoderTime.Seconds(), "decoder/bare")
}

// bareParser returns the bare loop's handler: each message parsed by
// pglogrepl and nothing else done with it.
func bareParser() func([]byte) error {
	inStream := false
	return func(data []byte) error {
		inStream = (inStream || data[0] == 'S') && data[0] != 'E'
		_, err := pglogrepl.ParseV2(data, inStream)
		return err
	}
}

// drainBacklog makes a database whose slot, named after it, holds the
// backlog of 100 transactions of 1000 rows of table orders, published as
// drain, then small transactions that update one row each.
func drainBacklog(b *testing.B, small int) *testbed.Database {
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
	db.Exec(`DO $$ BEGIN FOR t IN 1..` + strconv.Itoa(small) + ` LOOP
		UPDATE orders SET paid = NOT paid WHERE id = t;
		COMMIT;
	END LOOP; END $$`)
	return db
}

// BenchmarkDrainStream drains BenchmarkDrainPostgres's backlog, followed
// by drainSmallTxns transactions of one row, with the whole capture stage,
// as projector-bench's drain does: a Stream whose
// transactions are confirmed as soon as they are delivered, on a copy of
// the slot each time, against the bare loop on the never confirmed
// original. stream/bare is the Stream's rate relative to the bare loop.
// With -blockprofile it shows where the session and delivery goroutines
// wait.
func BenchmarkDrainStream(b *testing.B) {
	db := drainBacklog(b, drainSmallTxns)
	src := Source{Name: "bench", DSN: db.DSN(), Tables: []Table{{Schema: "public", Name: "orders"}}, Publication: "drain"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var bareTime, streamTime time.Duration
	i := 0
	for b.Loop() {
		i++
		src.Slot = db.Name + "_" + strconv.Itoa(i)
		db.Exec(`SELECT pg_copy_logical_replication_slot($1, $2)`, db.Name, src.Slot)
		if i%2 == 0 {
			bareTime += timeDrain(ctx, b, db, drainTxns+drainSmallTxns, bareParser())
			streamTime += timeStream(ctx, b, db, src)
		} else {
			streamTime += timeStream(ctx, b, db, src)
			bareTime += timeDrain(ctx, b, db, drainTxns+drainSmallTxns, bareParser())
		}
		db.Exec(`SELECT pg_drop_replication_slot($1)`, src.Slot)
	}
	rows := float64((drainTxns*drainTxnRows + drainSmallTxns) * b.N)
	b.ReportMetric(rows/bareTime.Seconds(), "bare-rows/s")
	b.ReportMetric(rows/streamTime.Seconds(), "stream-rows/s")
	b.ReportMetric(bareTime.Seconds()/streamTime.Seconds(), "stream/bare")
}

// timeStream runs a Stream on src's slot until it delivered the backlog's
// last transaction, confirming each as it comes, and waits until the
// walsender let go of the slot.
func timeStream(ctx context.Context, b *testing.B, db *testbed.Database, src Source) time.Duration {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	s := NewStream(src, Options{}, NewMetrics(prometheus.NewRegistry()), slog.New(slog.DiscardHandler))
	txns := 0
	var took time.Duration
	start := time.Now()
	err := s.Run(ctx, Checkpoint{SnapshotDone: true}, func(_ context.Context, txn *Transaction) error {
		s.Confirm(txn.EndLSN)
		if txns++; txns == drainTxns+drainSmallTxns {
			took = time.Since(start)
			cancel()
		}
		return nil
	})
	if txns < drainTxns+drainSmallTxns {
		b.Fatalf("stream ended after %d of %d transactions: %v", txns, drainTxns+drainSmallTxns, err)
	}
	for activePID(b, db.AdminDSN(), src.Slot) != 0 {
		time.Sleep(10 * time.Millisecond)
	}
	return took
}

func timeDrain(ctx context.Context, b *testing.B, db *testbed.Database, txns int, handle func([]byte) error) time.Duration {
	start := time.Now()
	drainOnce(ctx, b, db, txns, handle)
	return time.Since(start)
}

// drainOnce streams the slot from its start until the commit of its
// txns-th transaction, handing every pgoutput message to handle.
func drainOnce(ctx context.Context, b *testing.B, db *testbed.Database, txns int, handle func([]byte) error) {
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
	for commits := 0; commits < txns; {
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
