package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

// SourceDir is the repository's root, found from this file's location so the
// bench works from tests, `go run` and the Makefile alike.
func SourceDir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(file))
}

func guestScript(name string) (string, error) {
	p := filepath.Join(SourceDir(), "bench", "guest", name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("bench guest script: %w", err)
	}
	return p, nil
}

// Kernel finds the newest Debian kernel on this machine that has its modules
// installed: the bench is tied to no kernel version.
func Kernel() (image, version string, err error) {
	images, _ := filepath.Glob("/boot/vmlinuz-*")
	sort.Sort(sort.Reverse(sort.StringSlice(images)))
	for _, img := range images {
		v := strings.TrimPrefix(filepath.Base(img), "vmlinuz-")
		if _, err := os.Stat(filepath.Join("/lib/modules", v, "modules.dep")); err == nil {
			return img, v, nil
		}
	}
	return "", "", fmt.Errorf("no kernel with modules in /boot and /lib/modules: install linux-image-amd64 (make deps does)")
}

// prepareKernel returns the kernel image and a bench initramfs for it, built
// once per kernel version into binDir.
func prepareKernel(binDir string) (kernel, initrd string, err error) {
	kernel, kver, err := Kernel()
	if err != nil {
		return "", "", err
	}
	initrd, err = buildInitrd(binDir, kver, "")
	return kernel, initrd, err
}

// buildInitrd returns the bench initramfs for kernel kver in binDir, built
// by guest/mkinitramfs.sh when it is missing or older than the script: from
// the machine's busybox and modules, or root's ("" for the machine's).
func buildInitrd(binDir, kver, root string) (string, error) {
	initrd := filepath.Join(binDir, "initrd-"+kver+".gz")
	script, err := guestScript("mkinitramfs.sh")
	if err != nil {
		return "", err
	}
	if fresh(initrd, script) {
		return initrd, nil
	}
	args := []string{script, kver, initrd + ".tmp"}
	if root != "" {
		args = append(args, root)
	}
	out, err := exec.Command("sh", args...).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("building initramfs: %v: %s", err, out)
	}
	return initrd, os.Rename(initrd+".tmp", initrd)
}

// fresh reports whether target exists and is newer than source.
func fresh(target, source string) bool {
	t, err := os.Stat(target)
	if err != nil {
		return false
	}
	s, err := os.Stat(source)
	return err == nil && t.ModTime().After(s.ModTime())
}

// Build compiles the programs the guest runs (the agent and failberry) into dir.
func Build(ctx context.Context, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	builds := []struct {
		out, pkg string
		cgo      string
	}{
		{"bench-agent", "./bench/agent", "0"},
		{"failberry", "./cmd/failberry", "1"},
		{"ddnsd", "./bench/ddnsd", "0"},
		{"webhookd", "./bench/webhookd", "0"},
	}
	for _, b := range builds {
		cmd := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(dir, b.out), b.pkg)
		cmd.Dir = SourceDir()
		cmd.Env = append(os.Environ(), "CGO_ENABLED="+b.cgo)
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", b.pkg, err, out)
		}
	}
	return nil
}
