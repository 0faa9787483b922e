package packaging

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/failberry/failberry/internal/testenv"
)

// wantFiles is every regular file the package ships (directories left out).
var wantFiles = []string{
	"/etc/failberry/failberry.yaml",
	"/usr/lib/systemd/catalog/failberry.catalog",
	"/usr/lib/systemd/system/failberry.service",
	"/usr/lib/udev/rules.d/77-failberry-modemmanager.rules",
	"/usr/sbin/failberry",
	"/usr/share/doc/failberry/README",
	"/usr/share/doc/failberry/changelog.Debian.gz",
	"/usr/share/doc/failberry/copyright",
	"/usr/share/lintian/overrides/failberry",
	"/usr/share/man/man8/failberry.8.gz",
}

// debDir holds the package the tests share; TestMain removes it.
var debDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if debDir != "" {
		os.RemoveAll(debDir)
	}
	os.Exit(code)
}

// amd64Deb builds the amd64 package once per test binary; the go build cache
// and go run's executable cache make repeated runs cheap.
var amd64Deb = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "failberry-deb-test-")
	if err != nil {
		return "", err
	}
	debDir = dir
	out, err := buildCmd("deb", dir, "amd64").CombinedOutput()
	if err != nil {
		return "", &cmdError{"build.sh deb " + dir + " amd64", out, err}
	}
	return strings.TrimSpace(lastLine(string(out))), nil
})

// testVersion is the version every build in this test binary gets, taken
// once: teammates commit while the tests run, and a later `git describe`
// would give the next build another version.
var testVersion = sync.OnceValues(func() (string, error) {
	out, err := exec.Command("sh", "build.sh", "version").Output()
	return strings.TrimSpace(string(out)), err
})

// buildCmd runs build.sh with the pinned version.
func buildCmd(args ...string) *exec.Cmd {
	cmd := exec.Command("sh", append([]string{"build.sh"}, args...)...)
	v, _ := testVersion()
	cmd.Env = append(os.Environ(), "FAILBERRY_VERSION="+v)
	return cmd
}

type cmdError struct {
	cmd string
	out []byte
	err error
}

