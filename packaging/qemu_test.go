package packaging

import (
	"context"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/failberry/failberry/internal/testenv"
)

// runBin runs a built failberry (under qemu when emulator is set) with a
// bound, so a binary that hangs under emulation fails the test instead of
// stalling it.
func runBin(t *testing.T, emulator, bin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	name := bin
	if emulator != "" {
		name, args = emulator, append([]string{bin}, args...)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	// qemu looks up the ELF interpreter and libraries under this prefix. "/"
	// means the multiarch libc6:armhf/arm64 that libusb-1.0-0-dev:ARCH pulls
	// in; /usr/<triplet> (libc6-*-cross) holds a different glibc build than
	// the multiarch libusb's libc, and that mix crashes or hangs.
	cmd.Env = append(os.Environ(), "QEMU_LD_PREFIX=/")
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", name, args, err, out)
	}
	return string(out)
}

func buildBin(t *testing.T, arch, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "failberry-"+arch)
	if out, err := buildCmd("bin", arch, bin).CombinedOutput(); err != nil {
		t.Fatalf("build.sh bin %s: %v\n%s", arch, err, out)
	}
	return bin
}

// TestARMBinariesUnderQEMU cross-builds the armhf and arm64 binaries the
// packages ship and runs them under qemu user emulation: `version` must print
// the package version and `check` on the sample conffile must print exactly
// what the native amd64 build prints.
func TestARMBinariesUnderQEMU(t *testing.T) {
	testenv.RequireTools(t, "x86_64-linux-gnu-gcc", "arm-linux-gnueabihf-gcc", "aarch64-linux-gnu-gcc",
		"qemu-arm-static", "qemu-aarch64-static")
	dir := t.TempDir()
	version, err := testVersion()
	if err != nil {
		t.Fatalf("build.sh version: %v", err)
	}
	native := buildBin(t, "amd64", dir)
	wantCheck := runBin(t, "", native, "check", "--config", "failberry.yaml")
	wantVersion := runBin(t, "", native, "version")
	if wantVersion != "failberry "+version+"\n" {
		t.Errorf("native version = %q, want %q", wantVersion, "failberry "+version+"\n")
	}
	for _, tc := range []struct {
		arch, emulator string
		machine        elf.Machine
	}{
		{"armhf", "qemu-arm-static", elf.EM_ARM},
		{"arm64", "qemu-aarch64-static", elf.EM_AARCH64},
	} {
		t.Run(tc.arch, func(t *testing.T) {
			bin := buildBin(t, tc.arch, dir)
			checkELF(t, bin, tc.machine)
			if got := runBin(t, tc.emulator, bin, "version"); got != wantVersion {
				t.Errorf("version = %q, want %q", got, wantVersion)
			}
			got := runBin(t, tc.emulator, bin, "check", "--config", "failberry.yaml")
			t.Logf("%s: failberry check --config packaging/failberry.yaml:\n%s", tc.arch, got)
			if diff := cmp.Diff(wantCheck, got); diff != "" {
				t.Errorf("check output differs from amd64 (-amd64 +%s):\n%s", tc.arch, diff)
			}
		})
	}
}
