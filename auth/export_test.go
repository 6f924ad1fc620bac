package auth

import "io"

// WithRand makes a handshake take its challenges from r, so that a test can
// predict them.
func WithRand(r io.Reader) Option {
	return handshakeOption(func(c *handshakeConfig) { c.rand = r })
}
