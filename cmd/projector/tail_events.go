package main

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/projector-dev/projector/capture"
	"github.com/projector-dev/projector/transform"
)

// writePublished prints the domain events txn publishes for the
// configured entities, one JSON object per line after its row changes.
func writePublished(out io.Writer, entities []transform.Entity, txn *capture.Transaction) error {
	for _, pe := range transform.Published(entities, txn) {
		line, err := json.Marshal(pe)
		if err != nil {
			return fmt.Errorf("encode published event: %w", err)
		}
		if _, err := out.Write(append(line, '\n')); err != nil {
			return fmt.Errorf("write event: %w", err)
		}
	}
	return nil
}
