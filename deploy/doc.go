// Package deploy holds no code: its tests run rpcd as users deploy it,
// several replicas behind real proxies (HAProxy, nginx) and with client-side
// balancing, starting those programs on loopback with temporary
// directories and free ports. A test skips, saying so, when a program it
// needs is not installed (.ci/run installs them from Debian).
package deploy
