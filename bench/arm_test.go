//go:build bench && armbench

package bench_test

import (
	"os"
	"strings"
	"testing"
)

// The acceptance run on the architectures users install: Raspberry Pi OS's
// armhf (the FailberryPi was a 32-bit Pi 2B) and arm64, each in an emulated
// ARM VM with that architecture's .deb, kernel and root file system.
// FAILBERRY_BENCH_ARCHS picks some of them (make test runs armhf, make
// test-arm both): emulated ARM is several times slower than the amd64 VM.
func TestDebAcceptanceARM(t *testing.T) {
	archs := strings.Fields(os.Getenv("FAILBERRY_BENCH_ARCHS"))
	if len(archs) == 0 {
		archs = []string{"armhf", "arm64"}
	}
	for _, arch := range archs {
		if arch != "armhf" && arch != "arm64" {
			t.Fatalf("FAILBERRY_BENCH_ARCHS: %q is not an ARM architecture of the bench (armhf, arm64)", arch)
		}
		t.Run(arch, func(t *testing.T) { debAcceptance(t, arch) })
	}
}
