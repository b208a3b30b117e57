package capture

import (
	"slices"
	"testing"
)

// The protocol follows the server version: each step is what that version
// adds and projector decodes.
func TestProtocolForVersion(t *testing.T) {
	for _, tc := range []struct {
		num  int
		want protocol
		args []string
	}{
		{130023, protocol{version: 1}, []string{"proto_version '1'", "publication_names 'pub'"}},
		{140025, protocol{version: 2, streaming: true, messages: true},
			[]string{"proto_version '2'", "publication_names 'pub'", "streaming 'on'", "messages 'true'"}},
		{150020, protocol{version: 2, streaming: true, messages: true},
			[]string{"proto_version '2'", "publication_names 'pub'", "streaming 'on'", "messages 'true'"}},
		{160016, protocol{version: 4, streaming: true, parallel: true, messages: true},
			[]string{"proto_version '4'", "publication_names 'pub'", "streaming 'parallel'", "messages 'true'"}},
		{180007, protocol{version: 4, streaming: true, parallel: true, messages: true},
			[]string{"proto_version '4'", "publication_names 'pub'", "streaming 'parallel'", "messages 'true'"}},
	} {
		got, err := protocolForVersion(tc.num)
		if err != nil {
			t.Fatalf("%d: %v", tc.num, err)
		}
		if got != tc.want {
			t.Errorf("%d: got %+v, want %+v", tc.num, got, tc.want)
		}
		if args := got.pluginArgs("pub"); !slices.Equal(args, tc.args) {
			t.Errorf("%d: plugin args %q, want %q", tc.num, args, tc.args)
		}
	}
	if _, err := protocolForVersion(120017); err == nil || (Classify(err) != Permanent) {
		t.Errorf("PostgreSQL 12: got %v, want a permanent error", err)
	}
}
