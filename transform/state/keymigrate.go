package state

import (
	"bytes"
	"fmt"
	"log/slog"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// keyFormKey is the meta key whose presence says that every row and index
// key holds its key values in store form (appendKeyValue). Stores written
// before that form hold them as JSON text; opening one rewrites its keys.
func keyFormKey() []byte { return key(spaceMeta, "keyform") }

// migrateChunk is how many keys are rewritten per atomic batch.
const migrateChunk = 10000

// migrateKeyForm rewrites the row and index keys of a store written with
// JSON key values into store form, then records that it did. Each key is
// deleted and written anew in one batch, and keys already in store form
// are left alone, so a rewrite cut short by a crash is finished by the
// next open.
func migrateKeyForm(db *pebble.DB, log *slog.Logger) error {
	_, done, err := get(db, keyFormKey())
	if err != nil || done {
		return err
	}
	p := &migration{log: log, started: time.Now(), lastLog: time.Now()}
	for _, space := range []struct {
		name  string
		parts int // 0x00-separated parts before the key values
	}{{spaceRow, 3}, {spaceIndex, 4}} {
		if err := p.rewriteSpace(db, space.name, space.parts); err != nil {
			return fmt.Errorf("rewrite keys of space %q in numeric key order: %w", space.name, err)
		}
	}
	if p.rewritten > 0 {
		log.Info("state keys rewritten in numeric key order", "keys", p.rewritten, "took", time.Since(p.started).Round(time.Millisecond))
	}
	return db.Set(keyFormKey(), []byte{1}, pebble.Sync)
}

// migration tells operators about a rewrite of the state's keys: on a large
// state it takes minutes, during which projector is not ready.
type migration struct {
	log       *slog.Logger
	started   time.Time
	lastLog   time.Time
	rewritten int
}

// progress counts one rewritten key and logs the first one and then every
// ten seconds.
func (p *migration) progress() {
	p.rewritten++
	switch {
	case p.rewritten == 1:
		p.log.Info("rewriting the state's keys in numeric key order, once, for this version of projector; it is not ready until this is done")
	case p.rewritten%migrateChunk == 0 && time.Since(p.lastLog) >= 10*time.Second:
		p.log.Info("rewriting the state's keys", "keys", p.rewritten, "elapsed", time.Since(p.started).Round(time.Second))
		p.lastLog = time.Now()
	}
}

// rewriteSpace rewrites the keys of one space that still hold JSON key
// values.
func (p *migration) rewriteSpace(db *pebble.DB, space string, parts int) error {
	prefix := []byte(space + "\x00")
	it, err := db.NewIter(&pebble.IterOptions{LowerBound: prefix, UpperBound: prefixEnd(prefix)})
	if err != nil {
		return err
	}
	defer it.Close()
	b := db.NewBatch()
	defer func() { b.Close() }()
	for it.First(); it.Valid(); it.Next() {
		k, ok, err := storeFormKey(it.Key(), parts)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		if err := b.Delete(it.Key(), nil); err != nil {
			return err
		}
		if err := b.Set(k, it.Value(), nil); err != nil {
			return err
		}
		p.progress()
		if p.rewritten%migrateChunk == 0 {
			if err := b.Commit(pebble.NoSync); err != nil {
				return err
			}
			b.Close()
			b = db.NewBatch()
		}
	}
	if err := it.Error(); err != nil {
		return err
	}
	return b.Commit(pebble.NoSync)
}

// storeFormKey returns k with its JSON key values in store form: after
// parts 0x00-separated parts, a row key holds the primary key, an index
// key the joined values, a 0x00 and the primary key. ok is false when k
// holds store forms already.
func storeFormKey(k []byte, parts int) (out []byte, ok bool, err error) {
	at := 0
	for range parts {
		i := bytes.IndexByte(k[at:], 0)
		if i < 0 {
			return nil, false, corruptKey(k)
		}
		at += i + 1
	}
	rest := k[at:]
	if len(rest) == 0 || rest[0] != '[' {
		return nil, false, nil // store form: it starts with keyInt or keyJSON
	}
	out = append([]byte(nil), k[:at]...)
	if parts == 3 {
		return appendKeyValue(out, string(rest)), true, nil
	}
	vals, pk, found := bytes.Cut(rest, []byte{0})
	if !found {
		return nil, false, corruptKey(k)
	}
	out = append(appendKeyValue(out, string(vals)), 0)
	return appendKeyValue(out, string(pk)), true, nil
}
