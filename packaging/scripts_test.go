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
	if err := os.WriteFile(path, []byte(strings.ReplaceAll(text, "/run/systemd/system", marker)), 0o755); err != nil {
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
