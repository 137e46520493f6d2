//go:build race

package e2e

// raceEnabled is whether the tests run with -race; the sluice binary they
// build then has the race detector too.
const raceEnabled = true
