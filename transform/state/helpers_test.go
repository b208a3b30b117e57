package state

import "github.com/projector-dev/projector/capture"

func tbl(name string) capture.Table { return capture.Table{Schema: "public", Name: name} }

// rowKey is the store key of t's row pk.
func rowKey(t TableID, pk string) []byte { return appendRowKey(nil, t, pk) }
