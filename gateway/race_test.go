//go:build race

package gateway_test

// raceEnabled is whether the tests run with -race.
const raceEnabled = true
