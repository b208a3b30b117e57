package config

import (
	"errors"
	"fmt"
	"net/url"
	"os"
)

func (v *validator) sink() {
	s := v.c.Sink
	if len(s.URLs) == 0 {
		v.add("sink.urls", `no search engine address is given; list at least one, e.g. ["http://127.0.0.1:9200"]`)
	}
	for i, raw := range s.URLs {
		if problem := urlProblem(raw); problem != "" {
			v.add(fmt.Sprintf("sink.urls[%d]", i), "%s; write it like http://127.0.0.1:9200 or https://search.example.com:9200", problem)
		}
	}
	v.sinkAuth(s)
	if s.CACertFile != "" {
		if _, err := os.Stat(s.CACertFile); err != nil {
			v.add("sink.ca_cert_file", "%v; point it at a readable PEM file", err)
		}
	}
	v.positive("sink.timeout", s.Timeout, "30s")
	v.positive("sink.flush_interval", s.FlushInterval, "100ms")
	if s.BulkActions < 1 {
		v.add("sink.bulk_actions", "must be at least 1, got %d; e.g. 1000", s.BulkActions)
	}
	if s.BulkBytes < 1 {
		v.add("sink.bulk_bytes", "must be greater than 0, got %d; e.g. 5MiB", int64(s.BulkBytes))
	}
	if s.Concurrency < 1 {
		v.add("sink.concurrency", "must be at least 1, got %d; e.g. 2", s.Concurrency)
	}
}

// urlProblem says what is wrong with a search engine address, never
// repeating a password written in it.
func urlProblem(raw string) string {
	u, err := url.Parse(raw)
	var ue *url.Error
	switch {
	case errors.As(err, &ue):
		return "is not a valid URL (" + urlErrorText(ue) + ")"
	case err != nil:
		return "is not a valid URL"
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Sprintf("%q is not an http:// or https:// URL", u.Redacted())
	case u.Host == "":
		return fmt.Sprintf("%q has no host", u.Redacted())
	}
	return ""
}

func (v *validator) sinkAuth(s Sink) {
	passwordKey := "sink.password"
	if s.PasswordFile != "" {
		passwordKey = "sink.password_file"
	}
	switch {
	case s.Password != "" && s.Username == "":
		v.add(passwordKey, "is set but sink.username is not; set username too, or use api_key")
	case s.Username != "" && s.Password == "":
		v.add("sink.username", "is set without a password; set password or password_file too")
	}
	if s.APIKey != "" && s.Username != "" {
		v.add("sink.api_key", "is set together with sink.username; authenticate with one of them")
	}
}

// urlErrorText explains a URL parse error without the URL, which may hold a
// password, and without the text of a bad %-escape, which may be part of it.
func urlErrorText(ue *url.Error) string {
	var esc url.EscapeError
	if errors.As(ue.Err, &esc) {
		return "it contains an invalid %-escape"
	}
	return ue.Err.Error()
}
