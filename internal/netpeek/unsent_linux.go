package netpeek

import (
	"syscall"
	"unsafe"
)

// Unsent returns the bytes written to the connection that its peer has not
// yet acknowledged, as the kernel counts them (SIOCOUTQ), and whether it
// could tell.
func (p *Peeker) Unsent() (int, bool) {
	if p == nil {
		return 0, false
	}
	var v int32
	var errno syscall.Errno
	err := p.rc.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall(syscall.SYS_IOCTL, fd, syscall.TIOCOUTQ, uintptr(unsafe.Pointer(&v)))
	})
	if err != nil || errno != 0 {
		return 0, false
	}
	return int(v), true
}
