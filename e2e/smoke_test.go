package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/projector-dev/projector/internal/testbed"
	"github.com/projector-dev/projector/sink"
)

// TestSmoke proves the test bed end to end: rows inserted into PostgreSQL
// travel over the pgoutput replication protocol into search-engine
// documents that a search finds again.
func TestSmoke(t *testing.T) {
	db := testbed.NewDatabase(t, testbed.Primary)
	search := testbed.NewSearch(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	db.Exec(`CREATE TABLE dishes (id int PRIMARY KEY, name text NOT NULL);
		CREATE PUBLICATION smoke FOR TABLE dishes`)
	repl, err := pgconn.Connect(ctx, db.DSN()+"&replication=database")
	if err != nil {
		t.Fatalf("replication connection: %v", err)
	}
	defer repl.Close(context.Background())
	slot, err := pglogrepl.CreateReplicationSlot(ctx, repl, "smoke", "pgoutput",
		pglogrepl.CreateReplicationSlotOptions{Temporary: true})
	if err != nil {
		t.Fatalf("create slot: %v", err)
	}
	db.Exec(`INSERT INTO dishes VALUES (1, 'pad thai'), (2, 'green curry'), (3, 'pho')`)

	start, err := pglogrepl.ParseLSN(slot.ConsistentPoint)
	if err != nil {
		t.Fatalf("parse consistent point: %v", err)
	}
	err = pglogrepl.StartReplication(ctx, repl, "smoke", start, pglogrepl.StartReplicationOptions{
		PluginArgs: []string{"proto_version '1'", "publication_names 'smoke'"}})
	if err != nil {
		t.Fatalf("start replication: %v", err)
	}
	names := readInsertedNames(ctx, t, repl, 3)

	client, err := sink.Connect(ctx, sink.Options{URLs: []string{search.URL}})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("search engine: %s %s", client.Flavour, client.Version)
	index := search.Index("dishes")
	var body bytes.Buffer
	for id, name := range names {
		fmt.Fprintf(&body, `{"index":{"_index":%q,"_id":%q}}`+"\n", index, id)
		doc, _ := json.Marshal(map[string]string{"name": name})
		body.Write(append(doc, '\n'))
	}
	res, err := client.API.Bulk(&body, client.API.Bulk.WithContext(ctx), client.API.Bulk.WithRefresh("true"))
	if err != nil {
		t.Fatalf("bulk: %v", err)
	}
	defer res.Body.Close()
	if res.IsError() || strings.Contains(res.String(), `"errors":true`) {
		t.Fatalf("bulk failed: %s", res.String())
	}

	out, err := search.Do("POST", "/"+index+"/_search", strings.NewReader(`{"query":{"match":{"name":"curry"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	var hits struct {
		Hits struct {
			Hits []struct {
				ID string `json:"_id"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(out, &hits); err != nil {
		t.Fatalf("search answer: %v", err)
	}
	if len(hits.Hits.Hits) != 1 || hits.Hits.Hits[0].ID != "2" {
		t.Fatalf("search for curry: want document 2, got %s", out)
	}
}

// readInsertedNames reads replication messages until want inserts arrived
// and returns the name column keyed by the id column.
func readInsertedNames(ctx context.Context, t *testing.T, conn *pgconn.PgConn, want int) map[string]string {
	t.Helper()
	names := map[string]string{}
	for len(names) < want {
		msg, err := conn.ReceiveMessage(ctx)
		if err != nil {
			t.Fatalf("receive replication message: %v", err)
		}
		cd, ok := msg.(*pgproto3.CopyData)
		if !ok || cd.Data[0] != pglogrepl.XLogDataByteID {
			continue
		}
		xld, err := pglogrepl.ParseXLogData(cd.Data[1:])
		if err != nil {
			t.Fatalf("parse XLogData: %v", err)
		}
		logical, err := pglogrepl.Parse(xld.WALData)
		if err != nil {
			t.Fatalf("parse pgoutput message: %v", err)
		}
		if ins, ok := logical.(*pglogrepl.InsertMessage); ok {
			cols := ins.Tuple.Columns
			names[string(cols[0].Data)] = string(cols[1].Data)
		}
	}
	return names
}
