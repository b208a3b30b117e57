package config

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// redacted replaces a secret wherever projector prints configuration.
const redacted = "xxxxx"

// secretDSNKeys are the connection parameters that hold secrets.
var secretDSNKeys = map[string]bool{"password": true, "sslpassword": true}

// isURLDSN reports whether a connection string is in URL form, by the same
// rule libpq and pgconn use.
func isURLDSN(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// redactDSN hides the passwords in a URL or key=value connection string.
func redactDSN(dsn string) string {
	if isURLDSN(dsn) {
		return redactURLDSN(dsn)
	}
	params, err := parseKeywordValue(dsn)
	if err != nil {
		return redacted
	}
	var b strings.Builder
	last := 0
	for _, p := range params {
		if secretDSNKeys[p.key] {
			b.WriteString(dsn[last:p.start])
			b.WriteString(redacted)
			last = p.end
		}
	}
	b.WriteString(dsn[last:])
	return b.String()
}

// redactURLDSN hides the password in the user information and in the query.
func redactURLDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return redacted
	}
	q := u.Query()
	changed := false
	for k := range q {
		if secretDSNKeys[k] {
			q.Set(k, redacted)
			changed = true
		}
	}
	_, hasPassword := u.User.Password()
	if !changed && !hasPassword {
		return dsn // as written: u.String() may escape it differently
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// dsnProblem says why pgconn cannot parse a connection string, or returns ""
// when it can. pgconn's own message quotes the connection string, so only
// its explanation is kept.
func dsnProblem(dsn string) string {
	_, err := pgconn.ParseConfig(dsn)
	if err == nil {
		return ""
	}
	var pe *pgconn.ParseConfigError
	if !errors.As(err, &pe) {
		return "it cannot be parsed"
	}
	bare := *pe
	bare.ConnString = ""
	text := strings.TrimPrefix(bare.Error(), "cannot parse ``: ")
	inner := errors.Unwrap(pe)
	if inner == nil {
		return text
	}
	text = strings.TrimSuffix(text, " ("+inner.Error()+")")
	var ue *url.Error
	switch {
	case errors.As(inner, &ue):
		text += " (" + urlErrorText(ue) + ")"
	case !strings.ContainsAny(inner.Error(), `"'`):
		// A message that quotes nothing cannot repeat part of the string.
		text += " (" + inner.Error() + ")"
	}
	return text
}

// withPassword returns dsn with its password set to password. It refuses a
// DSN that already has one, since the operator would not know which is used.
func withPassword(dsn, password string) (string, error) {
	if isURLDSN(dsn) {
		u, err := url.Parse(dsn)
		if err != nil {
			return "", errors.New("the DSN is not a valid URL")
		}
		if _, ok := u.User.Password(); ok || u.Query().Has("password") {
			return "", errors.New("the DSN already has a password")
		}
		u.User = url.UserPassword(u.User.Username(), password)
		return u.String(), nil
	}
	params, err := parseKeywordValue(dsn)
	if err != nil {
		return "", fmt.Errorf("the DSN cannot be parsed: %w", err)
	}
	for _, p := range params {
		if p.key == "password" {
			return "", errors.New("the DSN already has a password")
		}
	}
	quoted := strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(password)
	return strings.TrimSpace(dsn + " password='" + quoted + "'"), nil
}
