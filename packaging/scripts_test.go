package packaging

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeTools puts recording stand-ins for the commands the maintainer scripts
// call first on PATH (rm too, so a purge test deletes nothing on the host)
// and returns the environment and the log file they append "name args" to.
func fakeTools(t *testing.T, wasEnabled bool) ([]string, string) {
	t.Helper()
	dir := t.TempDir()
	log := filepath.Join(dir, "calls.log")
	status := "0"
	if !wasEnabled {
		status = "1"
	}
	for _, name := range []string{"deb-systemd-helper", "deb-systemd-invoke", "systemctl", "rm"} {
		script := "#!/bin/sh\necho \"" + name + " $*\" >>'" + log + "'\n"
		if name == "deb-systemd-helper" {
			script += "[ \"$2\" = was-enabled ] && exit " + status + "\n"
		}
		script += "exit 0\n"
		if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH")), log
}

// scriptWithSystemd copies a maintainer script with its "is systemd running"
// test (-d /run/systemd/system) pointed at a directory that exists or not,
// so both branches run whatever the host runs.
func scriptWithSystemd(t *testing.T, name string, running bool) string {
	t.Helper()
	return scriptAt(t, name, running, filepath.Join(t.TempDir(), "no-dhcpcd.conf"))
}

// scriptAt is scriptWithSystemd with /etc/dhcpcd.conf pointed at
// dhcpcdConf, so no test reads or edits the host's.
func scriptAt(t *testing.T, name string, running bool, dhcpcdConf string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("scripts", name))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	marker := filepath.Join(dir, "run-systemd-system")
	if running {
		if err := os.Mkdir(marker, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	text := string(b)
	if !strings.Contains(text, "[ -d /run/systemd/system ]") {
		t.Fatalf("%s does not test [ -d /run/systemd/system ]", name)
	}
	path := filepath.Join(dir, name)
	text = strings.ReplaceAll(strings.ReplaceAll(text, "/run/systemd/system", marker), "/etc/dhcpcd.conf", dhcpcdConf)
	if err := os.WriteFile(path, []byte(text), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMaintainerScripts(t *testing.T) {
	for _, sd := range []bool{true, false} {
		t.Run(map[bool]string{true: "systemd", false: "no-systemd"}[sd], func(t *testing.T) {
			testMaintainerScripts(t, sd)
		})
	}
}

func testMaintainerScripts(t *testing.T, sd bool) {
	ifSystemd := func(calls ...string) []string {
		if sd {
			return calls
		}
		return nil
	}
	tests := []struct {
		name       string
		script     string
		args       []string
		wasEnabled bool
		want       []string
	}{
		{"first install enables and starts", "postinst", []string{"configure", ""}, true, append([]string{
			"deb-systemd-helper unmask failberry.service",
			"deb-systemd-helper --quiet was-enabled failberry.service",
			"deb-systemd-helper enable failberry.service",
		}, ifSystemd("systemctl --system daemon-reload", "deb-systemd-invoke start failberry.service")...)},
		{"upgrade restarts", "postinst", []string{"configure", "0.0.0~git20260101.abc1234-1"}, true, append([]string{
			"deb-systemd-helper unmask failberry.service",
			"deb-systemd-helper --quiet was-enabled failberry.service",
			"deb-systemd-helper enable failberry.service",
		}, ifSystemd("systemctl --system daemon-reload", "deb-systemd-invoke try-restart failberry.service")...)},
		{"upgrade keeps a disabled unit disabled", "postinst", []string{"configure", "0.1-1"}, false, append([]string{
			"deb-systemd-helper unmask failberry.service",
			"deb-systemd-helper --quiet was-enabled failberry.service",
			"deb-systemd-helper update-state failberry.service",
		}, ifSystemd("systemctl --system daemon-reload", "deb-systemd-invoke try-restart failberry.service")...)},
		{"remove stops", "prerm", []string{"remove"}, true, ifSystemd("deb-systemd-invoke stop failberry.service")},
		{"upgrade does not stop", "prerm", []string{"upgrade", "0.2-1"}, true, nil},
		{"remove masks", "postrm", []string{"remove"}, true, append(
			ifSystemd("systemctl --system daemon-reload"), "deb-systemd-helper mask failberry.service")},
		{"purge forgets the unit and removes state", "postrm", []string{"purge"}, true, []string{
			"deb-systemd-helper purge failberry.service",
			"deb-systemd-helper unmask failberry.service",
			"rm -rf /var/lib/failberry /run/failberry",
		}},
		{"upgrade leaves postrm idle", "postrm", []string{"upgrade", "0.2-1"}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, log := fakeTools(t, tt.wasEnabled)
			cmd := exec.Command("sh", append([]string{scriptWithSystemd(t, tt.script, sd)}, tt.args...)...)
			cmd.Env = env
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%s %q: %v\n%s", tt.script, tt.args, err, out)
			}
			var got []string
			if b, err := os.ReadFile(log); err == nil {
				got = strings.Split(strings.TrimSpace(string(b)), "\n")
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s %q calls (-want +got):\n%s", tt.script, tt.args, diff)
			}
		})
	}
}

// dhcpcd's config gets the marked denyinterfaces block on install, once,
// and loses exactly that block on remove and purge; a system without
// dhcpcd gets no dhcpcd.conf.
func TestMaintainerScriptsDhcpcd(t *testing.T) {
	block := "# BEGIN failberry\n" +
		"# Added by the failberry package (removed with it): failberry runs DHCP on\n" +
		"# its network-card stick itself. Edit cell0 if modem.netcard_interface is set.\n" +
		"denyinterfaces cell0 usb*\n" +
		"# END failberry\n"
	for _, tt := range []struct {
		name, orig, restored string
		remove               string
	}{
		{"ends with a newline", "hostname\nslaac private\n", "hostname\nslaac private\n", "purge"},
		{"no newline at the end", "hostname\nnohook wpa_supplicant", "hostname\nnohook wpa_supplicant\n", "remove"},
		{"empty", "", "", "purge"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			env, _ := fakeTools(t, true)
			conf := filepath.Join(t.TempDir(), "dhcpcd.conf")
			if err := os.WriteFile(conf, []byte(tt.orig), 0o644); err != nil {
				t.Fatal(err)
			}
			sh := func(script string, args ...string) string {
				cmd := exec.Command("sh", append([]string{scriptAt(t, script, false, conf)}, args...)...)
				cmd.Env = env
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("%s %q: %v\n%s", script, args, err, out)
				}
				b, err := os.ReadFile(conf)
				if err != nil {
					t.Fatal(err)
				}
				return string(b)
			}
			want := tt.restored + block
			if got := sh("postinst", "configure", ""); got != want {
				t.Errorf("after install:\n%q\nwant\n%q", got, want)
			}
			if got := sh("postinst", "configure", "0.1-1"); got != want {
				t.Errorf("after an upgrade:\n%q\nwant it unchanged", got)
			}
			if got := sh("postrm", "upgrade", "0.2-1"); got != want {
				t.Errorf("postrm upgrade touched it:\n%q", got)
			}
			if got := sh("postrm", tt.remove); got != tt.restored {
				t.Errorf("after %s:\n%q\nwant\n%q", tt.remove, got, tt.restored)
			}
		})
	}
	t.Run("no dhcpcd", func(t *testing.T) {
		env, _ := fakeTools(t, true)
		conf := filepath.Join(t.TempDir(), "dhcpcd.conf")
		for _, s := range [][]string{{"postinst", "configure", ""}, {"postrm", "purge"}} {
			cmd := exec.Command("sh", append([]string{scriptAt(t, s[0], false, conf)}, s[1:]...)...)
			cmd.Env = env
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%q: %v\n%s", s, err, out)
			}
		}
		if _, err := os.Stat(conf); !os.IsNotExist(err) {
			t.Errorf("dhcpcd.conf made on a system without dhcpcd: %v", err)
		}
	})
}
