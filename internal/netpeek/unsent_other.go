//go:build unix && !linux

package netpeek

// Unsent cannot tell on this system.
func (p *Peeker) Unsent() (int, bool) { return 0, false }
