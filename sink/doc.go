// Package sink writes finished view documents to Elasticsearch or
// OpenSearch and reports when they are durably acknowledged.
//
// It detects the product from GET / (see Connect), keeps the official
// client's product check for Elasticsearch and sends the same REST
// requests to OpenSearch.
//
// Writer batches documents into bulk requests, several in flight, and
// writes every revision with version_type external: the index keeps the
// highest revision of each document whatever order retries and replays
// arrive in. Failures that pass (connection errors, 429, 5xx) are retried
// until they succeed; documents the engine refuses are kept in the view's
// dead-letter index (DeadLetterIndex), and then deleted from the view at
// the refused revision's version, so that the revision before never
// passes for current. A bulk request refused as a whole (400, 413) is
// halved until the documents it is about are alone. Acknowledgements come
// in submission order and only for durable documents (a dead-lettered one
// counts), because the caller confirms source positions from them.
//
// Each view is an alias over a versioned index <alias>_v<N>: EnsureIndex
// creates a version with explicit mappings (Mapping), and SwapAlias moves
// the alias to a rebuilt version atomically, so searches never see a
// half-built index.
package sink
