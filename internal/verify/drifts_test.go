package verify

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestEveryDriftIsListedUpToTheLimit(t *testing.T) {
	f := newFixture(t)
	extras := map[string]string{}
	for i := range 7 {
		extras[fmt.Sprint(90+i)] = fmt.Sprintf(`{"id":%d}`, 90+i)
	}
	f.write(t, extras)
	f.remove(t, "2")

	all := f.run(t, Options{Settle: -1}, quiet()).Views[0]
	if all.Extra != 7 || all.Missing != 1 || len(all.Diffs) != 8 || all.Omitted != 0 {
		t.Fatalf("without a limit: got extra=%d missing=%d, %d listed, %d omitted; want 7, 1, 8 listed, none omitted",
			all.Extra, all.Missing, len(all.Diffs), all.Omitted)
	}

	rep := f.run(t, Options{Settle: -1, ShowDiffs: 3}, quiet())
	cut := rep.Views[0]
	if cut.Extra != 7 || cut.Missing != 1 || len(cut.Diffs) != 3 || cut.Omitted != 5 {
		t.Fatalf("with a limit of 3: got extra=%d missing=%d, %d listed, %d omitted; want 7, 1, 3 listed, 5 omitted",
			cut.Extra, cut.Missing, len(cut.Diffs), cut.Omitted)
	}
	var out bytes.Buffer
	if err := rep.Write(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "5 more drifted documents not listed") {
		t.Errorf("the report does not say the list was cut:\n%s", out.String())
	}
}

// writeVersioned indexes a document with an external version, as projector
// does and as a re-index by hand may.
func (f *fixture) writeVersioned(t *testing.T, id, doc string, version int64) {
	t.Helper()
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(doc)); err != nil {
		t.Fatal(err)
	}
	f.bulk(t, strings.NewReader(fmt.Sprintf("{\"index\":{\"_index\":%q,\"_id\":%q,\"version\":%d,\"version_type\":\"external\"}}\n%s\n",
		f.index, id, version, compact.Bytes())))
}

func TestVersionAheadOfProjectorIsReported(t *testing.T) {
	f := newFixture(t)
	// Document 1 as projector writes it: its version is the clock in
	// microseconds. Document 3 as re-indexed by hand, same content, with a
	// version no later update of projector's can pass.
	f.writeVersioned(t, "1", fixtureDocs["1"], time.Now().UnixMicro())
	f.writeVersioned(t, "3", fixtureDocs["3"], 1<<62)

	rep := f.run(t, Options{Settle: -1}, quiet())
	got := rep.Views[0]
	if rep.Clean() || got.Ahead != 1 || got.Missing+got.Stale+got.Extra != 0 {
		t.Fatalf("got %+v, want only document 3 reported as ahead", got)
	}
	if len(got.Diffs) != 1 || got.Diffs[0].ID != "3" || got.Diffs[0].Kind != KindAhead ||
		len(got.Diffs[0].Fields) != 1 || got.Diffs[0].Fields[0].Got != fmt.Sprint(int64(1)<<62) {
		t.Fatalf("diffs: got %+v, want document 3 with its _version", got.Diffs)
	}

	// A version two days ahead is within a slack of three days, and the
	// check can be turned off.
	f.writeVersioned(t, "2", fixtureDocs["2"], time.Now().Add(48*time.Hour).UnixMicro())
	if rep := f.run(t, Options{Settle: -1, VersionSlack: -1}, quiet()); !rep.Clean() {
		t.Errorf("with the check off: got %+v, want clean", rep.Views[0])
	}
	if got := f.run(t, Options{Settle: -1, VersionSlack: 72 * time.Hour}, quiet()).Views[0]; got.Ahead != 1 {
		t.Errorf("with a slack of 72h: got %+v, want only document 3 ahead", got)
	}
	if got := f.run(t, Options{Settle: -1}, quiet()).Views[0]; got.Ahead != 2 {
		t.Errorf("with the default slack: got %+v, want documents 2 and 3 ahead", got)
	}
}
