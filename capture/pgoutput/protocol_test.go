package pgoutput

import (
	"slices"
	"strings"
	"testing"
)

// Each server offers the versions up to the one its release added, and
// ForServer picks the highest that changes what is decoded.
func TestProtocolVersions(t *testing.T) {
	for _, tc := range []struct {
		num     int
		offered []int
		highest Protocol
	}{
		{130023, []int{1}, Protocol{Version: 1}},
		{140025, []int{1, 2}, Protocol{Version: 2, Streaming: true, Messages: true}},
		{150020, []int{1, 2, 3}, Protocol{Version: 2, Streaming: true, Messages: true}},
		{160016, []int{1, 2, 3, 4}, Protocol{Version: 4, Streaming: true, Parallel: true, Messages: true}},
		{180007, []int{1, 2, 3, 4}, Protocol{Version: 4, Streaming: true, Parallel: true, Messages: true}},
	} {
		if got := Versions(tc.num); !slices.Equal(got, tc.offered) {
			t.Errorf("%d offers %v, want %v", tc.num, got, tc.offered)
		}
		got, err := ForServer(tc.num)
		if err != nil || got != tc.highest {
			t.Errorf("ForServer(%d) = %+v, %v; want %+v", tc.num, got, err, tc.highest)
		}
	}
	if got := Versions(120017); len(got) != 0 {
		t.Errorf("PostgreSQL 12 offers %v, want none", got)
	}
}

func TestProtocolForVersion(t *testing.T) {
	for _, tc := range []struct {
		num, version int
		want         Protocol
	}{
		{130023, 1, Protocol{Version: 1}},
		{140025, 1, Protocol{Version: 1, Messages: true}},
		{150020, 3, Protocol{Version: 3, Streaming: true, Messages: true}},
		{160016, 2, Protocol{Version: 2, Streaming: true, Messages: true}},
		{160016, 4, Protocol{Version: 4, Streaming: true, Parallel: true, Messages: true}},
	} {
		got, err := ForVersion(tc.num, tc.version)
		if err != nil || got != tc.want {
			t.Errorf("ForVersion(%d, %d) = %+v, %v; want %+v", tc.num, tc.version, got, err, tc.want)
		}
	}
	for _, tc := range []struct {
		num, version int
		want         string
	}{
		{130023, 2, "not offered by PostgreSQL 13, which offers 1 to 1"},
		{150020, 4, "not offered by PostgreSQL 15, which offers 1 to 3"},
		{150020, 0, "version 0 is not offered"},
		{120017, 1, "PostgreSQL 12.0 is not supported"},
	} {
		if _, err := ForVersion(tc.num, tc.version); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ForVersion(%d, %d): got %v, want an error containing %q", tc.num, tc.version, err, tc.want)
		}
	}
	if _, err := ForServer(120017); err == nil || !strings.Contains(err.Error(), "needs 13 or later") {
		t.Errorf("ForServer(12): got %v", err)
	}
}
