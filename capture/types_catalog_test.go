package capture

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/projector-dev/projector/internal/testbed"
)

// countingQuerier counts the catalog queries that reach the database.
type countingQuerier struct {
	conn    *pgx.Conn
	queries int
}

func (q *countingQuerier) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	q.queries++
	return q.conn.QueryRow(ctx, sql, args...)
}

func TestCatalogTypes(t *testing.T) {
	t.Parallel()
	db := testbed.NewDatabase(t, testbed.Primary)
	db.Exec(`CREATE TYPE mood AS ENUM ('sad', 'happy');
		CREATE DOMAIN portion AS int4;
		CREATE DOMAIN portions AS portion[];
		CREATE TYPE pair AS (a int, b text);
		CREATE TYPE floatrange AS RANGE (subtype = float8)`)
	conn := db.Connect()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	oid := func(name string) uint32 {
		var oid uint32
		if err := conn.QueryRow(ctx, "SELECT $1::regtype::oid", name).Scan(&oid); err != nil {
			t.Fatalf("oid of %s: %v", name, err)
		}
		return oid
	}
	mood, portion := oid("mood"), oid("portion")
	want := []TypeInfo{
		{OID: mood, Name: "mood", Kind: EnumType},
		{OID: oid("mood[]"), Name: "mood[]", Kind: ArrayType, ElemOID: mood},
		{OID: portion, Name: "portion", Kind: DomainType, BaseOID: pgtype.Int4OID},
		{OID: oid("portions"), Name: "portions", Kind: DomainType, BaseOID: oid("portion[]")},
		{OID: oid("pair"), Name: "pair", Kind: CompositeType},
		{OID: oid("floatrange"), Name: "floatrange", Kind: RangeType},
		{OID: pgtype.Int4ArrayOID, Name: "_int4", Kind: ArrayType, ElemOID: pgtype.Int4OID},
	}
	// Multiranges came with PostgreSQL 14.
	if serverVersion(t, testbed.Primary) >= 140000 {
		want = append(want, TypeInfo{OID: oid("floatmultirange"), Name: "floatmultirange", Kind: OtherType})
	}
	q := &countingQuerier{conn: conn}
	types := NewCatalogTypes(q)
	for _, want := range want {
		for range 2 {
			got, err := types.ResolveType(ctx, want.OID)
			if err != nil {
				t.Fatal(err)
			}
			mustEqual(t, got, want)
		}
	}
	if q.queries != len(want)-1 {
		t.Errorf("%d catalog queries, want %d: one per type pgx does not know", q.queries, len(want)-1)
	}
	if _, err := types.ResolveType(ctx, 4_000_000_000); !errors.Is(err, ErrTypeNotFound) {
		t.Errorf("unknown OID: got %v, want ErrTypeNotFound", err)
	}
}

// Snapshot rows are read in the text format and decode to the same values
// as the stream's.
func TestCatalogTypesDecodeText(t *testing.T) {
	t.Parallel()
	db := testbed.NewDatabase(t, testbed.Primary)
	db.Exec(`CREATE TYPE mood AS ENUM ('sad', 'happy'); CREATE DOMAIN portion AS int4`)
	conn := db.Connect()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var mood, moods, portion uint32
	err := conn.QueryRow(ctx, "SELECT 'mood'::regtype::oid, 'mood[]'::regtype::oid, 'portion'::regtype::oid").Scan(&mood, &moods, &portion)
	if err != nil {
		t.Fatal(err)
	}
	types := NewCatalogTypes(conn)
	if err := types.prepareText(ctx, mood, moods, portion); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		oid  uint32
		raw  []byte
		want any
	}{
		{mood, []byte("happy"), "happy"},
		{moods, []byte("{sad,NULL}"), []any{"sad", nil}},
		{portion, []byte("12"), int64(12)},
		{pgtype.NumericOID, []byte("1.50"), Numeric("1.50")},
		{pgtype.JSONBOID, []byte(`{"a": 1}`), rawJSON(`{"a": 1}`)},
		{pgtype.Int4OID, nil, nil},
	} {
		got, err := types.decodeText(ctx, tc.oid, tc.raw)
		if err != nil {
			t.Fatal(err)
		}
		if !sameValue(got, tc.want) {
			t.Errorf("type %d %q: got %#v, want %#v", tc.oid, tc.raw, got, tc.want)
		}
	}
}
