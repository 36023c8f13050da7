// Package debugpprof serves Go's runtime profiles (net/http/pprof) under
// /debug/pprof/, for the master's and the agent's --pprof flag. It is off
// unless a server mounts its Handler: net/http/pprof's own registration on
// http.DefaultServeMux is never served by Gomesos.
package debugpprof

import (
	"net/http"
	"net/http/pprof"
	"strings"
)

// Prefix is the path every profile is served below.
const Prefix = "/debug/pprof/"

// Handler serves the profiles: the index at Prefix, the named profiles
// (heap, goroutine, allocs, block, mutex, threadcreate) below it, and
// cmdline, profile (CPU), symbol and trace.
func Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc(Prefix, pprof.Index)
	mux.HandleFunc(Prefix+"cmdline", pprof.Cmdline)
	mux.HandleFunc(Prefix+"profile", pprof.Profile)
	mux.HandleFunc(Prefix+"symbol", pprof.Symbol)
	mux.HandleFunc(Prefix+"trace", pprof.Trace)
	return mux
}

// Match says whether path is one Handler serves.
func Match(path string) bool {
	return path == strings.TrimSuffix(Prefix, "/") || strings.HasPrefix(path, Prefix)
}
