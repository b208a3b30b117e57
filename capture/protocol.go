package capture

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/projector-dev/projector/capture/pgoutput"
)

// protocol is the pgoutput protocol version and options a stream is
// started with; pgoutput.ForServer explains the choice per server version.
type protocol struct {
	pgoutput.Protocol
}

// protocolFor picks the highest pgoutput protocol the server speaks that
// projector decodes.
func protocolFor(ctx context.Context, conn *pgx.Conn) (protocol, error) {
	num, err := serverVersionNum(ctx, conn)
	if err != nil {
		return protocol{}, err
	}
	return protocolForVersion(num)
}

// protocolForVersion is protocolFor for server_version_num num. A server
// too old is an error no retry fixes.
func protocolForVersion(num int) (protocol, error) {
	p, err := pgoutput.ForServer(num)
	if err != nil {
		return protocol{}, permanent(err)
	}
	return protocol{p}, nil
}

// streamProtocol is the protocol s streams with: the one protocolFor
// picks, unless the stream was pinned to a version the server offers.
func (s *Stream) streamProtocol(ctx context.Context, conn *pgx.Conn) (protocol, error) {
	if s.protoVersion == 0 {
		return protocolFor(ctx, conn)
	}
	num, err := serverVersionNum(ctx, conn)
	if err != nil {
		return protocol{}, err
	}
	p, err := pgoutput.ForVersion(num, s.protoVersion)
	if err != nil {
		return protocol{}, permanent(err)
	}
	return protocol{p}, nil
}

func serverVersionNum(ctx context.Context, conn *pgx.Conn) (int, error) {
	var num int
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&num); err != nil {
		return 0, fmt.Errorf("read server version: %w", err)
	}
	return num, nil
}

// newDecoder returns a Decoder for a stream started with p's plugin
// arguments.
func (p protocol) newDecoder(source string, types TypeResolver) *Decoder {
	return newDecoder(source, p.Protocol, types)
}

// pluginArgs are the pgoutput options that start a stream of publication
// with protocol p.
func (p protocol) pluginArgs(publication string) []string {
	args := []string{
		fmt.Sprintf("proto_version '%d'", p.Version),
		"publication_names " + quoteLiteral(publication),
	}
	switch {
	case p.Parallel:
		args = append(args, "streaming 'parallel'")
	case p.Streaming:
		args = append(args, "streaming 'on'")
	}
	if p.Messages {
		args = append(args, "messages 'true'")
	}
	return args
}

func quoteLiteral(s string) string {
	out := []byte{'\''}
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' {
			out = append(out, '\'')
		}
		out = append(out, s[i])
	}
	return string(append(out, '\''))
}
