//go:build bench

package bench_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/failberry/failberry/bench"
	"github.com/failberry/failberry/internal/testenv"
	"github.com/failberry/failberry/modem/sim"
	"github.com/failberry/failberry/systemd"
)

// buildDeb builds the package of a Debian architecture with the given
// version into dir and returns its path.
func buildDeb(t *testing.T, dir, version, arch string) string {
	t.Helper()
	cmd := exec.Command("sh", filepath.Join(bench.SourceDir(), "packaging", "build.sh"), "deb", dir, arch)
	cmd.Env = append(os.Environ(), "FAILBERRY_VERSION="+version)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("building the .deb %s: %v\n%s%s", version, err, out, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// The path a user takes, under real systemd: install the .deb, set the APN,
// let the unit run; a hung modem is recovered and the journal says so; an
// upgrade keeps the edited config; purge leaves nothing behind.
func TestDebAcceptanceUnderSystemd(t *testing.T) { debAcceptance(t, "amd64") }

// debAcceptance is the acceptance run in a VM of the Debian architecture
// arch with that architecture's package: amd64 boots the host's Debian, the
// ARM ones a Raspberry Pi OS look-alike (make test-arm). Every time bound is
// the amd64 one times bench.Slow(arch): ARM is emulated.
func debAcceptance(t *testing.T, arch string) {
	begin := time.Now()
	testenv.RequireTools(t, "dpkg-deb")
	v1 := buildDeb(t, t.TempDir(), "0.9.0", arch)
	v2 := buildDeb(t, t.TempDir(), "0.9.1", arch)
	slow := bench.Slow(arch)
	var ctx context.Context
	var vm *bench.VM
	if arch == "amd64" {
		ctx, vm = startVMWith(t, sim.Config{}, true)
	} else {
		ctx, vm = startVMFor(t, sim.Config{}, true, 12*time.Minute*slow, func(o *bench.Options) { o.Arch = arch })
	}
	for i, deb := range []string{v1, v2} {
		if err := copyTo(deb, filepath.Join(vm.Work, []string{"v1.deb", "v2.deb"}[i])); err != nil {
			t.Fatal(err)
		}
	}
	waitGuest(t, ctx, vm, slow*60*time.Second, `systemctl is-system-running --wait >/dev/null 2>&1; systemctl is-active bench.target`)
	if err := vm.SetupNetworks(ctx); err != nil {
		t.Fatal(err)
	}

	guest(t, ctx, vm, slow*120*time.Second, `DEBIAN_FRONTEND=noninteractive dpkg -i /mnt/v1.deb`)
	waitGuest(t, ctx, vm, slow*30*time.Second, `systemctl is-enabled failberry && systemctl is-active failberry`)
	exposure := guest(t, ctx, vm, slow*60*time.Second, `systemd-analyze security failberry.service --no-pager | tail -n 1`)
	t.Logf("systemd-analyze security failberry.service: %s", strings.TrimSpace(exposure))

	// The user's edit: the bench's APN, probes and timers.
	if err := os.WriteFile(filepath.Join(vm.Work, "user.yaml"), []byte(bench.DaemonConfig("")), 0o600); err != nil {
		t.Fatal(err)
	}
	guest(t, ctx, vm, slow*60*time.Second, `systemctl stop failberry && cp /mnt/user.yaml /etc/failberry/failberry.yaml`)
	start := time.Now()
	guest(t, ctx, vm, slow*60*time.Second, `systemctl start failberry`)
	lanReachesInternet(t, ctx, vm, start, slow*90*time.Second)
	t.Logf("scenario deb-online (%s): systemctl start with the edited config -> lan reaches internet in %v", arch, time.Since(start).Round(100*time.Millisecond))

	vm.Modem.SetFault(sim.FaultHang)
	back := lanReachesInternet(t, ctx, vm, time.Now(), slow*150*time.Second)
	t.Logf("scenario deb-hang (%s): recovered under systemd in %v", arch, back.Round(100*time.Millisecond))
	journal := guest(t, ctx, vm, slow*30*time.Second, `journalctl -u failberry --no-pager -o cat`)
	if !strings.Contains(journal, "next power-cycle attempt 1") {
		t.Errorf("journalctl -u failberry lacks the power-cycle step:\n%s", journal)
	}
	byID := guest(t, ctx, vm, slow*30*time.Second, `journalctl --no-pager -o cat MESSAGE_ID=`+systemd.RecoveryStep.ID)
	if !strings.Contains(byID, "power-cycle") {
		t.Errorf("journalctl MESSAGE_ID=%s finds no power-cycle step:\n%s", systemd.RecoveryStep.ID, byID)
	}
	fields := guest(t, ctx, vm, slow*30*time.Second, `journalctl --no-pager -o verbose MESSAGE_ID=`+systemd.RecoveryStep.ID+` | grep -E 'FAILBERRY_STEP=power-cycle' | head -1`)
	if fields == "" {
		t.Errorf("recovery events carry no FAILBERRY_STEP field")
	}

	// Upgrade: the edited config stays, the unit runs the new build.
	guest(t, ctx, vm, slow*120*time.Second, `DEBIAN_FRONTEND=noninteractive dpkg -i /mnt/v2.deb </dev/null`)
	guest(t, ctx, vm, slow*10*time.Second, `cmp /mnt/user.yaml /etc/failberry/failberry.yaml`)
	waitGuest(t, ctx, vm, slow*30*time.Second, `systemctl is-active failberry && /usr/sbin/failberry version | grep -q 0.9.1`)
	lanReachesInternet(t, ctx, vm, time.Now(), slow*90*time.Second)
	if arch != "amd64" { // a Raspberry Pi OS look-alike: NetworkManager runs
		networkManagerCheck(t, ctx, vm, slow)
	}

	// Purge: no process, no rules, no state.
	guest(t, ctx, vm, slow*120*time.Second, `DEBIAN_FRONTEND=noninteractive dpkg --purge failberry`)
	left := guest(t, ctx, vm, slow*30*time.Second, `pidof failberry; for p in $(pidof pppd); do grep -q ttyS1 /proc/$p/cmdline || echo pppd $p; done
{ iptables-save; ip6tables-save; } | grep FAILBERRY; ls -d /var/lib/failberry /etc/failberry /run/failberry 2>/dev/null; true`)
	if strings.TrimSpace(left) != "" {
		t.Errorf("purge left something behind:\n%s", left)
	}
	t.Logf("scenario deb-acceptance (%s): VM up in %v, the whole run %v", arch, vm.Boot.Round(time.Second), time.Since(begin).Round(time.Second))
}

func copyTo(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
