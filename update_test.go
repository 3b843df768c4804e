package main

import "testing"

func TestParseBytes(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "-1", want: -1},
		{in: "0", want: 0},
		{in: "512", want: 512},
		{in: "64k", want: 64 << 10},
		{in: "64M", want: 64 << 20},
		{in: "64m", want: 64 << 20},
		{in: "64MiB", want: 64 << 20},
		{in: "64mb", want: 64 << 20},
		{in: "1.5g", want: 3 << 29},
		{in: "2 GB", want: 2 << 30},
		{in: "1T", want: 1 << 40},
		{in: "-5", bad: true},
		{in: "-1M", bad: true},
		{in: "lots", bad: true},
		{in: "12x", bad: true},
		{in: "", bad: true},
		{in: "99999999999999999999P", bad: true},
	} {
		got, err := parseBytes(tc.in)
		if tc.bad {
			if err == nil {
				t.Errorf("parseBytes(%q) = %d, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", tc.in, got, err,
				tc.want)
		}
	}
}
