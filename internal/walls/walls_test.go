// Package walls holds the checks that keep DESIGN.md's walls standing: the
// state machines and the allocator do no I/O and never read the clock.
package walls

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// pure are the packages that must stay free of I/O and of the clock.
var pure = []string{
	"github.com/gomesos/gomesos/master/core",
	"github.com/gomesos/gomesos/master/allocator",
}

// forbiddenDeps may not appear anywhere below a pure package; forbiddenImports
// may not be imported by it directly (fmt and protobuf reach os themselves,
// so os can only be checked as a direct import).
var (
	forbiddenDeps    = []string{"net", "net/http", "os/exec"}
	forbiddenImports = []string{"net", "net/http", "os", "os/exec", "io/fs", "syscall"}
	clockCall        = regexp.MustCompile(`\btime\.(Now|Since|Until|Sleep|After|AfterFunc|Tick|NewTimer|NewTicker)\(`)
)

func goList(t *testing.T, args ...string) []string {
	t.Helper()
	goBin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goBin); err != nil {
		goBin = "go"
	}
	out, err := exec.Command(goBin, append([]string{"list"}, args...)...).Output()
	if err != nil {
		t.Fatalf("go list %v: %v", args, err)
	}
	return strings.Fields(string(out))
}

func TestPurePackagesDoNoIO(t *testing.T) {
	for _, pkg := range pure {
		t.Run(filepath.Base(pkg), func(t *testing.T) {
			deps := goList(t, "-deps", pkg)
			for _, bad := range forbiddenDeps {
				if slices.Contains(deps, bad) {
					t.Errorf("%s depends on %s", pkg, bad)
				}
			}
			imports := goList(t, "-f", `{{join .Imports " "}}`, pkg)
			for _, bad := range forbiddenImports {
				if slices.Contains(imports, bad) {
					t.Errorf("%s imports %s", pkg, bad)
				}
			}
		})
	}
}

func TestPurePackagesReadNoClock(t *testing.T) {
	for _, pkg := range pure {
		t.Run(filepath.Base(pkg), func(t *testing.T) {
			fields := goList(t, "-f", `{{.Dir}} {{join .GoFiles " "}}`, pkg)
			dir, files := fields[0], fields[1:]
			if len(files) == 0 {
				t.Fatalf("%s has no Go files", pkg)
			}
			for _, name := range files {
				f, err := os.Open(filepath.Join(dir, name))
				if err != nil {
					t.Fatal(err)
				}
				sc := bufio.NewScanner(f)
				for n := 1; sc.Scan(); n++ {
					if clockCall.MatchString(sc.Text()) {
						t.Errorf("%s:%d reads the clock: %s", name, n, strings.TrimSpace(sc.Text()))
					}
				}
				f.Close()
			}
		})
	}
}

// TestChecksCatchAViolation makes sure the checks can fail: a package that
// imports net/http and reads the clock is caught by both.
func TestChecksCatchAViolation(t *testing.T) {
	deps := goList(t, "-deps", "net/http")
	if !slices.Contains(deps, "net") {
		t.Fatal("go list -deps net/http does not list net: the deps check would be blind")
	}
	if !clockCall.MatchString("\tstart := time.Now()") || clockCall.MatchString("\tnow := in.Time") {
		t.Fatal("the clock pattern does not tell a clock read from a value")
	}
}
