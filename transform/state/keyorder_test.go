package state

import (
	"slices"
	"testing"
)

func TestSortKeys(t *testing.T) {
	tests := []struct {
		name string
		in   []string
		want []string
	}{
		{"numbers by value", []string{"[10]", "[9]", "[100]", "[-1]"}, []string{"[-1]", "[9]", "[10]", "[100]"}},
		{"decimals", []string{`["x"]`, "[2.5]", "[2.25]"}, []string{"[2.25]", "[2.5]", `["x"]`}},
		{"composite", []string{"[2,1]", "[1,10]", "[1,9]"}, []string{"[1,9]", "[1,10]", "[2,1]"}},
		{"text", []string{`["b"]`, `["a"]`, `["ab"]`}, []string{`["a"]`, `["ab"]`, `["b"]`}},
		{"one", []string{"[3]"}, []string{"[3]"}},
		{"beyond int64", []string{"[99999999999999999999]", "[5]", "[-99999999999999999999]"},
			[]string{"[-99999999999999999999]", "[5]", "[99999999999999999999]"}},
		{"ints and text", []string{`["7"]`, "[7]", "[11]"}, []string{"[7]", "[11]", `["7"]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := slices.Clone(tt.in)
			SortKeys(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("SortKeys(%v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}
