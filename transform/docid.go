package transform

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// MaxIDBytes is the longest document _id the search engine accepts, in
// UTF-8 bytes.
const MaxIDBytes = 512

// KeyField is the document field that keeps the full key of a document
// whose _id is a hash: the key's values as a JSON array, in key column
// order, so the row can still be found from the document.
const KeyField = "projector_key"

// DocIDScheme numbers the way document ids are made from keys. It is part
// of a view's index fingerprint: when it changes, ids of existing
// documents may change, and the view is rebuilt into a new index version
// rather than left with a document under its old id and its new one.
const DocIDScheme = 2

// Markers of the ids that are not a key value as it is. A plain id never
// starts with a backslash (one that would is escaped), so none of these
// can be read as one.
const (
	hashedPrefix = `\sha256:`
	emptyID      = `\e`
)

// DocID returns the document _id of a row whose key columns hold parts,
// each in its text form: a string value as it is, any other value as
// its JSON text. The ids of keys with the same number of columns are
// distinct for distinct keys, never empty and at most MaxIDBytes long:
//
//   - one column: the value itself, so GET /<view>/_doc/<key> works; an
//     empty value is `\e`, and a value starting with `\` gets another `\`
//     in front;
//   - several columns: the values joined by "|", with "\" and "|" inside a
//     value escaped by a "\";
//   - an id that would be longer than MaxIDBytes is `\sha256:` and the
//     SHA-256 of that id in hex; the document then keeps its key in
//     KeyField.
func DocID(parts []string) string {
	id := unhashedID(parts)
	if len(id) > MaxIDBytes {
		sum := sha256.Sum256([]byte(id))
		return hashedPrefix + hex.EncodeToString(sum[:])
	}
	return id
}

func unhashedID(parts []string) string {
	if len(parts) == 1 {
		switch p := parts[0]; {
		case p == "":
			return emptyID
		case p[0] == '\\':
			return `\` + p
		default:
			return p
		}
	}
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('|')
		}
		for j := 0; j < len(p); j++ {
			if p[j] == '\\' || p[j] == '|' {
				b.WriteByte('\\')
			}
			b.WriteByte(p[j])
		}
	}
	return b.String()
}

// IsHashedID reports whether id is a hash of a key too long to be an id,
// which cannot be turned back into the key.
func IsHashedID(id string) bool { return strings.HasPrefix(id, hashedPrefix) }

// ParseDocID returns the key values an id of a key of n columns was made
// of; it fails for a hashed id and for text no key of n columns yields.
func ParseDocID(id string, n int) ([]string, error) {
	if IsHashedID(id) {
		return nil, errors.New("the id is a hash of the key")
	}
	if n == 1 {
		switch {
		case id == emptyID:
			return []string{""}, nil
		case strings.HasPrefix(id, `\\`):
			return []string{id[1:]}, nil
		case id == "" || id[0] == '\\':
			return nil, fmt.Errorf("%q is no document id", id)
		}
		return []string{id}, nil
	}
	var parts []string
	var b strings.Builder
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case c == '\\':
			if i+1 == len(id) || (id[i+1] != '\\' && id[i+1] != '|') {
				return nil, fmt.Errorf("%q is no document id: a lone \\", id)
			}
			i++
			b.WriteByte(id[i])
		case c == '|':
			parts = append(parts, b.String())
			b.Reset()
		default:
			b.WriteByte(c)
		}
	}
	parts = append(parts, b.String())
	if len(parts) != n {
		return nil, fmt.Errorf("%q is no document id of a key of %d columns", id, n)
	}
	return parts, nil
}

// KeyParts splits a key in the form the state stores it, a JSON array of
// the key columns' values, into the text forms DocID takes.
func KeyParts(key []byte) ([]string, error) {
	var raws []json.RawMessage
	if err := json.Unmarshal(key, &raws); err != nil {
		return nil, fmt.Errorf("read key %s: %w", key, err)
	}
	parts := make([]string, len(raws))
	for i, raw := range raws {
		if len(raw) > 0 && raw[0] == '"' {
			if err := json.Unmarshal(raw, &parts[i]); err != nil {
				return nil, fmt.Errorf("read key %s: %w", key, err)
			}
			continue
		}
		parts[i] = string(raw)
	}
	return parts, nil
}
