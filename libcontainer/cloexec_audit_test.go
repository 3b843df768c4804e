package libcontainer

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// fdMakers are the calls of golang.org/x/sys/unix and syscall that make a
// file descriptor, with the index of the argument that must ask for
// close-on-exec. An fd without it is inherited by every process the
// runtime forks and execs: init, hooks, and through init the container
// (CVE-2024-21626 leaked a host directory this way). -1 marks calls that
// have no such flag and must not be used.
var fdMakers = map[string]int{
	"Open": 1, "Openat": 2, "Openat2": 2, "OpenTree": 2,
	"Socket": 1, "Socketpair": 1, "Accept4": 1,
	"Pipe2": 1, "MemfdCreate": 1, "Fsopen": 1, "Fsmount": 1, "Fspick": 2,
	"EpollCreate1": 0, "InotifyInit1": 0, "Eventfd": 1, "Signalfd": 2,
	"TimerfdCreate": 1, "Dup3": 2,
	"Pipe": -1, "Dup": -1, "Dup2": -1, "EpollCreate": -1,
	"InotifyInit": -1, "Accept": -1,
}

// TestEveryFdTowelOpensIsCloseOnExec reads towel's Go and C sources and
// checks that every call making an fd asks for close-on-exec. A dup onto
// stdio is the one exception: those fds are meant to be inherited.
func TestEveryFdTowelOpensIsCloseOnExec(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Skip("not run from the source tree")
	}
	checked := 0
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry,
		err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if name == "vendor" || name == "testdata" ||
				strings.HasPrefix(name, ".") && path != root {
				return filepath.SkipDir
			}
			return nil
		}
		rel, _ := filepath.Rel(root, path)
		switch {
		case strings.HasSuffix(name, "_test.go"):
		case strings.HasSuffix(name, ".go"):
			checked += auditGo(t, path, rel)
		case strings.HasSuffix(name, ".c"):
			checked += auditC(t, path, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 20 {
		t.Errorf("only %d fd-making calls found: the audit is not looking "+
			"where the code is", checked)
	}
}

// auditGo checks the fd-making calls of one Go file and returns how many
// it saw.
func auditGo(t *testing.T, path, rel string) int {
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, path, nil, 0)
	if err != nil {
		t.Errorf("parse %s: %v", rel, err)
		return 0
	}
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	var funcs []ast.Node
	ast.Inspect(file, func(node ast.Node) bool {
		switch node.(type) {
		case *ast.FuncDecl, *ast.FuncLit:
			funcs = append(funcs, node)
		}
		call, ok := node.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		pkg, ok := sel.X.(*ast.Ident)
		if !ok || pkg.Name != "unix" && pkg.Name != "syscall" {
			return true
		}
		idx, ok := fdMakers[sel.Sel.Name]
		if !ok {
			return true
		}
		n++
		pos := fset.Position(call.Pos())
		where := rel + ":" + strconv.Itoa(pos.Line)
		if idx < 0 {
			t.Errorf("%s: %s.%s cannot ask for close-on-exec", where,
				pkg.Name, sel.Sel.Name)
			return true
		}
		if idx < len(call.Args) && mentionsCloexec(call.Args[idx]) {
			return true
		}
		// The flags may be built in a variable: then the function
		// that makes the call must name a CLOEXEC flag.
		body := enclosing(funcs, call.Pos())
		text := ""
		if body != nil {
			from := fset.Position(body.Pos()).Offset
			text = string(src[from:fset.Position(body.End()).Offset])
		}
		if sel.Sel.Name == "Dup3" && (strings.Contains(text, "stdio") ||
			strings.Contains(text, "< 3")) {
			return true
		}
		if !strings.Contains(text, "CLOEXEC") {
			t.Errorf("%s: %s.%s without close-on-exec", where, pkg.Name,
				sel.Sel.Name)
		}
		return true
	})
	return n
}

// mentionsCloexec reports whether expr names a *CLOEXEC constant.
func mentionsCloexec(expr ast.Expr) bool {
	found := false
	ast.Inspect(expr, func(node ast.Node) bool {
		id, ok := node.(*ast.Ident)
		if ok && strings.HasSuffix(id.Name, "CLOEXEC") {
			found = true
		}
		return !found
	})
	return found
}

// enclosing returns the innermost function among funcs that contains pos.
func enclosing(funcs []ast.Node, pos token.Pos) ast.Node {
	var best ast.Node
	for _, f := range funcs {
		if f.Pos() <= pos && pos < f.End() &&
			(best == nil || f.Pos() > best.Pos()) {
			best = f
		}
	}
	return best
}

var cOpen = regexp.MustCompile(`\b(open|openat|socket|socketpair|pipe2?|` +
	`dup2?|memfd_create)\s*\(([^;]*)\)`)

// auditC checks the C stage's calls that make an fd.
func auditC(t *testing.T, path, rel string) int {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for i, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "*") || strings.HasPrefix(trimmed, "/*") {
			continue
		}
		m := cOpen.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		n++
		if !strings.Contains(m[2], "CLOEXEC") {
			t.Errorf("%s:%d: %s without close-on-exec", rel, i+1, m[1])
		}
	}
	return n
}
