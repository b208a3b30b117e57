package pgoutput

import (
	"math"
	"testing"

	"github.com/jackc/pgx/v5/pgtype"
)

// The wanted strings are what PostgreSQL 15 prints for the same intervals
// under IntervalStyle postgres.
func TestFormatInterval(t *testing.T) {
	const hour = 3600 * 1_000_000
	for _, tc := range []struct {
		in   pgtype.Interval
		want string
	}{
		{pgtype.Interval{}, "00:00:00"},
		{pgtype.Interval{Days: 1}, "1 day"},
		{pgtype.Interval{Months: 14, Days: -3, Microseconds: 4*hour + 5*60e6 + 6.5e6}, "1 year 2 mons -3 days +04:05:06.5"},
		{pgtype.Interval{Months: -13, Days: 1}, "-1 years -1 mons +1 day"},
		{pgtype.Interval{Months: -1}, "-1 mons"},
		{pgtype.Interval{Months: 1, Days: -1}, "1 mon -1 days"},
		{pgtype.Interval{Microseconds: -1}, "-00:00:00.000001"},
		{pgtype.Interval{Days: 1, Microseconds: -hour}, "1 day -01:00:00"},
		{pgtype.Interval{Days: -1, Microseconds: -2 * hour}, "-1 days -02:00:00"},
		{pgtype.Interval{Days: -1, Microseconds: 2 * hour}, "-1 days +02:00:00"},
		{pgtype.Interval{Microseconds: 100 * hour}, "100:00:00"},
		{pgtype.Interval{Months: math.MaxInt32, Days: math.MaxInt32, Microseconds: math.MaxInt64}, "infinity"},
		{pgtype.Interval{Months: math.MinInt32, Days: math.MinInt32, Microseconds: math.MinInt64}, "-infinity"},
	} {
		if got := formatInterval(tc.in); got != tc.want {
			t.Errorf("formatInterval(%+v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFormatTime(t *testing.T) {
	for _, tc := range []struct {
		us   int64
		want string
	}{
		{0, "00:00:00"},
		{(13*3600 + 45*60) * 1e6, "13:45:00"},
		{3723*1e6 + 500000, "01:02:03.5"},
		{1, "00:00:00.000001"},
		{86399999999, "23:59:59.999999"},
		{86400 * 1e6, "24:00:00"},
	} {
		if got := formatTime(tc.us); got != tc.want {
			t.Errorf("formatTime(%d) = %q, want %q", tc.us, got, tc.want)
		}
	}
}
