package auth

import "io"

// WithRand makes a handshake take its challenges from r, so that a test can
// predict them.
func WithRand(r io.Reader) Option {
	return option{"WithRand", handshake, func(c *config) error { c.rand = r; return nil }}
}

// ChallengeWait is how long a client waits for the server's challenge.
const ChallengeWait = challengeWait
