// Command rpcd serves polyrpc methods over HTTP (and TCP) in every codec,
// and calls them as a client.
//
//	go run ./cmd/rpcd                 # serve the demo methods on 127.0.0.1:8000
//	go run ./cmd/rpcd -help           # every flag
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			if ee.msg != "" {
				fmt.Fprintln(os.Stderr, ee.msg)
			}
			os.Exit(ee.code)
		}
		msg := err.Error()
		if !strings.HasPrefix(msg, "rpcd:") {
			msg = "rpcd: " + msg
		}
		fmt.Fprintln(os.Stderr, msg)
		os.Exit(2)
	}
}

// exitError asks main for a particular exit status: 1 for a call that
// failed with a fault, 2 for usage and transport errors.
type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }
