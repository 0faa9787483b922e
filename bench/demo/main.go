// Command demo runs the simulated appliance: it boots the test bench VM (a
// Debian kernel, an emulated USB hub, a simulated 3G stick, a carrier and an
// internet host), starts failberry in it, and narrates what happens: the
// modem coming up, the link going online, a LAN host reaching the internet
// through the gateway, and a killed pppd being replaced. `make demo` runs it.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/failberry/failberry/bench"
	"github.com/failberry/failberry/modem/sim"
)

var start = time.Now()

func say(format string, args ...any) {
	fmt.Printf("[%5.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("the bench needs root (qemu, network namespaces inside the VM): run as root")
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	work, err := os.MkdirTemp("", "failberry-demo-")
	if err != nil {
		return err
	}
	bin := filepath.Join(os.TempDir(), "failberry-bench-bin")
	say("building failberry and the bench agent")
	if err := bench.Build(ctx, bin); err != nil {
		return err
	}
	_, kver, err := bench.Kernel()
	if err != nil {
		return err
	}
	release, err := bench.Exclusive()
	if err != nil {
		return err
	}
	defer release()
	say("booting the bench VM (Debian kernel %s, software emulation)", kver)
	vm, err := bench.Start(ctx, bench.Options{Work: work, Bin: bin, Modem: sim.Config{}})
	if err != nil {
		return err
	}
	defer vm.Close()
	say("VM up in %.1fs: xHCI -> USB hub 1-1 (per-port power) -> port 2: simulated ZTE MF180 3G stick", vm.Boot.Seconds())
	if err := vm.SetupNetworks(ctx); err != nil {
		return err
	}
	say("networks: lan host 192.168.7.10 -> gateway eth0 192.168.7.1 | carrier pppd + internet host 198.51.100.10")
	if err := scenario(ctx, vm); err != nil {
		fmt.Fprintf(os.Stderr, "\nthe demo failed; what the bench saw:\n")
		vm.Report(os.Stderr)
		return err
	}
	say("done. Logs of this run: %s", work)
	return nil
}

func scenario(ctx context.Context, vm *bench.VM) error {
	say("$ failberry run --config failberry.yaml   (apn: internet, everything else default)")
	t0 := time.Now()
	if err := vm.StartDaemon(ctx, bench.DaemonConfig(""), "failberry.log"); err != nil {
		return err
	}
	logs := &follower{path: filepath.Join(vm.Work, "failberry.log")}
	if _, err := vm.Await(ctx, 60*time.Second, `ip -4 addr show dev ppp0 2>/dev/null | grep -q inet`); err != nil {
		return err
	}
	logs.show()
	_, err := vm.Await(ctx, 60*time.Second, bench.LanPing)
	if err != nil {
		return err
	}
	say("lan host pings 198.51.100.10 through the gateway: ok, %.1fs after `failberry run`", time.Since(t0).Seconds())
	out, err := vm.Run(ctx, 10*time.Second, `/mnt/bin/failberry status --config /mnt/failberry.yaml`)
	if err != nil {
		return err
	}
	say("$ failberry status\n%s", indent(out))

	pid, err := vm.Run(ctx, 5*time.Second, `for p in $(pidof pppd); do grep -q ttyS1 /proc/$p/cmdline || echo $p; done`)
	if err != nil {
		return err
	}
	pid = strings.TrimSpace(pid)
	say("$ kill -9 %s   (the gateway's pppd)", pid)
	killed := time.Now()
	if _, err := vm.Run(ctx, 5*time.Second, "kill -9 "+pid); err != nil {
		return err
	}
	if _, err := vm.Await(ctx, 60*time.Second, bench.LanPing); err != nil {
		return err
	}
	logs.show()
	say("lan host reaches the internet again %.1fs after the kill", time.Since(killed).Seconds())
	return nil
}

// follower prints the daemon's new log lines in a short form.
type follower struct {
	path string
	seen int
}

var keyLine = regexp.MustCompile(`msg="([^"]*)"(.*)`)

func (f *follower) show() {
	b, _ := os.ReadFile(f.path)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	for _, l := range lines[min(f.seen, len(lines)):] {
		m := keyLine.FindStringSubmatch(l)
		if m == nil || strings.Contains(l, "component=probe") {
			continue
		}
		fields := strings.TrimSpace(m[2])
		if len(fields) > 100 {
			fields = fields[:100] + "..."
		}
		say("  failberry: %s  %s", m[1], fields)
	}
	f.seen = len(lines)
}

func indent(s string) string {
	return "          " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n          ")
}
