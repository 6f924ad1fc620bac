package rpc

import (
	"testing"

	"github.com/polyrpc/polyrpc/rpc/wire"
)

// TestCodesMatchWire: the codes codecs produce (package wire's) are the
// codes applications see (rpc.Code's).
func TestCodesMatchWire(t *testing.T) {
	for _, c := range []struct {
		rpc  Code
		wire int
	}{
		{CodeParseError, wire.CodeParseError},
		{CodeInvalidRequest, wire.CodeInvalidRequest},
		{CodeMethodNotFound, wire.CodeMethodNotFound},
		{CodeInvalidParams, wire.CodeInvalidParams},
		{CodeInternal, wire.CodeInternal},
		{CodeApplication, wire.CodeApplication},
		{CodeServerError, wire.CodeServerError},
		{CodeDeadlineExceeded, wire.CodeDeadline},
		{CodeCanceled, wire.CodeCanceled},
		{CodeUnauthenticated, wire.CodeUnauthenticated},
		{CodeLimitExceeded, wire.CodeLimitExceeded},
	} {
		if int(c.rpc) != c.wire {
			t.Errorf("%v: rpc %d, wire %d", c.rpc, c.rpc, c.wire)
		}
	}
	e := &wire.Error{Code: wire.CodeLimitExceeded, Message: "too big", Data: 7}
	if got := AsError(e); got.Code != CodeLimitExceeded || got.Message != "too big" || got.Data != 7 {
		t.Errorf("AsError(*wire.Error) = %+v", got)
	}
}
