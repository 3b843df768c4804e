package configs

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// NamespaceType is the OCI name of a namespace kind ("pid", "mount", ...).
type NamespaceType string

// The namespace kinds of runtime-spec 1.2.0, config-linux.md "Namespaces".
const (
	NEWPID    NamespaceType = "pid"
	NEWNET    NamespaceType = "network"
	NEWNS     NamespaceType = "mount"
	NEWIPC    NamespaceType = "ipc"
	NEWUTS    NamespaceType = "uts"
	NEWUSER   NamespaceType = "user"
	NEWCGROUP NamespaceType = "cgroup"
	NEWTIME   NamespaceType = "time"
)

// nsInfo maps each kind to its clone(2) flag and its /proc/PID/ns name.
var nsInfo = map[NamespaceType]struct {
	flag uintptr
	file string
}{
	NEWUSER:   {unix.CLONE_NEWUSER, "user"},
	NEWPID:    {unix.CLONE_NEWPID, "pid"},
	NEWNET:    {unix.CLONE_NEWNET, "net"},
	NEWNS:     {unix.CLONE_NEWNS, "mnt"},
	NEWIPC:    {unix.CLONE_NEWIPC, "ipc"},
	NEWUTS:    {unix.CLONE_NEWUTS, "uts"},
	NEWCGROUP: {unix.CLONE_NEWCGROUP, "cgroup"},
	NEWTIME:   {unix.CLONE_NEWTIME, "time"},
}

// AllNamespaceTypes lists every kind towel knows, user first: joining or
// creating the user namespace first gives the rights for the others.
var AllNamespaceTypes = []NamespaceType{
	NEWUSER, NEWPID, NEWNET, NEWNS, NEWIPC, NEWUTS, NEWCGROUP, NEWTIME,
}

// Known reports whether t is a namespace kind towel supports.
func (t NamespaceType) Known() bool {
	_, ok := nsInfo[t]
	return ok
}

// CloneFlag is t's CLONE_NEW* flag.
func (t NamespaceType) CloneFlag() uintptr { return nsInfo[t].flag }

// ProcName is t's file name under /proc/PID/ns.
func (t NamespaceType) ProcName() string { return nsInfo[t].file }

// Namespace is one namespace of the container: a new one when Path is
// empty, else the one at Path is joined.
type Namespace struct {
	Type NamespaceType `json:"type"`
	Path string        `json:"path,omitempty"`
}

// Namespaces is the container's namespace list.
type Namespaces []Namespace

// Contains reports whether the list has a namespace of kind t.
func (n Namespaces) Contains(t NamespaceType) bool {
	return n.index(t) >= 0
}

// PathOf returns the path to join for kind t, "" for a new namespace or
// none.
func (n Namespaces) PathOf(t NamespaceType) string {
	if i := n.index(t); i >= 0 {
		return n[i].Path
	}
	return ""
}

func (n Namespaces) index(t NamespaceType) int {
	for i, ns := range n {
		if ns.Type == t {
			return i
		}
	}
	return -1
}

// CloneFlags is the union of the flags of the namespaces to create.
func (n Namespaces) CloneFlags() uintptr {
	var flags uintptr
	for _, ns := range n {
		if ns.Path == "" {
			flags |= ns.Type.CloneFlag()
		}
	}
	return flags
}

// Validate checks kinds and duplicates.
func (n Namespaces) Validate() error {
	seen := map[NamespaceType]bool{}
	for _, ns := range n {
		if !ns.Type.Known() {
			return fmt.Errorf("namespace type %q is not supported", ns.Type)
		}
		if seen[ns.Type] {
			return fmt.Errorf("namespace type %q is listed twice", ns.Type)
		}
		seen[ns.Type] = true
	}
	return nil
}
