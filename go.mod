module github.com/polyrpc/polyrpc

go 1.26
