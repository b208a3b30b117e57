package capture

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/projector-dev/projector/capture/pgoutput"
)

// Querier runs one catalog query. *pgx.Conn, pgx.Tx and *pgxpool.Pool
// satisfy it.
type Querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// CatalogTypes resolves types from a source database's pg_type, asking the
// database once per OID: types known to pgx are answered without a query,
// the others are read on first use and cached for the life of the value.
// ResolveType is safe for concurrent use.
type CatalogTypes struct {
	q     Querier
	known *pgtype.Map

	mu    sync.Mutex
	cache map[uint32]TypeInfo

	textMu sync.Mutex
	text   *pgoutput.Values[Numeric] // decodes snapshot values, built on first use
}

// NewCatalogTypes returns a resolver that queries q.
func NewCatalogTypes(q Querier) *CatalogTypes {
	return &CatalogTypes{q: q, known: pgtype.NewMap(), cache: map[uint32]TypeInfo{}}
}

const typeQuery = `SELECT format_type(t.oid, NULL), t.typtype::text, t.typbasetype, t.typelem,
	t.typcategory = 'A' AND t.typelem <> 0
FROM pg_catalog.pg_type t WHERE t.oid = $1`

// ResolveType describes the type oid, reading pg_type the first time.
func (c *CatalogTypes) ResolveType(ctx context.Context, oid uint32) (TypeInfo, error) {
	if info, ok := c.builtin(oid); ok {
		return info, nil
	}
	c.mu.Lock()
	info, ok := c.cache[oid]
	c.mu.Unlock()
	if ok {
		return info, nil
	}
	info, err := c.query(ctx, oid)
	if err != nil {
		return TypeInfo{}, err
	}
	c.mu.Lock()
	c.cache[oid] = info
	c.mu.Unlock()
	return info, nil
}

func (c *CatalogTypes) query(ctx context.Context, oid uint32) (TypeInfo, error) {
	info := TypeInfo{OID: oid}
	var typtype string
	var isArray bool
	err := c.q.QueryRow(ctx, typeQuery, oid).Scan(&info.Name, &typtype, &info.BaseOID, &info.ElemOID, &isArray)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return TypeInfo{}, fmt.Errorf("type %d: %w", oid, ErrTypeNotFound)
	case err != nil:
		return TypeInfo{}, fmt.Errorf("read type %d from pg_type: %w", oid, err)
	}
	info.Kind = pgoutput.KindFromCatalog(typtype, isArray)
	if info.Kind != ArrayType {
		info.ElemOID = 0 // name and point have a typelem without being arrays
	}
	return info, nil
}

// builtin answers for the types pgx knows, which have the same OID in
// every database.
func (c *CatalogTypes) builtin(oid uint32) (TypeInfo, bool) {
	t, ok := c.known.TypeForOID(oid)
	if !ok {
		return TypeInfo{}, false
	}
	info := TypeInfo{OID: oid, Name: t.Name, Kind: BaseType}
	switch codec := t.Codec.(type) {
	case *pgtype.ArrayCodec:
		info.Kind, info.ElemOID = ArrayType, codec.ElementType.OID
	case *pgtype.RangeCodec:
		info.Kind = RangeType
	}
	return info, true
}

// decodeText decodes one value in the text format, as a snapshot's query
// returns it, into the same Go value the replication stream yields. A nil
// raw is NULL. The result does not alias raw.
func (c *CatalogTypes) decodeText(ctx context.Context, oid uint32, raw []byte) (any, error) {
	if raw == nil {
		return nil, nil
	}
	c.textMu.Lock()
	defer c.textMu.Unlock()
	return c.textValues().DecodeText(ctx, oid, raw)
}

// prepareText resolves the types oids ahead of decodeText, for callers
// that decode while their connection is busy reading a result and so could
// not run a catalog query at that moment.
func (c *CatalogTypes) prepareText(ctx context.Context, oids ...uint32) error {
	c.textMu.Lock()
	defer c.textMu.Unlock()
	return c.textValues().Prepare(ctx, oids...)
}

// textValues returns the snapshot's value decoders, building them on first
// use. textMu must be held.
func (c *CatalogTypes) textValues() *pgoutput.Values[Numeric] {
	if c.text == nil {
		c.text = pgoutput.NewValues[Numeric](c)
	}
	return c.text
}
