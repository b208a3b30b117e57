package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/elastic/go-elasticsearch/v8/esapi"
)

// IndexSettings are the settings of the indices projector creates.
type IndexSettings struct {
	Shards   int // number_of_shards; 1 when zero
	Replicas int // number_of_replicas
	// RefreshInterval is how soon writes become searchable, such as "1s",
	// or "-1" for only on demand; empty keeps the engine's default.
	RefreshInterval string
}

// IndexName names version N of the index behind alias: <alias>_v<N>.
func IndexName(alias string, version int) string {
	return alias + "_v" + strconv.Itoa(version)
}

// EnsureIndex creates <alias>_v<version> with explicit mappings and
// settings unless it exists, and points alias at it when alias does not
// exist yet. An existing alias is left alone: moving it to a new version
// is SwapAlias's job, once the new index is filled. created reports
// whether the index was created by this call.
func (c *Client) EnsureIndex(ctx context.Context, alias string, version int, mapping map[string]any,
	settings IndexSettings) (created bool, err error) {
	index := IndexName(alias, version)
	created, err = c.createIndex(ctx, index, mapping, settings)
	if err != nil {
		return false, fmt.Errorf("create index %s: %w", index, err)
	}
	exists, err := c.aliasExists(ctx, alias)
	if err != nil {
		return created, fmt.Errorf("look up alias %s: %w", alias, err)
	}
	if !exists {
		if err := c.updateAliases(ctx, aliasAction("add", index, alias)); err != nil {
			return created, fmt.Errorf("point alias %s at %s: %w", alias, index, err)
		}
	}
	return created, nil
}

func (c *Client) createIndex(ctx context.Context, index string, mapping map[string]any, s IndexSettings) (bool, error) {
	body, err := json.Marshal(map[string]any{"settings": indexSettings(s), "mappings": mapping})
	if err != nil {
		return false, fmt.Errorf("encode mappings: %w", err)
	}
	create := c.API.Indices.Create
	res, err := create(index, create.WithBody(bytes.NewReader(body)), create.WithContext(ctx))
	if err != nil {
		return false, err
	}
	defer res.Body.Close()
	if !res.IsError() {
		return true, nil
	}
	err = readAPIError(res)
	var apiErr *apiError
	if errors.As(err, &apiErr) && apiErr.typ == "resource_already_exists_exception" {
		return false, nil
	}
	return false, err
}

func indexSettings(s IndexSettings) map[string]any {
	index := map[string]any{"number_of_shards": max(s.Shards, 1), "number_of_replicas": s.Replicas}
	if s.RefreshInterval != "" {
		index["refresh_interval"] = s.RefreshInterval
	}
	return map[string]any{"index": index}
}

func (c *Client) aliasExists(ctx context.Context, alias string) (bool, error) {
	exists := c.API.Indices.ExistsAlias
	res, err := exists([]string{alias}, exists.WithContext(ctx))
	if err != nil {
		return false, err
	}
	defer res.Body.Close()
	switch res.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, readAPIError(res)
}

// CurrentVersion returns the version of the index alias points at, or 0
// when alias does not exist.
func (c *Client) CurrentVersion(ctx context.Context, alias string) (int, error) {
	indices, err := c.aliasIndices(ctx, alias)
	if err != nil {
		return 0, fmt.Errorf("look up alias %s: %w", alias, err)
	}
	switch len(indices) {
	case 0:
		return 0, nil
	case 1:
		return versionOf(alias, indices[0])
	}
	return 0, fmt.Errorf("alias %s points at several indices %v; projector needs exactly one", alias, indices)
}

func versionOf(alias, index string) (int, error) {
	n, ok := strings.CutPrefix(index, alias+"_v")
	v, err := strconv.Atoi(n)
	if !ok || err != nil || v < 1 {
		return 0, fmt.Errorf("alias %s points at %s, which is not named %s_v<N>", alias, index, alias)
	}
	return v, nil
}

func (c *Client) aliasIndices(ctx context.Context, alias string) ([]string, error) {
	get := c.API.Indices.GetAlias
	res, err := get(get.WithName(alias), get.WithContext(ctx))
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if res.IsError() {
		return nil, readAPIError(res)
	}
	var byIndex map[string]json.RawMessage
	if err := json.NewDecoder(res.Body).Decode(&byIndex); err != nil {
		return nil, fmt.Errorf("read answer: %w", err)
	}
	indices := make([]string, 0, len(byIndex))
	for index := range byIndex {
		indices = append(indices, index)
	}
	return indices, nil
}

