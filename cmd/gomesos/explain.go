package main

import (
	"context"
	"io"

	"github.com/gomesos/gomesos/internal/cli"
)

// runExplain runs "explain FRAMEWORK_ID": why the framework is not getting
// offers, from the master's /master/explain.
func runExplain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	o := newOpCommand("explain", "FRAMEWORK_ID", stderr)
	pos, code, ok := o.parse(args, 1, 1, "FRAMEWORK_ID")
	if !ok {
		return code
	}
	c, code, ok := o.client()
	if !ok {
		return code
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	return o.done(cli.Explain(ctx, c, pos[0], stdout))
}
