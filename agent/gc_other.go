//go:build !linux

package agent

// unmountBelow does nothing here: only Linux agents mount volumes.
func unmountBelow(string) error { return nil }
