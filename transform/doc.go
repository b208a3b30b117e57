// Package transform applies captured transactions (capture.Transaction, the
// domain event) and keeps every view's joined, denormalised documents equal
// to what a join over the source tables would give.
package transform
