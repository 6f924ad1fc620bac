// Package benchpb holds the gRPC messages and service of the side-by-side
// benchmark, generated from bench.proto by protoc-gen-go and
// protoc-gen-go-grpc. Regenerate from the bench directory with go generate.
package benchpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative bench.proto
