package flagx

import (
	"flag"
	"io"
	"strings"
	"testing"
)

func TestEnvironmentDefaultsAndCommandLineWins(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	port := fs.Int("port", 5050, "port")
	wd := fs.String("work_dir", "", "dir")
	if err := Parse(fs, []string{"--port=6000"}, []string{"MESOS_PORT=7000", "MESOS_WORK_DIR=/tmp/w"}); err != nil {
		t.Fatal(err)
	}
	if *port != 6000 || *wd != "/tmp/w" {
		t.Fatalf("port=%d work_dir=%q; want 6000 and /tmp/w", *port, *wd)
	}
	fs2 := flag.NewFlagSet("x", flag.ContinueOnError)
	fs2.SetOutput(io.Discard)
	fs2.Int("port", 5050, "port")
	err := Parse(fs2, nil, []string{"MESOS_PORT=abc"})
	if err == nil || !strings.Contains(err.Error(), "MESOS_PORT") {
		t.Fatalf("bad env value: err = %v, want one naming MESOS_PORT", err)
	}
}
