//go:build runc_nodmz

package dmz

import (
	"errors"
	"testing"
)

// Run with `go test -tags runc_nodmz`.
func TestNodmzTagLeavesTheStubOut(t *testing.T) {
	if HasStub() {
		t.Error("the runc_nodmz build has a stub")
	}
	if _, err := NewStub(); !errors.Is(err, ErrNoStub) {
		t.Errorf("NewStub = %v, want ErrNoStub", err)
	}
}