func (e *cmdError) Error() string { return e.cmd + ": " + e.err.Error() + "\n" + string(e.out) }

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func buildDeb(t *testing.T) string {
	t.Helper()
	testenv.RequireTools(t, "dpkg-deb", "lintian", "x86_64-linux-gnu-gcc", "x86_64-linux-gnu-objcopy")
	if _, err := testVersion(); err != nil {
		t.Fatalf("build.sh version: %v", err)
	}
	deb, err := amd64Deb()
	if err != nil {
		t.Fatal(err)
	}
	return deb
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestDebContents(t *testing.T) {
	deb := buildDeb(t)
	var got []string
	hooksDir := false
	for _, line := range strings.Split(run(t, "dpkg-deb", "-c", deb), "\n") {
		f := strings.Fields(line)
		if len(f) >= 6 && f[5] == "./etc/failberry/hooks.d/" {
			// the hooks directory, empty, for the admin's executables
			hooksDir = f[0] == "drwxr-xr-x" && f[1] == "root/root"
		}
		if len(f) < 6 || strings.HasPrefix(f[0], "d") {
			continue
		}
		if f[0] != "-rw-r--r--" && !(f[5] == "./usr/sbin/failberry" && f[0] == "-rwxr-xr-x") {
			t.Errorf("%s has mode %s", f[5], f[0])
		}
		if f[1] != "root/root" {
			t.Errorf("%s is owned by %s", f[5], f[1])
		}
		got = append(got, strings.TrimPrefix(f[5], "."))
	}
	sort.Strings(got)
	if diff := cmp.Diff(wantFiles, got); diff != "" {
		t.Errorf("files in %s (-want +got):\n%s", filepath.Base(deb), diff)
	}
	if !hooksDir {
		t.Errorf("%s lacks the directory /etc/failberry/hooks.d (mode 0755, root)", filepath.Base(deb))
	}
}

func TestDebControl(t *testing.T) {
	deb := buildDeb(t)
	want := map[string]string{
		"Package":      "failberry",
		"Architecture": "amd64",
		"Depends":      "ppp, iptables, libusb-1.0-0, libc6",
		"Recommends":   "usb-modeswitch",
		"Section":      "net",
		"Priority":     "optional",
		"Maintainer":   "failberry developers <dev@failberry.invalid>",
		"Homepage":     "https://github.com/failberry/failberry",
	}
	for field, w := range want {
		if got := strings.TrimSpace(run(t, "dpkg-deb", "-f", deb, field)); got != w {
			t.Errorf("%s: got %q, want %q", field, got, w)
		}
	}
	version := strings.TrimSpace(run(t, "dpkg-deb", "-f", deb, "Version"))
	if !regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*-1$`).MatchString(version) {
		t.Errorf("Version %q is not <upstream>-1", version)
	}
	if !strings.HasSuffix(deb, "/failberry_"+strings.TrimSuffix(version, "-1")+"_amd64.deb") {
		t.Errorf("file name %s does not carry version %s", deb, version)
	}
	if desc := run(t, "dpkg-deb", "-f", deb, "Description"); strings.Count(desc, "\n") < 3 {
		t.Errorf("Description has no long description:\n%s", desc)
	}

	ctrl := t.TempDir()
	run(t, "dpkg-deb", "-e", deb, ctrl)
	conffiles, err := os.ReadFile(filepath.Join(ctrl, "conffiles"))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(conffiles)); !slices.Equal(got, []string{"/etc/failberry/failberry.yaml"}) {
		t.Errorf("conffiles = %q", got)
	}
	for _, s := range []string{"postinst", "prerm", "postrm"} {
		p := filepath.Join(ctrl, s)
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("maintainer script: %v", err)
			continue
		}
		if fi.Mode().Perm()&0o111 == 0 {
			t.Errorf("%s is not executable (%v)", s, fi.Mode())
		}
		run(t, "sh", "-n", p)
	}
}

// TestDebRunsItsVersion unpacks the package and runs its binary: the version
// baked in with -X main.version must be the package's upstream version, and
// the binary must link libusb dynamically (hence Depends: libusb-1.0-0).
func TestDebRunsItsVersion(t *testing.T) {
	deb := buildDeb(t)
	root := t.TempDir()
	run(t, "dpkg-deb", "-x", deb, root)
	bin := filepath.Join(root, "usr/sbin/failberry")
	version := strings.TrimSuffix(strings.TrimSpace(run(t, "dpkg-deb", "-f", deb, "Version")), "-1")
	if out := run(t, bin, "version"); !strings.Contains(out, version) {
		t.Errorf("failberry version printed %q, want it to contain %q", out, version)
	}
	checkELF(t, bin, elf.EM_X86_64)
}

func checkELF(t *testing.T, path string, machine elf.Machine) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != machine {
		t.Errorf("%s: machine %v, want %v", path, f.Machine, machine)
	}
	if f.Type != elf.ET_DYN {
		t.Errorf("%s: ELF type %v, want ET_DYN (PIE)", path, f.Type)
	}
	libs, err := f.ImportedLibraries()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(libs, "libusb-1.0.so.0") || !slices.Contains(libs, "libc.so.6") {
		t.Errorf("%s: links %q, want libusb-1.0.so.0 and libc.so.6", path, libs)
	}
}

func TestDebLintian(t *testing.T) {
	deb := buildDeb(t)
	out, err := exec.Command("lintian", "--info", "--fail-on", "error,warning", deb).CombinedOutput()
	t.Logf("lintian %s:\n%s", filepath.Base(deb), out)
	if err != nil {
		t.Errorf("lintian fails: %v", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(line, "E: ") || strings.HasPrefix(line, "W: ") {
			t.Errorf("lintian: %s", line)
		}
	}
}
