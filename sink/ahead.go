package sink

import (
	"context"
	"fmt"
)

// CreateIndexVersion creates version of alias's index with mapping and
// settings, unless it exists, without pointing the alias at it. A
// configuration reload creates the indices its views will write to this
// way while the running pipeline keeps writing, so that the restart that
// applies it does not wait for the search engine: OpenVersion then finds
// them.
func (c *Client) CreateIndexVersion(ctx context.Context, alias string, version int, mapping map[string]any,
	settings IndexSettings) error {
	index := IndexName(alias, version)
	if _, err := c.createIndex(ctx, index, mapping, settings); err != nil {
		return fmt.Errorf("create index %s: %w", index, err)
	}
	return nil
}
