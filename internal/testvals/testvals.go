// Package testvals holds values that the codecs' tests and benchmarks share.
package testvals

// Ramp returns n integers of every size and both signs, the large param of
// the benchmarks and of some golden files: i³·7919, negated for odd i.
func Ramp(n int) []int64 {
	xs := make([]int64, n)
	for i := range xs {
		xs[i] = int64(i*i*i) * 7919
		if i%2 == 1 {
			xs[i] = -xs[i]
		}
	}
	return xs
}
