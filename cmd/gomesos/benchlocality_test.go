package main

import (
	"regexp"
	"strings"
	"testing"
)

// `gomesos bench locality` ends with one line per setting, static first.
func TestBenchLocalityPrintsOneLinePerSetting(t *testing.T) {
	code, stdout, stderr := runCLI("bench", "locality", "--agents=16", "--frameworks=4", "--slots=2", "--jobs=1", "--tasks=12")
	last := regexp.MustCompile(`(?m)^static local=\d+% job=\d+\.\ds\nwait=0s local=\d+% job=\d+\.\ds\nwait=1s local=\d+% job=\d+\.\ds\nwait=5s local=\d+% job=\d+\.\ds\n\z`)
	if code != 0 || !last.MatchString(stdout) {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
}

// Bad flags of `gomesos bench locality` exit 2 naming them, before anything
// runs.
func TestBenchLocalityRejectsBadFlags(t *testing.T) {
	for arg, name := range map[string]string{"--waits=1s,soon": "--waits", "--agents=0": "--agents", "--waits=-1s": "--waits", "--replicas=500": "replicas", "--remote_read=-1s": "--remote_read", "--allocation_interval=0s": "--allocation_interval"} {
		code, stdout, stderr := runCLI("bench", "locality", arg)
		if code != 2 || !strings.Contains(stderr, name) || stdout != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want exit 2 naming %s", arg, code, stdout, stderr, name)
		}
	}
}
