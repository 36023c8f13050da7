// Package walls keeps DESIGN.md's walls standing: the master's and the
// agent's state machines and the allocator do no I/O, never read the clock
// and draw no unseeded randomness. A change that breaks a wall fails here,
// not in review.
package walls

import (
	"bufio"
	"bytes"
	"cmp"
	"fmt"
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

const module = "github.com/gomesos/gomesos"

// pure are the packages behind the walls.
var pure = []string{module + "/master/core", module + "/agent/core", module + "/master/allocator"}

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

// goCommand is the go tool that built this test.
func goCommand(t *testing.T) string {
	t.Helper()
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err == nil {
		return goBin
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal("no go command to list the dependencies with")
	}
	return goBin
}

// goList runs `go list -deps` on pkg.
func goList(t *testing.T, pkg string) []pkgInfo {
	t.Helper()
	cmd := exec.Command(goCommand(t), "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}} {{join .Imports \",\"}}", pkg)
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
	for _, pkg := range pure {
		t.Run(strings.TrimPrefix(pkg, module+"/"), func(t *testing.T) { checkDeps(t, pkg) })
	}
}

func checkDeps(t *testing.T, pkg string) {
	pkgs := goList(t, pkg)
	self := pkgs[len(pkgs)-1] // -deps lists the package itself last
	if self.path != pkg {
		t.Fatalf("go list ended with %s, not %s", self.path, pkg)
	}
	for _, p := range pkgs {
		if slices.Contains(neverDeps, p.path) {
			t.Errorf("%s depends on %s; find who imports it with `go list -deps -f '{{.ImportPath}}: {{.Imports}}' %s`", pkg, p.path, pkg)
		}
		if p.standard {
			continue
		}
		mine := inModule(p.path, module)
		for _, imp := range p.imports {
			switch {
			case p.path == self.path && slices.Contains(noDirectImports, imp):
				t.Errorf("%s imports %s", pkg, imp)
			case mine && slices.Contains(noDirectImports, imp):
				t.Errorf("%s imports %s, and %s depends on it", p.path, imp, pkg)
			case !mine && slices.Contains(noDirectImports, imp) && !slices.ContainsFunc(mayImportOS, func(m string) bool { return inModule(p.path, m) }):
				t.Errorf("dependency %s imports %s; if that is harmless, add its module to mayImportOS", p.path, imp)
			}
		}
	}
}

// TestNoClock reads each pure package's own (non-test) files for calls
// that read the clock, wait on it, or draw unseeded randomness.
func TestNoClock(t *testing.T) {
	for _, pkg := range pure {
		t.Run(strings.TrimPrefix(pkg, module+"/"), func(t *testing.T) {
			out, err := exec.Command(goCommand(t), "list", "-f", "{{.Dir}} {{join .GoFiles \" \"}}", pkg).Output()
			if err != nil {
				t.Fatalf("go list %s: %v", pkg, err)
			}
			fields := strings.Fields(string(out))
			var files []string
			for _, name := range fields[1:] {
				files = append(files, filepath.Join(fields[0], name))
			}
			for _, problem := range clockProblems(t, files) {
				t.Error(problem)
			}
		})
	}
}

// clockProblems lists the clock reads and unseeded random draws in files.
func clockProblems(t *testing.T, files []string) []string {
	var problems []string
	fset := token.NewFileSet()
	scanned := 0
	for _, name := range files {
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
				problems = append(problems, fmt.Sprintf("%s dot-imports %s: its calls cannot be checked", fset.Position(imp.Pos()), path))
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
				problems = append(problems, fmt.Sprintf("%s: time.%s: a pure package gets the time with its inputs", fset.Position(sel.Pos()), sel.Sel.Name))
			case randName != "" && x.Name == randName && !slices.Contains(randFuncs, sel.Sel.Name):
				problems = append(problems, fmt.Sprintf("%s: rand.%s draws from an unseeded source; use a generator seeded from the inputs", fset.Position(sel.Pos()), sel.Sel.Name))
			}
			return true
		})
	}
	if scanned == 0 {
		t.Fatal("no source files found")
	}
	return problems
}

// TestChecksCatchAViolation makes sure the checks can fail: a file that
// reads the clock and draws unseeded randomness is caught.
func TestChecksCatchAViolation(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.go")
	src := "package bad\n\nimport (\n\t\"math/rand/v2\"\n\t\"time\"\n)\n\nfunc f() (time.Time, int) { return time.Now(), rand.IntN(3) }\n"
	if err := os.WriteFile(bad, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := clockProblems(t, []string{bad}); len(got) != 2 {
		t.Errorf("clockProblems found %q in a file that calls time.Now and rand.IntN, want both", got)
	}
}
