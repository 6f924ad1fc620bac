package auth

import "io"

// WithRand makes a handshake take its challenges from r, so that a test can
// predict them.
func WithRand(r io.Reader) Option {
	return option{"WithRand", handshake, func(c *config) error { c.rand = r; return nil }}
}

// ChallengeWait is how long a client waits for the server's challenge.
const ChallengeWait = challengeWait

// LogEvery is the shortest time between two log lines about one source of
// authentication failures.
const LogEvery = logEvery

// UsedNonces is the number of nonces h remembers as used: all the state it
// keeps per nonce.
func (h *HTTPHandler) UsedNonces() int { return h.nonces.used.len() }
