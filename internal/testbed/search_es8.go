package testbed

import (
	"os"
	"testing"
)

// EnvElasticsearch8 is the URL of an Elasticsearch 8 node, such as the one
// `deploy/local/search.sh up --engine elasticsearch` starts on
// http://127.0.0.1:9201. The default engine of the test bed is OpenSearch;
// the tests that also run on Elasticsearch 8 (`make test-es8`) read this.
const EnvElasticsearch8 = "PROJECTOR_TEST_ES8"

// NewElasticsearch8 reserves an index prefix on the Elasticsearch 8 node
// named by PROJECTOR_TEST_ES8. Without it the test is skipped with a note
// that `make test-es8` runs it: that node is started only for those tests,
// which `make test` runs with the variable set. A node that is named but
// does not answer fails the test under CI=true, like any missing service.
func NewElasticsearch8(t testing.TB) *Search {
	t.Helper()
	url := os.Getenv(EnvElasticsearch8)
	if url == "" {
		msg := "Elasticsearch 8 is not configured: " + EnvElasticsearch8 + " is unset; `make test` and `make test-es8` " +
			"start a node (deploy/local/search.sh up --engine elasticsearch) and run this test against it"
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return NewSearchAt(t, url)
}
