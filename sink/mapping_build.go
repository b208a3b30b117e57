package sink

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// ViewShape is what decides the shape of a view's documents, and so its
// index mapping: its fields, how numeric columns are indexed, and how
// document ids are derived.
type ViewShape struct {
	View   string
	Fields []Field
	// NumericAsNumber says numeric columns are indexed as numbers
	// (NumericAsDouble) rather than exact keywords.
	NumericAsNumber bool
	// IDScheme is the version of the scheme that derives document ids; ids
	// it changes must not leave documents under their old ids behind in
	// the same index.
	IDScheme int
	// KeyField, when set, is the keyword field where a document whose _id
	// is a hash of its key keeps the key, so that exact matches find it.
	KeyField string
	// Reducers digests the definitions of the entities folded from events
	// that the view reads: a changed reducer changes the documents, so it
	// needs a new index version. Empty for a view of tables only.
	Reducers string
}

// ViewMapping derives a view's index mapping, and a fingerprint that
// changes whenever the documents' shape does: a new fingerprint means a
// new index version. The fingerprint is kept in the mapping's _meta,
// where FingerprintOf reads it back.
func ViewMapping(shape ViewShape, flavour Flavour) (mapping map[string]any, fingerprint string) {
	mapping = Mapping(shape.Fields, flavour)
	if shape.KeyField != "" {
		mapping["properties"].(map[string]any)[shape.KeyField] = map[string]any{"type": "keyword", "ignore_above": keywordLimit}
	}
	fingerprint = Fingerprint(shape)
	mapping["_meta"] = map[string]any{"projector": map[string]any{"view": shape.View, "fingerprint": fingerprint}}
	return mapping, fingerprint
}

// Fingerprint is a short hash of the parts of shape that change what the
// index holds. Its input must stay as it is: a different hash for the
// same shape would rebuild every view's index on upgrade.
func Fingerprint(shape ViewShape) string {
	in, _ := json.Marshal(struct {
		Fields   []Field
		Numeric  bool
		IDScheme int    `json:",omitempty"`
		Reducers string `json:",omitempty"`
	}{shape.Fields, shape.NumericAsNumber, shape.IDScheme, shape.Reducers}) // marshalling plain structs cannot fail
	sum := sha256.Sum256(in)
	return hex.EncodeToString(sum[:8])
}

// FingerprintOf reads the fingerprint ViewMapping recorded in an index's
// mapping metadata (see Client.MappingMeta); "" when there is none.
func FingerprintOf(meta map[string]any) string {
	pm, _ := meta["projector"].(map[string]any)
	fp, _ := pm["fingerprint"].(string)
	return fp
}
