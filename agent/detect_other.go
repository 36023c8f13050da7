//go:build !linux

package agent

func memoryBytes() uint64     { return 0 }
func diskBytes(string) uint64 { return 0 }
