package pgoutput

import (
	"context"
	"encoding/binary"
	"strings"
	"testing"
)

// allTypesOID is a relation with one column of every type the value tests
// cover, so that fuzzed row data reaches every value decoder.
const allTypesOID = 16450

func allTypesRelation() []byte {
	cols := make([]col, len(textValueCases))
	for i, tc := range textValueCases {
		cols[i] = col{name: tc.name, oid: tc.oid, key: i == 0}
	}
	return relationMsg(0, allTypesOID, "public", "all_types", cols...)
}

func allTypesInsert() []byte {
	cells := make([]cell, len(textValueCases))
	for i, tc := range textValueCases {
		cells[i] = tc.in
	}
	return insertMsg(0, allTypesOID, cells...)
}

// frames joins messages into one fuzz input: each is preceded by its
// length as two bytes.
func frames(msgs ...[]byte) []byte {
	var b []byte
	for _, m := range msgs {
		b = binary.BigEndian.AppendUint16(b, uint16(len(m)))
		b = append(b, m...)
	}
	return b
}

// FuzzDecode feeds arbitrary sequences of messages to a decoder that is
// inside a transaction with known relations. Whatever the bytes, Decode
// returns an error or a transaction and never panics, not even one it
// recovers from.
func FuzzDecode(f *testing.F) {
	msgs := everyMessage()
	for _, m := range msgs {
		f.Add(frames(m))
	}
	f.Add(frames(msgs...))
	f.Add(frames(allTypesInsert(), commitMsg(0x10, 0x18, commitTime)))
	f.Add(frames(commitMsg(0x10, 0x18, commitTime), streamStartMsg(7, true), allTypesInsert(), streamStopMsg(),
		streamAbortMsg(7, 8), streamCommitMsg(7, 0x20, 0x28, commitTime)))
	setup := [][]byte{beginMsg(0x10, commitTime, 1), dishesRelation(0), allTypesRelation()}
	f.Fuzz(func(t *testing.T, input []byte) {
		d := newDecoder(newFakeTypes())
		feed(t, d, setup...)
		for len(input) >= 2 {
			n := min(int(binary.BigEndian.Uint16(input)), len(input)-2)
			m := input[2 : 2+n]
			input = input[2+n:]
			if _, err := d.Decode(context.Background(), 0x100, m); err != nil {
				if strings.Contains(err.Error(), "panicked") {
					t.Fatalf("message %q: %v", m, err)
				}
				return
			}
		}
	})
}
