package capture

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"
)

// Helpers for the tests that check decoded rows from a real server; the
// byte-level decoding tests are in capture/pgoutput.

func mustEqual(t *testing.T, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", dump(got), dump(want))
	}
}

func dump(v any) string {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprintf("%#v", v) // NaN and infinities have no JSON
	}
	return string(b)
}

// sameValue is reflect.DeepEqual, except that NaN equals NaN.
func sameValue(a, b any) bool {
	fa, aok := a.(float64)
	fb, bok := b.(float64)
	if aok && bok && math.IsNaN(fa) && math.IsNaN(fb) {
		return true
	}
	sa, aok := a.([]any)
	sb, bok := b.([]any)
	if aok && bok {
		if len(sa) != len(sb) || (sa == nil) != (sb == nil) {
			return false
		}
		for i := range sa {
			if !sameValue(sa[i], sb[i]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

func utcTime(year int, month time.Month, day, hour, min, sec, nsec int) time.Time {
	return time.Date(year, month, day, hour, min, sec, nsec, time.UTC)
}

func rawJSON(s string) json.RawMessage { return json.RawMessage(s) }
