//go:build bench && armbench

package bench_test

import "testing"

// The acceptance run on the architectures users install: Raspberry Pi OS's
// armhf (the FailberryPi was a 32-bit Pi 2B) and arm64, each in an emulated
// ARM VM with that architecture's .deb, kernel and root file system. Not in
// make test (emulated ARM is several times slower): make test-arm.
func TestDebAcceptanceARM(t *testing.T) {
	for _, arch := range []string{"armhf", "arm64"} {
		t.Run(arch, func(t *testing.T) { debAcceptance(t, arch) })
	}
}
