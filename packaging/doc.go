// Package packaging holds no Go code of its own: it is the home of the
// failberry .deb packages (nfpm.yaml, maintainer scripts, udev rule, man page,
// copyright, lintian overrides, build.sh and deps.sh; see README.md) and of the
// tests that build a package and inspect it with dpkg-deb, lintian and
// qemu-user, so `go test ./...` (make unit) checks the packaging too.
package packaging
