package capture

import "testing"

func TestWeights(t *testing.T) {
	cases := []struct {
		name string
		got  int64
		want int64
	}{
		{"an empty transaction weighs its overhead", decoded(0, 0), txnOverhead},
		{"a decoded change weighs its message twice and a change", decoded(1, 100), txnOverhead + changeOverhead + rowOverhead + 200},
		{"a long value counts its bytes", decoded(1, 10100), txnOverhead + changeOverhead + rowOverhead + 20200},
		{"an empty snapshot chunk", copiedWeight(0, 0, 0), 0},
		{"two copied rows of three values", copiedWeight(2, 6, 60), 2*(changeOverhead+rowOverhead) + 6*valueOverhead + 60},
	}
	for _, tc := range cases {
		if tc.got != tc.want {
			t.Errorf("%s: weighs %d, want %d", tc.name, tc.got, tc.want)
		}
	}
}

func decoded(changes int, wire int64) int64 {
	txn := &Transaction{Changes: make([]Change, changes)}
	weighDecoded(txn, wire)
	return txn.Bytes
}
