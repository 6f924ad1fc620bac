package main

// The polyrpc codecs under test. Each registers itself with rpc.LookupCodec
// by name; a system whose codec is not imported here shows as unavailable.
import (
	_ "github.com/polyrpc/polyrpc/codec/json"
	_ "github.com/polyrpc/polyrpc/codec/msgpack"
	_ "github.com/polyrpc/polyrpc/codec/proto"
	_ "github.com/polyrpc/polyrpc/codec/xml"
)
