package config

import (
	"fmt"
	"regexp"
	"strings"
)

// envName is what a shell accepts as a variable name.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// expand replaces ${NAME} with the variable's value and ${NAME:-default}
// with the value, or default when the variable is unset or empty. "$$" is a
// literal "$"; a "$" followed by anything else is kept as written, so
// passwords with a dollar sign need no escaping unless they contain "${" or
// "$$". Values are not expanded again.
func expand(s string, lookup func(string) (string, bool)) (string, error) {
	if !strings.Contains(s, "$") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 == len(s) || (s[i+1] != '$' && s[i+1] != '{') {
			b.WriteByte(s[i])
			continue
		}
		if s[i+1] == '$' {
			b.WriteByte('$')
			i++
			continue
		}
		end := strings.IndexByte(s[i+2:], '}')
		if end < 0 {
			return "", fmt.Errorf(`"${" is not closed; close it with "}", or write "$$" for a literal "$"`)
		}
		v, err := substitute(s[i+2:i+2+end], lookup)
		if err != nil {
			return "", err
		}
		b.WriteString(v)
		i += 2 + end
	}
	return b.String(), nil
}

// substitute resolves the inside of one ${...} reference.
func substitute(ref string, lookup func(string) (string, bool)) (string, error) {
	name, def, hasDefault := strings.Cut(ref, ":-")
	if !envName.MatchString(name) {
		return "", fmt.Errorf(`"${%s}" is not a variable reference; write ${NAME} or ${NAME:-default}, or "$$" for a literal "$"`, ref)
	}
	v, ok := lookup(name)
	switch {
	case hasDefault && v == "":
		return def, nil
	case !ok:
		return "", fmt.Errorf("environment variable %s is not set; export it, or give a default with ${%s:-value}", name, name)
	}
	return v, nil
}
