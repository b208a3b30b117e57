package config

import (
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestDurationUnmarshal(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		err  string
	}{
		{in: "10s", want: 10 * time.Second},
		{in: "1m30s", want: 90 * time.Second},
		{in: "0", want: 0},
		{in: "-5s", want: -5 * time.Second},
		{in: "10", err: "line 1, column 1: \"10\" is not a duration; write it like 10s, 1m30s or 500ms"},
		{in: "soon", err: "line 1, column 1: \"soon\" is not a duration; write it like 10s, 1m30s or 500ms"},
		{in: "[1s]", err: "line 1, column 1: a list is not a duration; write it like 10s, 1m30s or 500ms"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var d Duration
			err := yaml.Unmarshal([]byte(tt.in), &d)
			checkUnmarshal(t, tt.in, err, tt.err, time.Duration(d) == tt.want, d)
		})
	}
}

func TestByteSizeUnmarshal(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
		err  string
	}{
		{in: "5MiB", want: 5 << 20},
		{in: "5MB", want: 5_000_000},
		{in: "5 mib", want: 5 << 20},
		{in: "1.5KiB", want: 1536},
		{in: "5242880", want: 5 << 20},
		{in: "-1", want: -1},
		{in: "5XB", err: "line 1, column 1: \"5XB\" is not a size; write it like 5MiB, 5MB or 5242880"},
		{in: "-5MB", err: "line 1, column 1: \"-5MB\" is not a size; write it like 5MiB, 5MB or 5242880"},
		{in: "100EiB", err: "line 1, column 1: \"100EiB\" is not a size; write it like 5MiB, 5MB or 5242880"},
		{in: "{a: 1}", err: "line 1, column 1: a map is not a size; write it like 5MiB, 5MB or 5242880"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var b ByteSize
			err := yaml.Unmarshal([]byte(tt.in), &b)
			checkUnmarshal(t, tt.in, err, tt.err, b == tt.want, b)
		})
	}
}

// checkUnmarshal compares a decode result with either a wanted value or the
// single decoder message wanted.
func checkUnmarshal(t *testing.T, in string, err error, wantErr string, equal bool, got any) {
	t.Helper()
	if wantErr != "" {
		te, ok := err.(*yaml.TypeError)
		if !ok || len(te.Errors) != 1 || te.Errors[0] != wantErr {
			t.Fatalf("decode %q: error %v, want %q", in, err, wantErr)
		}
		return
	}
	if err != nil || !equal {
		t.Fatalf("decode %q = %v, %v", in, got, err)
	}
}

func TestByteSizeString(t *testing.T) {
	for in, want := range map[ByteSize]string{5 << 20: "5.0 MiB", 512: "512 B", -3: "-3 B"} {
		if got := in.String(); got != want {
			t.Errorf("ByteSize(%d).String() = %q, want %q", int64(in), got, want)
		}
	}
}
