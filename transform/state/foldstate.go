package state

import "fmt"

// SetUncachedRow writes a row's new version like SetRow, but leaves it out
// of the row cache: the states of folded entities, which the fold keeps
// decoded itself, would only push out of the cache the rows streaming
// reads again.
func (b *Batch) SetUncachedRow(t TableID, pk string, row *Row) error {
	if err := b.direct(); err != nil {
		return err
	}
	k := appendRowKey(b.key[:0], t, pk)
	b.key = k
	b.cache.remove(k)
	v, err := b.read.cols.appendEncoded(b.val[:0], row)
	if err != nil {
		return fmt.Errorf("store %s row %s: %w", t.Table, pk, err)
	}
	b.val = v
	return b.b.Set(k, v, nil)
}
