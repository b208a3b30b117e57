package verify

import (
	"context"
	"encoding/json"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/projector-dev/projector/config"
	"github.com/projector-dev/projector/internal/testbed"
	"github.com/projector-dev/projector/transform"
)

// pagedFixture is a view whose root table has a composite key of text and
// integer, with a has_many relation joined on both key columns.
type pagedFixture struct {
	*fixture
	db *testbed.Database
}

// newPagedFixture creates the tables with regions × count accounts and the
// search engine's documents for them, every one right.
func newPagedFixture(t *testing.T, search *testbed.Search, count int, regions ...string) *pagedFixture {
	t.Helper()
	db := testbed.NewDatabase(t, testbed.Primary)
	db.Exec(`CREATE TABLE accounts (region text, n int, name text, PRIMARY KEY (region, n))`)
	db.Exec(`CREATE TABLE notes (id serial PRIMARY KEY, region text, n int, body text)`)
	db.Exec(`INSERT INTO accounts SELECT r, n, r || '-' || n FROM unnest($1::text[]) r, generate_series(1, $2) n`, regions, count)
	db.Exec(`INSERT INTO notes (region, n, body) SELECT region, n, b || n FROM accounts, unnest('{a,b}'::text[]) b WHERE n % 10 = 0`)
	cfg := config.Default()
	cfg.Sources["bank"] = config.Source{Name: "bank", DSN: db.DSN()}
	cfg.Sink.IndexPrefix = search.Prefix
	cfg.Views = []config.View{{Name: "accounts", Root: config.TableRef{Source: "bank", Schema: "public", Name: "accounts"},
		Fields: []config.Field{{Column: "region", Name: "region"}, {Column: "n", Name: "n"}, {Column: "name", Name: "name"}},
		Relations: []config.Relation{{Name: "notes", Type: config.HasMany,
			Table:  config.TableRef{Source: "bank", Schema: "public", Name: "notes"},
			On:     []config.JoinPair{{Parent: "region", Related: "region"}, {Parent: "n", Related: "n"}},
			Fields: []config.Field{{Column: "body", Name: "body"}}}}}}
	f := &pagedFixture{fixture: &fixture{cfg: &cfg, search: search, index: search.Index("accounts"),
		client: connectSink(t, search.URL)}, db: db}
	docs := map[string]string{}
	flush := func() {
		if len(docs) == 0 {
			return
		}
		f.write(t, docs)
		clear(docs)
	}
	for _, r := range regions {
		for n := 1; n <= count; n++ {
			id, doc := accountDoc(r, n, r+"-"+strconv.Itoa(n))
			docs[id] = doc
			if len(docs) == 5000 {
				flush()
			}
		}
	}
	flush()
	return f
}

// check verifies the accounts view.
func (f *pagedFixture) check(t *testing.T, opts Options) ViewReport {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	rep, err := Run(ctx, f.cfg, f.client, opts, quiet())
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	if len(rep.Views) != 1 || rep.Views[0].View != "accounts" {
		t.Fatalf("report has views %+v, want only accounts", rep.Views)
	}
	return rep.Views[0]
}

// accountDoc is the document projector writes for an account row.
func accountDoc(region string, n int, name string) (string, string) {
	notes := []map[string]string{}
	if n%10 == 0 {
		notes = append(notes, map[string]string{"body": "b" + strconv.Itoa(n)}, map[string]string{"body": "a" + strconv.Itoa(n)})
	}
	doc := map[string]any{"region": region, "n": n, "name": name, "notes": notes}
	parts := []string{region, strconv.Itoa(n)}
	id := transform.DocID(parts)
	if transform.IsHashedID(id) {
		doc[transform.KeyField] = parts
	}
	enc, _ := json.Marshal(doc) // plain values always encode
	return id, string(enc)
}

// labels records the progress labels a run reports.
type labels struct {
	mu   sync.Mutex
	seen map[string]bool
}

func (l *labels) progress(view string, _, _ int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	l.seen[view] = true
}

