// Package e2e holds end-to-end tests that run projector's parts together
// against the local PostgreSQL servers and search engine.
package e2e
