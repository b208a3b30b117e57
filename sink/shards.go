package sink

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
)

// Shards returns index's number of primary shards, as the engine holds
// it (which may differ from what projector would create, for an index
// made by someone else).
func (c *Client) Shards(ctx context.Context, index string) (int, error) {
	get := c.API.Indices.GetSettings
	res, err := get(get.WithIndex(index), get.WithName("index.number_of_shards"), get.WithContext(ctx))
	if err != nil {
		return 0, fmt.Errorf("read the shard count of %s: %w", index, err)
	}
	defer res.Body.Close()
	if res.IsError() {
		return 0, fmt.Errorf("read the shard count of %s: %w", index, readAPIError(res))
	}
	var byIndex map[string]struct {
		Settings struct {
			Index struct {
				Shards string `json:"number_of_shards"`
			} `json:"index"`
		} `json:"settings"`
	}
	if err := json.NewDecoder(res.Body).Decode(&byIndex); err != nil {
		return 0, fmt.Errorf("read the shard count of %s: %w", index, err)
	}
	s, ok := byIndex[index]
	if !ok {
		return 0, fmt.Errorf("read the shard count of %s: the engine answered for other indices", index)
	}
	n, err := strconv.Atoi(s.Settings.Index.Shards)
	if err != nil {
		return 0, fmt.Errorf("read the shard count of %s: number_of_shards %q: %w", index, s.Settings.Index.Shards, err)
	}
	return n, nil
}
