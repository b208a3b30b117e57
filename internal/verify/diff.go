package verify

import (
	"encoding/json"
	"fmt"
	"slices"

	"github.com/projector-dev/projector/config"
)

// absent stands for a field one side does not have.
const absent = "<absent>"

// fieldDiffs lists what differs between two canonical documents.
func fieldDiffs(n *node, want, got []byte) []FieldDiff {
	var w, g map[string]any
	if json.Unmarshal(want, &w) != nil || json.Unmarshal(got, &g) != nil {
		return []FieldDiff{{Path: "", Want: string(want), Got: string(got)}}
	}
	var out []FieldDiff
	diffObject(n, "", w, g, &out)
	return out
}

func diffObject(n *node, path string, w, g map[string]any, out *[]FieldDiff) {
	keys := make([]string, 0, len(w)+len(g))
	for k := range w {
		keys = append(keys, k)
	}
	for k := range g {
		if _, ok := w[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		p := join(path, k)
		wv, wok := w[k]
		gv, gok := g[k]
		switch {
		case !wok:
			*out = append(*out, FieldDiff{Path: p, Want: absent, Got: display(gv)})
		case !gok:
			*out = append(*out, FieldDiff{Path: p, Want: display(wv), Got: absent})
		default:
			diffValue(child(n, k), p, wv, gv, out)
		}
	}
}

// child returns the relation named k under n, or nil for a plain field.
func child(n *node, k string) *node {
	if n == nil {
		return nil
	}
	for _, c := range n.Children {
		if c.Name == k {
			return c
		}
	}
	return nil
}

func diffValue(n *node, path string, w, g any, out *[]FieldDiff) {
	if equal(setForm(n, w), setForm(n, g)) {
		return
	}
	switch wv := w.(type) {
	case map[string]any:
		if gv, ok := g.(map[string]any); ok {
			diffObject(n, path, wv, gv, out)
			return
		}
	case []any:
		if gv, ok := g.([]any); ok {
			diffArray(n, path, wv, gv, out)
			return
		}
	}
	*out = append(*out, FieldDiff{Path: path, Want: display(w), Got: display(g)})
}

// diffArray pairs up array elements. The rows of a has_many relation have
// no order, so elements both sides share are set aside first and the rest
// are paired in order; other arrays are compared position by position.
// Positions are those of g, the indexed document, which keeps its order.
func diffArray(n *node, path string, w, g []any, out *[]FieldDiff) {
	wi, gi := indexes(len(w)), indexes(len(g))
	if n != nil {
		wi, gi = unmatched(n, w, g)
	}
	if len(wi) != len(gi) {
		*out = append(*out, FieldDiff{Path: path, Want: display(w), Got: display(g)})
		return
	}
	for k := range wi {
		diffValue(n, fmt.Sprintf("%s[%d]", path, gi[k]), w[wi[k]], g[gi[k]], out)
	}
}

func indexes(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// unmatched returns the positions of the elements of w and g that the other
// side does not hold (as a multiset).
func unmatched(n *node, w, g []any) (wi, gi []int) {
	used := make([]bool, len(g))
	for i, e := range w {
		found := false
		for j, f := range g {
			if !used[j] && equal(setForm(n, e), setForm(n, f)) {
				used[j], found = true, true
				break
			}
		}
		if !found {
			wi = append(wi, i)
		}
	}
	for j := range g {
		if !used[j] {
			gi = append(gi, j)
		}
	}
	return wi, gi
}

// setForm returns v, a value of relation n (nil for a plain field), with
// every has_many array in it sorted, so that values compare as the view
// defines them whatever order the document keeps.
func setForm(n *node, v any) any {
	if n == nil {
		return v
	}
	switch t := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(t))
		for k, e := range t {
			m[k] = setForm(child(n, k), e)
		}
		return m
	case []any:
		if n.Rel != config.HasMany {
			return v
		}
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = setForm(n, e)
		}
		return sortSet(out)
	}
	return v
}

func equal(a, b any) bool {
	ea, errA := json.Marshal(a)
	eb, errB := json.Marshal(b)
	return errA == nil && errB == nil && string(ea) == string(eb)
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}
