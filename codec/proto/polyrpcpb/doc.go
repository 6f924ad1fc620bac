// Package polyrpcpb holds the Go types generated from polyrpc.proto, the
// envelope of polyrpc's protobuf codec: Request, Response, Error and the
// dynamic Value. The codec does not need them, as it reads and writes the
// wire format directly; they serve programs that build or inspect those
// messages themselves, and the codec's tests, which check the codec against
// them.
package polyrpcpb
