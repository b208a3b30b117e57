package sink

import (
	"testing"

	"github.com/projector-dev/projector/config"
)

// Config validation refuses view names that take another view's
// dead-letter index, so both must name that index alike.
func TestDeadLetterIndexMatchesConfig(t *testing.T) {
	if got, want := DeadLetterIndex("probes"), "probes"+config.DeadLetterSuffix; got != want {
		t.Fatalf("DeadLetterIndex(probes) = %q, config validation checks %q", got, want)
	}
}
