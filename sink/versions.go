package sink

import (
	"context"
	"errors"
	"fmt"
)

// IndexVersion is where a view's documents go: the alias clients query
// and the versioned index behind it (IndexName). While a new version
// builds, Target is the new index and the alias still points at From;
// SwapAlias moves it once Target holds everything.
type IndexVersion struct {
	Alias  string
	Target string
	From   string // "" unless a new version is being built
}

// Rebuilding reports whether Target is a new version the alias does not
// point at yet.
func (v IndexVersion) Rebuilding() bool { return v.From != "" }

// VersionPlan is what the indices behind an alias say at start-up about
// the view it serves.
type VersionPlan struct {
	Alias    string
	Mapping  map[string]any
	Settings IndexSettings
	// Current is the version the alias points at; 0 when there is none.
	Current int
	// Reshaped means the current version was built for documents of
	// another shape (its fingerprint is not the mapping's).
	Reshaped bool
	// Unfinished means the next version already exists: a rebuild cut
	// short by a stop, which must go on.
	Unfinished bool
}

// PlanVersion reads which version of the index behind alias serves, and
// whether it was built for the shape whose mapping and fingerprint
// ViewMapping returned.
func (c *Client) PlanVersion(ctx context.Context, alias string, mapping map[string]any, fingerprint string,
	settings IndexSettings) (VersionPlan, error) {
	plan := VersionPlan{Alias: alias, Mapping: mapping, Settings: settings}
	current, err := c.CurrentVersion(ctx, alias)
	if err != nil {
		return plan, err
	}
	plan.Current = current
	if current == 0 {
		return plan, nil
	}
	meta, err := c.MappingMeta(ctx, IndexName(alias, current))
	if err != nil {
		return plan, err
	}
	plan.Reshaped = FingerprintOf(meta) != fingerprint
	if plan.Unfinished, err = c.IndexExists(ctx, IndexName(alias, current+1)); err != nil {
		return plan, err
	}
	return plan, nil
}

// OpenVersion creates the index a plan writes to, unless it exists, and
// the alias's dead-letter index: the current version (the first when
// there is none), or with rebuild the next one, which the alias points at
// only once SwapAlias moves it.
func (c *Client) OpenVersion(ctx context.Context, plan VersionPlan, rebuild bool) (IndexVersion, error) {
	next := max(plan.Current, 1)
	if rebuild {
		next = plan.Current + 1
	}
	v := IndexVersion{Alias: plan.Alias, Target: IndexName(plan.Alias, next)}
	if _, err := c.EnsureIndex(ctx, plan.Alias, next, plan.Mapping, plan.Settings); err != nil {
		return v, err
	}
	if err := c.EnsureDeadLetterIndex(ctx, plan.Alias, plan.Settings); err != nil {
		return v, err
	}
	if rebuild {
		v.From = IndexName(plan.Alias, plan.Current)
	}
	return v, nil
}

// errNotRebuilding is returned by MoveAlias for a version that is not
// being built.
var errNotRebuilding = errors.New("no new index version is being built")

// MoveAlias points the alias at the new version once it holds
// everything, and deletes the old one (see SwapAlias).
func (c *Client) MoveAlias(ctx context.Context, v IndexVersion) error {
	if !v.Rebuilding() {
		return fmt.Errorf("move alias %s: %w", v.Alias, errNotRebuilding)
	}
	return c.SwapAlias(ctx, v.Alias, v.From, v.Target)
}
