package config

import (
	"errors"
	"strings"
)

// keywordParam is one key=value pair of a connection string, with the byte
// span of its value as written (quotes included).
type keywordParam struct {
	key        string
	start, end int
}

// parseKeywordValue splits a libpq key=value connection string the way
// libpq does: values are bare words or single-quoted with backslash escapes.
// It only locates values; pgconn decides whether the string is valid.
func parseKeywordValue(s string) ([]keywordParam, error) {
	var params []keywordParam
	i := skipSpace(s, 0)
	for i < len(s) {
		eq := strings.IndexByte(s[i:], '=')
		if eq < 0 {
			return nil, errors.New(`a parameter has no "="`)
		}
		key := strings.TrimSpace(s[i : i+eq])
		if key == "" || strings.ContainsAny(key, " \t\r\n'") {
			return nil, errors.New("a parameter has no valid name")
		}
		start := skipSpace(s, i+eq+1)
		end, err := valueEnd(s, start)
		if err != nil {
			return nil, err
		}
		params = append(params, keywordParam{key: key, start: start, end: end})
		i = skipSpace(s, end)
	}
	return params, nil
}

// valueEnd returns the index just past the value starting at i.
func valueEnd(s string, i int) (int, error) {
	if i < len(s) && s[i] == '\'' {
		for j := i + 1; j < len(s); j++ {
			switch s[j] {
			case '\\':
				j++
			case '\'':
				return j + 1, nil
			}
		}
		return 0, errors.New("a quoted value is not closed")
	}
	j := i
	for j < len(s) && !isSpace(s[j]) {
		if s[j] == '\\' {
			j++
		}
		j++
	}
	return min(j, len(s)), nil
}

func skipSpace(s string, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}
