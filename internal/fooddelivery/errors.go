package fooddelivery

import (
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// wrap says what was being done when err happened; nil stays nil.
func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}

// notFound turns a row that a concurrent change removed into errNoRow, so
// the change counts as skipped rather than failed.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return errNoRow
	}
	return wrap(err, format, args...)
}
