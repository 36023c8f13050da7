package core_test

import (
	"bufio"
	"bytes"
	"cmp"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The core does no I/O and never reads the clock (DESIGN.md, "A core
// package imports nothing that does I/O"). These tests keep that wall: a
// change that breaks it fails here, not in review.

const module = "github.com/gomesos/gomesos"

// neverDeps may not be anywhere in the core's dependency graph.
var neverDeps = []string{"net", "net/http", "os/exec"}

// noDirectImports may not be imported by the core, nor by any package of
// this module that the core depends on. The standard library cannot do
// without them underneath (fmt and time import os and syscall), so they are
// in the graph; what matters is that no code of ours reaches for them.
// Randomness comes in as a seed, so crypto/rand and the self-seeding
// math/rand are out too.
var noDirectImports = []string{"net", "net/http", "os", "os/exec", "io/fs", "syscall", "crypto/rand", "math/rand"}

// mayImportOS lists the module paths outside the standard library whose
// packages may import os, io/fs or syscall: protobuf reads its environment
// at start-up. A new dependency that does I/O has to be argued for here.
var mayImportOS = []string{"google.golang.org/protobuf"}

// clockCalls are the time functions that read or wait on the wall clock.
var clockCalls = []string{"Now", "Since", "Until", "Sleep", "After", "AfterFunc", "Tick", "NewTimer", "NewTicker"}

// randFuncs are the math/rand/v2 names the core may use: building a seeded
// generator. The package-level functions draw from a randomly seeded
// source and would make the core's outputs irreproducible.
var randFuncs = []string{"New", "NewPCG", "NewChaCha8", "Rand", "PCG", "ChaCha8", "Source"}

type pkgInfo struct {
	path     string
	standard bool
	imports  []string
}

// goList runs `go list -deps` on this package.
func goList(t *testing.T) []pkgInfo {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(goBin); err != nil {
			t.Skip("no go command to list the dependencies with")
		}
	}
	cmd := exec.Command(goBin, "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}} {{join .Imports \",\"}}", ".")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.Bytes())
	}
	var pkgs []pkgInfo
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 {
			continue
		}
		p := pkgInfo{path: f[0], standard: f[1] == "true"}
		if len(f) > 2 {
			p.imports = strings.Split(f[2], ",")
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatal("go list listed nothing")
	}
	return pkgs
}

func inModule(path, mod string) bool {
	return path == mod || strings.HasPrefix(path, mod+"/")
}

func TestNoIODependencies(t *testing.T) {
	pkgs := goList(t)
	self := pkgs[len(pkgs)-1] // -deps lists the package itself last
	if self.path != module+"/agent/core" {
		t.Fatalf("go list ended with %s, not the core", self.path)
	}
	for _, p := range pkgs {
		if slices.Contains(neverDeps, p.path) {
			t.Errorf("the core depends on %s; find who imports it with `go list -deps -f '{{.ImportPath}}: {{.Imports}}' ./agent/core`", p.path)
		}
		if p.standard {
			continue
		}
		mine := inModule(p.path, module)
		for _, imp := range p.imports {
			switch {
			case p.path == self.path && slices.Contains(noDirectImports, imp):
				t.Errorf("the core imports %s", imp)
			case mine && slices.Contains(noDirectImports, imp):
				t.Errorf("%s imports %s, and the core depends on it", p.path, imp)
			case !mine && slices.Contains(noDirectImports, imp) && !slices.ContainsFunc(mayImportOS, func(m string) bool { return inModule(p.path, m) }):
				t.Errorf("dependency %s imports %s; if that is harmless, add its module to mayImportOS", p.path, imp)
			}
		}
	}
}

// TestNoClock reads the core's own (non-test) files for calls that read
// the clock, wait on it, or draw unseeded randomness.
func TestNoClock(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	scanned := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		scanned++
		timeName, randName := "", ""
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			local := ""
			if imp.Name != nil {
				local = imp.Name.Name
			}
			switch path {
			case "time":
				timeName = cmp.Or(local, "time")
			case "math/rand/v2":
				randName = cmp.Or(local, "rand")
			default:
				continue
			}
			if local == "." {
				t.Errorf("%s dot-imports %s: its calls cannot be checked", fset.Position(imp.Pos()), path)
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			x, ok := sel.X.(*ast.Ident)
			if !ok {
				return true
			}
			switch {
			case timeName != "" && x.Name == timeName && slices.Contains(clockCalls, sel.Sel.Name):
				t.Errorf("%s: time.%s: the core gets the time with its inputs", fset.Position(sel.Pos()), sel.Sel.Name)
			case randName != "" && x.Name == randName && !slices.Contains(randFuncs, sel.Sel.Name):
				t.Errorf("%s: rand.%s draws from an unseeded source; use the core's own generator", fset.Position(sel.Pos()), sel.Sel.Name)
			}
			return true
		})
	}
	if scanned == 0 {
		t.Fatal("no source files found")
	}
}
