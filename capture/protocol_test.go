package capture

import (
	"slices"
	"testing"

	"github.com/projector-dev/projector/capture/pgoutput"
)

// The protocol follows the server version: each step is what that version
// adds and projector decodes.
func TestProtocolForVersion(t *testing.T) {
	for _, tc := range []struct {
		num  int
		want pgoutput.Protocol
		args []string
	}{
		{130023, pgoutput.Protocol{Version: 1}, []string{"proto_version '1'", "publication_names 'pub'"}},
		{140025, pgoutput.Protocol{Version: 2, Streaming: true, Messages: true},
			[]string{"proto_version '2'", "publication_names 'pub'", "streaming 'on'", "messages 'true'"}},
		{150020, pgoutput.Protocol{Version: 2, Streaming: true, Messages: true},
			[]string{"proto_version '2'", "publication_names 'pub'", "streaming 'on'", "messages 'true'"}},
		{160016, pgoutput.Protocol{Version: 4, Streaming: true, Parallel: true, Messages: true},
			[]string{"proto_version '4'", "publication_names 'pub'", "streaming 'parallel'", "messages 'true'"}},
		{180007, pgoutput.Protocol{Version: 4, Streaming: true, Parallel: true, Messages: true},
			[]string{"proto_version '4'", "publication_names 'pub'", "streaming 'parallel'", "messages 'true'"}},
	} {
		got, err := protocolForVersion(tc.num)
		if err != nil {
			t.Fatalf("%d: %v", tc.num, err)
		}
		if got.Protocol != tc.want {
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

// Each version a test pins is started with that version's options, and a
// publication name is quoted as a literal.
func TestPluginArgsPerVersion(t *testing.T) {
	for _, tc := range []struct {
		num, version int
		args         []string
	}{
		{150020, 1, []string{"proto_version '1'", "publication_names 'it''s'", "messages 'true'"}},
		{150020, 3, []string{"proto_version '3'", "publication_names 'it''s'", "streaming 'on'", "messages 'true'"}},
		{160016, 2, []string{"proto_version '2'", "publication_names 'it''s'", "streaming 'on'", "messages 'true'"}},
		{130023, 1, []string{"proto_version '1'", "publication_names 'it''s'"}},
	} {
		p, err := pgoutput.ForVersion(tc.num, tc.version)
		if err != nil {
			t.Fatalf("%d version %d: %v", tc.num, tc.version, err)
		}
		if args := (protocol{p}).pluginArgs("it's"); !slices.Equal(args, tc.args) {
			t.Errorf("%d version %d: plugin args %q, want %q", tc.num, tc.version, args, tc.args)
		}
	}
}
