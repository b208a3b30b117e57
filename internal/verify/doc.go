// Package verify is projector's correctness oracle. It computes the
// documents every view should hold straight from the source databases with
// plain SQL reads, independently of projector's local state and transform
// code, and compares them with what the search engine serves. It reports,
// per view, the documents that are missing, stale (with a field-level diff)
// or extra. Under write load it re-checks mismatches for a settle period,
// so only drift that persists is reported.
package verify
