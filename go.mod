module github.com/polyrpc/polyrpc

go 1.26

require (
	github.com/coder/websocket v1.8.15
	github.com/gorilla/rpc v1.2.0
	github.com/kolo/xmlrpc v0.0.0-20220921171641-a4b6fa1dd06b
	github.com/vmihailenco/msgpack/v5 v5.4.1
	google.golang.org/protobuf v1.36.12
)

require github.com/vmihailenco/tagparser/v2 v2.0.0 // indirect