func TestPagedCheckAcrossPages(t *testing.T) {
	engines := []struct {
		name   string
		search func(t *testing.T) *testbed.Search
	}{
		{"opensearch", func(t *testing.T) *testbed.Search { return testbed.NewSearch(t) }},
		{"elasticsearch8", func(t *testing.T) *testbed.Search { return testbed.NewElasticsearch8(t) }},
	}
	for _, e := range engines {
		t.Run(e.name, func(t *testing.T) {
			long := strings.Repeat("x", transform.MaxIDBytes)
			// 3 × 850 + 1 accounts: three pages, one document with a hashed id.
			f := newPagedFixture(t, e.search(t), 850, "east", "north", "south")
			f.db.Exec(`INSERT INTO accounts VALUES ($1, 1, 'long')`, long)
			hashedID, hashedDoc := accountDoc(long, 1, "long")
			if !transform.IsHashedID(hashedID) {
				t.Fatalf("id %s of a long key is not hashed", hashedID)
			}
			f.write(t, map[string]string{hashedID: hashedDoc})

			var seen labels
			if v := f.check(t, Options{Settle: -1, Progress: seen.progress}); !v.Clean() || v.Checked != 2551 {
				t.Fatalf("got %+v, want 2551 documents checked and no drift", v)
			}
			if !seen.seen["accounts (extra documents)"] {
				t.Fatalf("progress labels %v: the view was not checked in pages", seen.seen)
			}

			// Drift in the second and third pages, and extras of every kind
			// of id: one of the key's form, one no key yields, one hashed.
			missing, _ := accountDoc("south", 700, "")
			f.remove(t, missing)
			staleID, staleDoc := accountDoc("north", 400, "someone else")
			extraID, extraDoc := accountDoc("north", 9999, "nobody")
			ghostID, ghostDoc := accountDoc(strings.Repeat("y", transform.MaxIDBytes), 1, "ghost")
			f.write(t, map[string]string{staleID: staleDoc, extraID: extraDoc, ghostID: ghostDoc, "not|a|key": `{"n":1}`})
			v := f.check(t, Options{Settle: -1})
			if v.Checked != 2551 || v.Missing != 1 || v.Stale != 1 || v.Extra != 3 {
				t.Fatalf("got %+v, want 2551 checked, 1 missing, 1 stale, 3 extra", v)
			}
			want := map[string]string{missing: KindMissing, staleID: KindStale, extraID: KindExtra, ghostID: KindExtra, "not|a|key": KindExtra}
			for _, d := range v.Diffs {
				if want[d.ID] != d.Kind {
					t.Errorf("listed %s as %s, want %q", d.ID, d.Kind, want[d.ID])
				}
				delete(want, d.ID)
			}
			if len(want) > 0 {
				t.Errorf("not listed: %v", want)
			}
		})
	}
}

// peakHeap runs fn and returns the highest HeapInuse seen while it ran.
func peakHeap(fn func()) uint64 {
	runtime.GC()
	var peak uint64
	var mu sync.Mutex
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			mu.Lock()
			peak = max(peak, ms.HeapInuse)
			mu.Unlock()
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	}()
	fn()
	cancel()
	wg.Wait()
	return peak
}

// verify's memory holds a page of documents, not the view: ten times the
// documents must not take much more heap. Read whole, 200,000 documents
// took ten times the heap of 20,000.
func TestPagedMemoryDoesNotGrowWithTheView(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 220,000 documents")
	}
	peaks := map[int]uint64{}
	for _, count := range []int{10_000, 100_000} {
		f := newPagedFixture(t, testbed.NewSearch(t), count, "east", "west")
		peaks[count] = peakHeap(func() {
			if v := f.check(t, Options{Settle: -1, ShowDiffs: -1}); !v.Clean() || v.Checked != 2*count {
				t.Fatalf("got %+v, want %d documents checked and no drift", v, 2*count)
			}
		})
		t.Logf("%d documents: peak heap in use %.1f MiB", 2*count, float64(peaks[count])/(1<<20))
	}
	const slack = 16 << 20
	if small, large := peaks[10_000], peaks[100_000]; large > small*3/2+slack {
		t.Errorf("peak heap %d bytes for 200,000 documents, %d for 20,000: memory grows with the view", large, small)
	}
}
