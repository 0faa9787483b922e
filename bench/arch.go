package bench

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// An arch is how the bench boots a guest of one Debian architecture. The
// host's own (amd64) boots the machine's kernel over the host's root file
// system; the ARM ones boot Debian's kernel for the architecture over a root
// file system of that architecture that bench/image/mkrootfs.sh builds, on
// qemu's virt machine, which has PCIe: the same xHCI controller, hub, USB
// serial modem and virtio ports as on amd64.
type arch struct {
	name    string   // Debian architecture
	qemu    string   // system emulator
	machine []string // machine and CPU
	console string   // the guest's console tty
	goenv   []string // GOARCH and friends for the guest's programs
	// boot bounds qemu start to the agent's first word. ARM is emulated
	// instruction by instruction, systemd and all: several times slower.
	boot time.Duration
	// Slow scales a scenario's time bounds on this architecture.
	slow int
}

var arches = map[string]arch{
	"amd64": {name: "amd64", qemu: "qemu-system-x86_64", console: "ttyS0",
		boot: 90 * time.Second, slow: 1},
	// A Pi 2B's core is a Cortex-A7; the A15 is what qemu's virt machine
	// runs Debian's LPAE kernel on (the same ARMv7-A with virtualization
	// extensions, so the same instructions and struct layouts).
	"armhf": {name: "armhf", qemu: "qemu-system-arm", machine: []string{"-M", "virt,highmem=off", "-cpu", "cortex-a15"},
		console: "ttyAMA0", goenv: []string{"GOARCH=arm", "GOARM=7"}, boot: 10 * time.Minute, slow: 4},
	// A Pi 4's core.
	"arm64": {name: "arm64", qemu: "qemu-system-aarch64", machine: []string{"-M", "virt", "-cpu", "cortex-a72"},
		console: "ttyAMA0", goenv: []string{"GOARCH=arm64"}, boot: 10 * time.Minute, slow: 4},
}

// lookupArch returns the bench's description of a Debian architecture; ""
// is the host's.
func lookupArch(name string) (arch, error) {
	if name == "" {
		name = "amd64"
	}
	a, ok := arches[name]
	if !ok {
		return arch{}, fmt.Errorf("bench: no VM for architecture %q (amd64, armhf, arm64)", name)
	}
	return a, nil
}

// foreign says whether the guest runs its own root file system.
func (a arch) foreign() bool { return a.name != "amd64" }

// Slow is how many times longer than on amd64 a scenario's steps may take in
// a VM of the Debian architecture name (1 for amd64).
func Slow(name string) time.Duration {
	a, err := lookupArch(name)
	if err != nil {
		return 1
	}
	return time.Duration(a.slow)
}

// RootfsCache is where the ARM root file systems are kept between runs.
const RootfsCache = "/var/cache/failberry-bench"

// Rootfs returns the root file system for an ARM architecture, building it
// with bench/image/mkrootfs.sh when the cache has none for this version of
// the script (its hash names the directory, so a changed package list
// rebuilds). Older builds for the architecture are removed. A cold build
// takes about ten minutes and needs Debian's mirror.
func Rootfs(ctx context.Context, name string) (string, error) {
	script := filepath.Join(SourceDir(), "bench", "image", "mkrootfs.sh")
	b, err := os.ReadFile(script)
	if err != nil {
		return "", fmt.Errorf("bench rootfs: %w", err)
	}
	dir := filepath.Join(RootfsCache, fmt.Sprintf("rootfs-%s-%x", name, sha256.Sum256(b))[:len("rootfs-")+len(name)+1+12])
	if _, err := os.Stat(filepath.Join(dir, "etc", "os-release")); err == nil {
		return dir, nil
	}
	old, _ := filepath.Glob(filepath.Join(RootfsCache, "rootfs-"+name+"-*"))
	for _, o := range old {
		if err := os.RemoveAll(o); err != nil {
			return "", fmt.Errorf("bench rootfs: removing an old one: %w", err)
		}
	}
	if err := os.MkdirAll(RootfsCache, 0o755); err != nil {
		return "", fmt.Errorf("bench rootfs: %w", err)
	}
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	cmd := exec.CommandContext(ctx, "sh", script, name, tmp)
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("building the %s root file system: %v\n%s", name, err, tail(string(out), 40))
	}
	return dir, os.Rename(tmp, dir)
}

// foreignKernel returns the kernel of an ARM root file system and a bench
// initramfs for it (the rootfs's busybox and modules), built once per kernel
// into binDir.
func foreignKernel(root, binDir string) (kernel, initrd string, err error) {
	images, _ := filepath.Glob(filepath.Join(root, "boot", "vmlinuz-*"))
	sort.Sort(sort.Reverse(sort.StringSlice(images)))
	if len(images) == 0 {
		return "", "", fmt.Errorf("no kernel in %s/boot", root)
	}
	kernel = images[0]
	kver := strings.TrimPrefix(filepath.Base(kernel), "vmlinuz-")
	initrd, err = buildInitrd(binDir, kver, root)
	return kernel, initrd, err
}

// BuildFor compiles the guest's programs for a VM of the Debian architecture
// name into dir. An ARM guest runs the bench agent; failberry comes from its
// .deb (packaging/build.sh cross-builds it, cgo and all).
func BuildFor(ctx context.Context, dir, name string) error {
	a, err := lookupArch(name)
	if err != nil {
		return err
	}
	if !a.foreign() {
		return Build(ctx, dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(dir, "bench-agent"), "./bench/agent")
	cmd.Dir = SourceDir()
	cmd.Env = append(append(os.Environ(), "CGO_ENABLED=0"), a.goenv...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build bench/agent for %s: %v\n%s", name, err, out)
	}
	return nil
}

// QemuFor is the system emulator a VM of the Debian architecture name needs.
func QemuFor(name string) string {
	a, err := lookupArch(name)
	if err != nil {
		return "qemu-system-" + name
	}
	return a.qemu
}

// Arch is the guest's Debian architecture.
func (vm *VM) Arch() string { return vm.arch.name }
