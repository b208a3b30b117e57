package verify

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/projector-dev/projector/config"
)

// checkSubset rebuilds the documents with ids from their rows alone and
// compares them with the same documents of a full load.
func checkSubset(t *testing.T, cfg *config.Config, ids []string, want []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	views, err := selectViews(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	db, err := openSources(ctx, cfg, views)
	if err != nil {
		t.Fatal(err)
	}
	defer db.close()
	root, err := buildShape(views[0], db.cat)
	if err != nil {
		t.Fatal(err)
	}
	if !db.canSubset(root) {
		t.Fatal("the view's keys and joins should allow reading by id")
	}
	all, err := db.load(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	full, err := expect(root, all)
	if err != nil {
		t.Fatal(err)
	}
	some, err := db.loadSubset(ctx, root, ids)
	if err != nil {
		t.Fatal(err)
	}
	sub, err := expect(root, some)
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(maps.Keys(sub)); !slices.Equal(got, want) {
		t.Fatalf("read documents %v by id, want %v", got, want)
	}
	for id, doc := range sub {
		if string(doc) != string(full[id]) {
			t.Errorf("document %s read by id:\n%s\nfrom a full read:\n%s", id, doc, full[id])
		}
	}
}

func TestSubsetLoadMatchesFullLoad(t *testing.T) {
	f := newFixture(t)
	checkSubset(t, f.cfg, []string{"1", "3", "404", "not-a-number|x"}, []string{"1", "3"})
}
