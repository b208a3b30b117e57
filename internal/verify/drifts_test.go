package verify

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
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
