// Package sink writes finished view documents to Elasticsearch or
// OpenSearch and reports when they are durably acknowledged.
//
// It detects the product from GET / (see Connect), keeps the official
// client's product check for Elasticsearch and sends the same REST
// requests to OpenSearch.
package sink
