package main

import (
	"bytes"
	"testing"
)

func TestPrintPsLinesKeepsTheContainersProcesses(t *testing.T) {
	out := `UID        PID  PPID  C STIME TTY          TIME CMD
root         1     0  0 10:00 ?        00:00:01 /sbin/init
root      4242     1  0 10:01 ?        00:00:00 sleep 1000
root      4243  4242  0 10:01 ?        00:00:00 sh -c echo PID 4243
`
	var buf bytes.Buffer
	if err := printPsLines(&buf, out, []int{4242, 4243}); err != nil {
		t.Fatal(err)
	}
	want := `UID        PID  PPID  C STIME TTY          TIME CMD
root      4242     1  0 10:01 ?        00:00:00 sleep 1000
root      4243  4242  0 10:01 ?        00:00:00 sh -c echo PID 4243
`
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

func TestPrintPsLinesNeedsAPIDColumn(t *testing.T) {
	var buf bytes.Buffer
	err := printPsLines(&buf, "COMMAND\nsleep\n", []int{1})
	if err == nil {
		t.Error("no error for ps output without a PID column")
	}
}
