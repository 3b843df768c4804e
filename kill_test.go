package main

import (
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseSignal(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want unix.Signal
		ok   bool
	}{
		{"KILL", unix.SIGKILL, true}, {"SIGKILL", unix.SIGKILL, true},
		{"kill", unix.SIGKILL, true}, {"9", unix.SIGKILL, true},
		{"SIGRTMIN+1", 0, false}, {"USR1", unix.SIGUSR1, true},
		{"NOPE", 0, false}, {"0", 0, false}, {"-1", 0, false},
		{"65", 0, false},
	} {
		got, err := parseSignal(tc.in)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("parseSignal(%q) = %v, %v", tc.in, got, err)
		}
	}
}
