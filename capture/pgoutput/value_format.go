package pgoutput

import (
	"math"
	"strconv"

	"github.com/jackc/pgx/v5/pgtype"
)

// formatTime prints a time of day as PostgreSQL does, "15:04:05.999999".
// It is done by hand because PostgreSQL's day ends at 24:00:00 inclusive,
// which time.Time cannot print.
func formatTime(us int64) string {
	b := make([]byte, 0, len("24:00:00.000000"))
	b = appendClock(b, us)
	return string(b)
}

// appendClock appends hours (two digits at least), minutes, seconds and
// the fraction of a second without trailing zeros, from non-negative
// microseconds.
func appendClock(b []byte, us int64) []byte {
	const second, minute, hour = 1_000_000, 60 * 1_000_000, 3600 * 1_000_000
	b = appendTwoDigits(b, us/hour)
	b = append(b, ':')
	b = appendTwoDigits(b, us%hour/minute)
	b = append(b, ':')
	b = appendTwoDigits(b, us%minute/second)
	if frac := us % second; frac != 0 {
		digits := strconv.AppendInt(nil, frac+second, 10)[1:] // zero-padded to six
		for digits[len(digits)-1] == '0' {
			digits = digits[:len(digits)-1]
		}
		b = append(append(b, '.'), digits...)
	}
	return b
}

func appendTwoDigits(b []byte, n int64) []byte {
	if n < 10 {
		b = append(b, '0')
	}
	return strconv.AppendInt(b, n, 10)
}

// formatInterval prints an interval received in the binary format the way
// PostgreSQL prints it under the default IntervalStyle (postgres), e.g.
// "1 year 2 mons -3 days +04:05:06.5", so both wire formats give the same
// string.
func formatInterval(iv pgtype.Interval) string {
	switch {
	case iv.Months == math.MaxInt32 && iv.Days == math.MaxInt32 && iv.Microseconds == math.MaxInt64:
		return "infinity"
	case iv.Months == math.MinInt32 && iv.Days == math.MinInt32 && iv.Microseconds == math.MinInt64:
		return "-infinity"
	}
	p := intervalPrinter{zero: true}
	p.part(int64(iv.Months/12), "year")
	p.part(int64(iv.Months%12), "mon")
	p.part(int64(iv.Days), "day")
	if p.zero || iv.Microseconds != 0 {
		p.clock(iv.Microseconds)
	}
	return string(p.b)
}

// intervalPrinter follows PostgreSQL's EncodeInterval: a field after a
// negative one carries an explicit "+" when positive.
type intervalPrinter struct {
	b      []byte
	zero   bool // nothing printed yet
	before bool // the previous field was negative
}

func (p *intervalPrinter) part(n int64, unit string) {
	if n == 0 {
		return
	}
	if !p.zero {
		p.b = append(p.b, ' ')
	}
	if p.before && n > 0 {
		p.b = append(p.b, '+')
	}
	p.b = strconv.AppendInt(p.b, n, 10)
	p.b = append(append(p.b, ' '), unit...)
	if n != 1 {
		p.b = append(p.b, 's')
	}
	p.before, p.zero = n < 0, false
}

func (p *intervalPrinter) clock(us int64) {
	if !p.zero {
		p.b = append(p.b, ' ')
	}
	switch {
	case us < 0:
		p.b = append(p.b, '-')
	case p.before:
		p.b = append(p.b, '+')
	}
	abs := uint64(us)
	if us < 0 {
		abs = -abs
	}
	p.b = appendClock(p.b, int64(min(abs, math.MaxInt64)))
}
