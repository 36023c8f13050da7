// Package cputime owns the one measure of the CPU time this process has
// used (user and system), which benchmarks report beside wall times.
package cputime