// SwapAlias moves alias from fromIndex to toIndex in one atomic _aliases
// request, so searches on the alias always see one complete index, then
// deletes fromIndex. An empty fromIndex only adds the alias.
func (c *Client) SwapAlias(ctx context.Context, alias, fromIndex, toIndex string) error {
	if fromIndex == toIndex {
		return fmt.Errorf("swap alias %s: %s is both the old and the new index", alias, toIndex)
	}
	// Writes become searchable only at the next refresh: without one, the
	// alias could move to an index that still looks empty.
	refresh := c.API.Indices.Refresh
	res, err := refresh(refresh.WithIndex(toIndex), refresh.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("refresh %s before moving alias %s: %w", toIndex, alias, err)
	}
	defer res.Body.Close()
	if res.IsError() {
		return fmt.Errorf("refresh %s before moving alias %s: %w", toIndex, alias, readAPIError(res))
	}
	// A swap retried after the alias moved but the old index could not be
	// deleted finds the alias on toIndex alone: removing it from fromIndex
	// again would fail for good, so only the deletion is left to do.
	current, err := c.aliasIndices(ctx, alias)
	if err != nil {
		return fmt.Errorf("read alias %s before moving it to %s: %w", alias, toIndex, err)
	}
	if !slices.Equal(current, []string{toIndex}) {
		actions := []map[string]any{aliasAction("add", toIndex, alias)}
		if fromIndex != "" {
			actions = append([]map[string]any{aliasAction("remove", fromIndex, alias)}, actions...)
		}
		if err := c.updateAliases(ctx, actions...); err != nil {
			return fmt.Errorf("swap alias %s from %s to %s: %w", alias, fromIndex, toIndex, err)
		}
	}
	if fromIndex == "" {
		return nil
	}
	if err := c.deleteIndex(ctx, fromIndex); err != nil {
		return fmt.Errorf("delete index %s after moving alias %s to %s: %w", fromIndex, alias, toIndex, err)
	}
	return nil
}

func aliasAction(action, index, alias string) map[string]any {
	return map[string]any{action: map[string]string{"index": index, "alias": alias}}
}

func (c *Client) updateAliases(ctx context.Context, actions ...map[string]any) error {
	body, err := json.Marshal(map[string]any{"actions": actions})
	if err != nil {
		return fmt.Errorf("encode alias actions: %w", err)
	}
	update := c.API.Indices.UpdateAliases
	res, err := update(bytes.NewReader(body), update.WithContext(ctx))
	return checkResponse(res, err)
}

func (c *Client) deleteIndex(ctx context.Context, index string) error {
	del := c.API.Indices.Delete
	res, err := del([]string{index}, del.WithContext(ctx))
	if err == nil && res.StatusCode == http.StatusNotFound {
		res.Body.Close()
		return nil
	}
	return checkResponse(res, err)
}

// checkResponse closes the answer of a request whose body is not needed
// and turns a failure into an error.
func checkResponse(res *esapi.Response, err error) error {
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.IsError() {
		return readAPIError(res)
	}
	return nil
}

// MappingMeta returns the _meta object of index's mappings, where
// projector records which view shape an index was built for; nil when the
// index has none.
func (c *Client) MappingMeta(ctx context.Context, index string) (map[string]any, error) {
	get := c.API.Indices.GetMapping
	res, err := get(get.WithIndex(index), get.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("read mappings of %s: %w", index, err)
	}
	defer res.Body.Close()
	if res.IsError() {
		return nil, fmt.Errorf("read mappings of %s: %w", index, readAPIError(res))
	}
	var byIndex map[string]struct {
		Mappings struct {
			Meta map[string]any `json:"_meta"`
		} `json:"mappings"`
	}
	if err := json.NewDecoder(res.Body).Decode(&byIndex); err != nil {
		return nil, fmt.Errorf("read mappings of %s: %w", index, err)
	}
	return byIndex[index].Mappings.Meta, nil
}

// IndexExists reports whether index exists.
func (c *Client) IndexExists(ctx context.Context, index string) (bool, error) {
	exists := c.API.Indices.Exists
	res, err := exists([]string{index}, exists.WithContext(ctx))
	if err != nil {
		return false, fmt.Errorf("look up index %s: %w", index, err)
	}
	defer res.Body.Close()
	switch res.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, fmt.Errorf("look up index %s: %w", index, readAPIError(res))
}
