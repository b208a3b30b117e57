// Package transform turns captured transactions into domain events and
// keeps every view's joined, denormalised documents equal to what a join
// over the source tables would give.
package transform
