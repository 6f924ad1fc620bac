package wire

// IsEmpty exports isEmpty to the tests.
var IsEmpty = isEmpty
