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
		{"ordered numbers", []string{"[-3]", "[2]", "[2]", "[10]"}, []string{"[-3]", "[2]", "[2]", "[10]"}},
		{"ordered numbers, then text", []string{"[1]", `["x"]`, "[0]"}, []string{"[0]", "[1]", `["x"]`}},
		{"out of order, then text", []string{"[1]", "[5]", "[3]", `["x"]`}, []string{"[1]", "[3]", "[5]", `["x"]`}},
		{"leading zero and plus", []string{"[+2]", "[01]"}, []string{"[01]", "[+2]"}},
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

// TestSortKeysOfOrderedIntegersAllocatesNothing: the keys of a has_many
// relation come from its join index in order, once per document built.
func TestSortKeysOfOrderedIntegersAllocatesNothing(t *testing.T) {
	pks := []string{"[1]", "[2]", "[3]", "[40]"}
	if n := testing.AllocsPerRun(100, func() { SortKeys(pks) }); n != 0 {
		t.Errorf("SortKeys of ordered integer keys made %v allocations, want 0", n)
	}
	if want := []string{"[1]", "[2]", "[3]", "[40]"}; !slices.Equal(pks, want) {
		t.Errorf("SortKeys changed ordered keys to %v", pks)
	}
}
