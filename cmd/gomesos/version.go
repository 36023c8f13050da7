package main

import (
	"context"
	"fmt"
	"io"

	"github.com/gomesos/gomesos/internal/buildinfo"
)

func runVersion(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	b := buildinfo.Read()
	fmt.Fprintf(stdout, "gomesos %s (Mesos API %s)\n", b.GitSHA, b.Version)
	return 0
}
