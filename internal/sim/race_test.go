//go:build race

package sim

// raceEnabled: the race detector slows the simulator several times over,
// so the longest tests run smaller sweeps under it.
const raceEnabled = true
