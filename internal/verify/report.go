package verify

import (
	"fmt"
	"io"
	"unicode/utf8"
)

// The kinds of drift a Diff reports.
const (
	KindMissing = "missing" // the source rows yield a document the index lacks
	KindStale   = "stale"   // the index holds the document with different fields
	KindExtra   = "extra"   // the index holds a document no source row yields
	// KindAhead is a document whose _version is above any projector could
	// have written (say, re-indexed by hand with a huge external version):
	// the engine would refuse every later update of it as a conflict.
	KindAhead = "version-ahead"
)

// Report is the outcome of one verification, one entry per view.
type Report struct {
	Views []ViewReport
}

// ViewReport counts the drift of one view.
type ViewReport struct {
	View string
	// Checked is how many documents the source databases yield.
	Checked int
	Missing int
	Stale   int
	Extra   int
	// Ahead counts documents whose _version is ahead of projector's.
	Ahead int
	// Diffs are the drifted documents in document _id order, as many as
	// Options.ShowDiffs allows; Omitted counts those left out.
	Diffs   []Diff
	Omitted int
	// Unchecked says why the view could not be checked at all (an entity
	// folded from logical decoding messages); Note what a check stood on
	// (the events an event table still holds). Empty when neither applies.
	Unchecked string
	Note      string
}

// Diff is one document that differs between the sources and the index.
type Diff struct {
	ID   string
	Kind string
	// Fields lists what differs in a stale document; for a document ahead,
	// the _version found and the highest projector could have written.
	Fields []FieldDiff
}

// FieldDiff is one differing value. Path is a dotted field path with array
// positions in brackets ("line_items[1].menu_item.name"); Want and Got are
// the normalised values as JSON, or "<absent>" when the field is missing.
type FieldDiff struct {
	Path string
	Want string
	Got  string
}

// Clean reports whether no view has drifted.
func (r Report) Clean() bool {
	for _, v := range r.Views {
		if !v.Clean() {
			return false
		}
	}
	return true
}

// Clean reports whether the view's index equals its sources.
func (v ViewReport) Clean() bool {
	return v.Missing == 0 && v.Stale == 0 && v.Extra == 0 && v.Ahead == 0
}

// Write prints the report for a person: one summary line per view, then
// every listed drift, and a line saying how many drifts the limit left out.
func (r Report) Write(w io.Writer) error {
	for _, v := range r.Views {
		if v.Unchecked != "" {
			if _, err := fmt.Fprintf(w, "%s: NOT CHECKED: %s\n", v.View, v.Unchecked); err != nil {
				return err
			}
			continue
		}
		status := "ok"
		if !v.Clean() {
			status = "DRIFT"
		}
		if _, err := fmt.Fprintf(w, "%s: %s checked=%d missing=%d stale=%d extra=%d version-ahead=%d\n",
			v.View, status, v.Checked, v.Missing, v.Stale, v.Extra, v.Ahead); err != nil {
			return err
		}
		if v.Note != "" {
			if _, err := fmt.Fprintf(w, "  note: %s\n", v.Note); err != nil {
				return err
			}
		}
		for _, d := range v.Diffs {
			if _, err := fmt.Fprintf(w, "  %s _id=%s\n", d.Kind, d.ID); err != nil {
				return err
			}
			for _, f := range d.Fields {
				want, got := clipPair(f.Want, f.Got)
				if _, err := fmt.Fprintf(w, "    %s: want %s, got %s\n", f.Path, want, got); err != nil {
					return err
				}
			}
		}
		if v.Omitted > 0 {
			if _, err := fmt.Fprintf(w, "  ... %d more drifted documents not listed (the list stops at %d; --max-drifts 0 lists all)\n",
				v.Omitted, len(v.Diffs)); err != nil {
				return err
			}
		}
	}
	return nil
}

// clipLimit is the longest value the text report prints whole. A drifted
// TOASTed column holds kilobytes; printed in full, a few of them bury the
// report.
const clipLimit = 200

// clipContext is how much of a long value is printed on each side of its
// first difference from the other value.
const clipContext = 40

// clipPair shortens two long values of a field to the part around where
// they first differ, saying how long each is, so that the report shows
// what drifted without printing kilobytes. Values up to clipLimit bytes
// are returned unchanged.
func clipPair(want, got string) (string, string) {
	if len(want) <= clipLimit && len(got) <= clipLimit {
		return want, got
	}
	at := 0
	for at < len(want) && at < len(got) && want[at] == got[at] {
		at++
	}
	return clipAround(want, at), clipAround(got, at)
}

// clipAround keeps clipContext bytes of s on each side of byte at, on
// UTF-8 boundaries, and says what was left out.
func clipAround(s string, at int) string {
	if len(s) <= clipLimit {
		return s
	}
	from, to := max(0, at-clipContext), min(len(s), at+clipContext)
	for from > 0 && !utf8.RuneStart(s[from]) {
		from--
	}
	for to < len(s) && !utf8.RuneStart(s[to]) {
		to++
	}
	out := s[from:to]
	if from > 0 {
		out = "…" + out
	}
	if to < len(s) {
		out += "…"
	}
	return fmt.Sprintf("%s (%d bytes, first difference at byte %d)", out, len(s), at)
}
