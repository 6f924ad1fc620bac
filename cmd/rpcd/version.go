package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// version is what rpcd version prints: rpcd's module version ("devel" when
// built from a work tree, which has none) and the Go release, OS and
// architecture it was built with, as go version prints them.
func version(info *debug.BuildInfo, ok bool) string {
	v, goVersion := "devel", runtime.Version()
	if ok {
		if info.Main.Version != "" && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
		if info.GoVersion != "" {
			goVersion = info.GoVersion
		}
	}
	return fmt.Sprintf("rpcd %s %s %s/%s", v, goVersion, runtime.GOOS, runtime.GOARCH)
}
