package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"golang.org/x/sync/errgroup"
)

// storedDoc is a document as projector indexed it.
type storedDoc struct {
	ID      string          `json:"_id"`
	Version int64           `json:"_version"`
	Source  json.RawMessage `json:"_source"`
}

// readDocs reads every document of index with the scroll API.
func readDocs(ctx context.Context, c *searchClient, index string) ([]storedDoc, error) {
	type page struct {
		ScrollID string `json:"_scroll_id"`
		Hits     struct {
			Hits []storedDoc `json:"hits"`
		} `json:"hits"`
	}
	var p page
	err := c.json(ctx, http.MethodPost, "/"+index+"/_search?scroll=2m",
		map[string]any{"size": 5000, "sort": []string{"_doc"}, "version": true}, &p)
	if err != nil {
		return nil, fmt.Errorf("read documents of %s: %w", index, err)
	}
	var docs []storedDoc
	for len(p.Hits.Hits) > 0 {
		docs = append(docs, p.Hits.Hits...)
		id := p.ScrollID
		p = page{}
		if err := c.json(ctx, http.MethodPost, "/_search/scroll", map[string]any{"scroll": "2m", "scroll_id": id}, &p); err != nil {
			return nil, fmt.Errorf("read documents of %s: %w", index, err)
		}
	}
	if p.ScrollID != "" {
		_ = c.json(ctx, http.MethodDelete, "/_search/scroll", map[string]any{"scroll_id": p.ScrollID}, nil)
	}
	return docs, nil
}

// copyIndexShape creates index with the mapping and the shard, replica and
// refresh settings of from, so both contenders write to the same kind of
// index.
func copyIndexShape(ctx context.Context, c *searchClient, from, index string) error {
	var res map[string]struct {
		Mappings json.RawMessage `json:"mappings"`
		Settings struct {
			Index map[string]any `json:"index"`
		} `json:"settings"`
	}
	if err := c.json(ctx, http.MethodGet, "/"+from, nil, &res); err != nil {
		return fmt.Errorf("read the shape of %s: %w", from, err)
	}
	for _, shape := range res {
		settings := map[string]any{}
		for _, k := range []string{"number_of_shards", "number_of_replicas", "refresh_interval"} {
			if v, ok := shape.Settings.Index[k]; ok {
				settings[k] = v
			}
		}
		body := map[string]any{"settings": map[string]any{"index": settings}, "mappings": shape.Mappings}
		if err := c.json(ctx, http.MethodPut, "/"+index, body, nil); err != nil {
			return fmt.Errorf("create index %s: %w", index, err)
		}
		return nil
	}
	return fmt.Errorf("index %s not found", from)
}

// bulkBodies pre-serialises docs into NDJSON bulk bodies of at most
// actions documents or maxBytes bytes, with the versioned index actions
// projector sends.
func bulkBodies(docs []storedDoc, index string, actions, maxBytes int) [][]byte {
	var bodies [][]byte
	var buf bytes.Buffer
	n := 0
	for _, d := range docs {
		buf.WriteString(`{"index":{"_index":`)
		buf.WriteString(strconv.Quote(index))
		buf.WriteString(`,"_id":`)
		buf.WriteString(strconv.Quote(d.ID))
		buf.WriteString(`,"version":`)
		buf.WriteString(strconv.FormatInt(d.Version, 10))
		buf.WriteString(`,"version_type":"external"}}` + "\n")
		buf.Write(d.Source)
		buf.WriteByte('\n')
		if n++; n == actions || buf.Len() >= maxBytes {
			bodies = append(bodies, bytes.Clone(buf.Bytes()))
			buf.Reset()
			n = 0
		}
	}
	if n > 0 {
		bodies = append(bodies, bytes.Clone(buf.Bytes()))
	}
	return bodies
}

// loadBulk sends the bodies with concurrency requests in flight and
// returns how long that took; any document the engine refused is an error.
func loadBulk(ctx context.Context, c *searchClient, bodies [][]byte, concurrency int) (time.Duration, error) {
	start := time.Now()
	next := make(chan []byte)
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		defer close(next)
		for _, b := range bodies {
			select {
			case next <- b:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	for range concurrency {
		g.Go(func() error {
			for b := range next {
				out, err := c.do(ctx, http.MethodPost, "/_bulk", "application/x-ndjson", b)
				if err != nil {
					return err
				}
				var res struct{ Errors bool }
				if err := json.Unmarshal(out, &res); err != nil {
					return fmt.Errorf("decode bulk answer: %w", err)
				}
				if res.Errors {
					return fmt.Errorf("the engine refused documents: %.300s", out)
				}
			}
			return nil
		})
	}
	err := g.Wait()
	return time.Since(start), err
}
