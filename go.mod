module github.com/polyrpc/polyrpc

go 1.26

require (
	github.com/gorilla/rpc v1.2.0 // indirect
	github.com/kolo/xmlrpc v0.0.0-20220921171641-a4b6fa1dd06b // indirect
)
