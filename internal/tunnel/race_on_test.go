//go:build race

package tunnel

// raceOn: the race detector inflates stacks and heap, so memory bounds are
// not checked under it.
const raceOn = true
