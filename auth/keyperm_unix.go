//go:build unix

package auth

import (
	"fmt"
	"io/fs"
)

// checkKeyPerms refuses a regular key file that users other than its owner
// may read or write. Other files (a pipe, /dev/stdin) hold no secret at rest.
func checkKeyPerms(path string, fi fs.FileInfo) error {
	if m := fi.Mode(); m.IsRegular() && m.Perm()&0o066 != 0 {
		return fmt.Errorf("auth: key file %s has mode %04o: its group or others may read or write it; run chmod 600 %s (or allow it with WithAllowInsecureKeyPerms)",
			path, m.Perm(), path)
	}
	return nil
}
