// Package bench boots the hardware-in-the-loop test bench: a qemu VM running the
// machine's own Debian kernel over the host's root filesystem, with an emulated
// USB hub that switches port power, an emulated USB serial adapter behind it
// wired to the simulated modem (modem/sim), and a second serial line that is the
// carrier's side of the PPP link.
//
// Build machines have no USB and no kernel PPP; the VM has both, so pppd,
// iptables, uhubctl and failberry itself run there for real. The host-side test
// drives everything: it owns the simulator (faults, power), talks to an agent in
// the guest to run commands, and prints the guest console, the modem transcript
// and the logs when something fails.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/failberry/failberry/modem/sim"
)

// ModemHubPort is the port of the emulated hub that feeds the modem: the guest
// sees the hub as 1-1 and the modem as 1-1.2.
const ModemHubPort = 2

// NetcardHubPort is the hub port of the network-card stick (Options.Netcard):
// the guest sees it as 1-1.4.
const NetcardHubPort = 4

// netcardMAC is the network-card stick's MAC (a Huawei OUI, as a HiLink
// stick's): udev names it enx0c5b8f279a64.
const netcardMAC = "0c:5b:8f:27:9a:64"

// Options describe one VM.
type Options struct {
	Work    string     // directory shared with the guest as /mnt; created if needed
	Bin     string     // directory holding bench-agent and failberry builds (see Build)
	Modem   sim.Config // the simulated modem
	Systemd bool       // boot systemd as init instead of the bench's stage2 shell
	Memory  int        // MiB, default 1024
	// Netcard adds a network-card stick: qemu's usb-net (a CDC-ECM/RNDIS
	// device, so the guest's real cdc_ether or rndis_host binds) on hub
	// port NetcardHubPort, its far end wired to a virtio NIC that
	// guest/stick.sh makes the stick's router (DHCP, NAT to the carrier).
	Netcard bool
	Logger  *slog.Logger
	// Arch is the guest's Debian architecture: "" or amd64 boots the
	// host's kernel and root; armhf and arm64 boot Debian's ARM kernel and
	// a root file system of that architecture (Rootfs) on qemu's virt
	// machine, under software emulation.
	Arch string
}

// VM is a running bench VM.
type VM struct {
	Work  string
	Modem *sim.Modem
	Boot  time.Duration // from qemu start to the agent's first word

	opts   Options
	arch   arch
	cmd    *exec.Cmd
	cancel context.CancelFunc
	agent  *agentConn
	qmp    *qmpConn
	wg     sync.WaitGroup
	log    *slog.Logger
	mu     sync.Mutex
	closed bool
	decoy  decoyState
}

// Start boots a VM and waits until its agent answers.
func Start(ctx context.Context, opts Options) (*VM, error) {
	if opts.Memory == 0 {
		opts.Memory = 1024
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(filepath.Join(opts.Work, "bin"), 0o755); err != nil {
		return nil, err
	}
	if err := copyGuestScripts(opts.Work); err != nil {
		return nil, err
	}
	for _, b := range []string{"bench-agent", "failberry", "ddnsd", "webhookd"} {
		if err := copyFile(filepath.Join(opts.Bin, b), filepath.Join(opts.Work, "bin", b)); err != nil && b == "bench-agent" {
			return nil, fmt.Errorf("bench binaries missing (run bench.Build first): %w", err)
		}
	}
	a, err := lookupArch(opts.Arch)
	if err != nil {
		return nil, err
	}
	root, kernel, initrd := "/", "", ""
	if a.foreign() {
		if root, err = Rootfs(ctx, a.name); err == nil {
			kernel, initrd, err = foreignKernel(root, opts.Bin)
		}
	} else {
		kernel, initrd, err = prepareKernel(opts.Bin)
	}
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	vm := &VM{Work: opts.Work, opts: opts, arch: a, cancel: cancel, log: opts.Logger, Modem: sim.New(opts.Modem)}
	// AT+CFUN=1,1 reboots a real modem, which leaves the bus and enumerates
	// again: do the same to the emulated USB device.
	vm.Modem.OnReboot = func() { go vm.reenumerate() }
	start := time.Now()
	if err := vm.startQemu(ctx, root, kernel, initrd); err != nil {
		cancel()
		return nil, err
	}
	if err := vm.connect(ctx); err != nil {
		vm.Close()
		return nil, fmt.Errorf("%w\n===== guest console =====\n%s\n===== qemu =====\n%s", err,
			tail(readFile(vm.path("console.log")), 60), tail(readFile(vm.path("qemu.log")), 20))
	}
	vm.Boot = time.Since(start)
	vm.log.Info("bench VM up", "boot", vm.Boot.Round(100*time.Millisecond))
	return vm, nil
}

func (vm *VM) path(name string) string { return filepath.Join(vm.Work, name) }

func (vm *VM) startQemu(ctx context.Context, root, kernel, initrd string) error {
	stage2 := Script("stage2.sh")
	appendLine := "console=" + vm.arch.console + " panic=-1 bench.stage2=" + stage2
	if vm.opts.Systemd {
		appendLine += " bench.systemd=1 systemd.show_status=0"
	}
	if vm.arch.foreign() {
		// The Pi's names: eth0, not enp0s2 (Raspberry Pi OS turns
		// predictable names off); bench.own: the guest's root is its own
		// (systemd-init.sh boots its services, as a Pi's).
		appendLine += " net.ifnames=0 bench.own=1"
	}
	args := append(slices.Clone(vm.arch.machine),
		"-m", fmt.Sprint(vm.opts.Memory), "-smp", "2", "-nodefaults", "-display", "none", "-no-reboot", "-net", "none",
		"-kernel", kernel, "-initrd", initrd, "-append", appendLine,
		"-virtfs", "local,path="+root+",mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
		"-virtfs", "local,path="+vm.Work+",mount_tag=work,security_model=none,multidevs=remap",
		"-device", "qemu-xhci,id=xhci",
		"-device", "usb-hub,port-power=on,bus=xhci.0,port=1,id=hub",
		"-chardev", "socket,id=modem,path="+vm.path("modem.sock")+",server=on,wait=off",
		"-device", fmt.Sprintf("usb-serial,id=modemdev,chardev=modem,bus=xhci.0,port=1.%d", ModemHubPort),
		// A second USB serial adapter on hub port 3 that enumerates only when
		// a test connects to its socket (PlugDecoy): it takes a tty name while
		// the modem is off, so the modem comes back under another one.
		"-chardev", "socket,id=decoy,path="+vm.path("decoy.sock")+",server=on,wait=off",
		"-device", "usb-serial,id=decoydev,chardev=decoy,bus=xhci.0,port=1.3",
		"-chardev", "file,id=con,path="+vm.path("console.log"),
		"-serial", "chardev:con",
		"-chardev", "socket,id=isp,path="+vm.path("isp.sock")+",server=on,wait=off",
		"-device", "virtio-serial-pci,id=vser",
		"-chardev", "socket,id=agent,path="+vm.path("agent.sock")+",server=on,wait=off",
		"-device", "virtserialport,chardev=agent,name=bench.agent",
		"-qmp", "unix:"+vm.path("qmp.sock")+",server=on,wait=off",
		"-trace", "usb_hub_clear_port_feature", "-trace", "usb_hub_set_port_feature",
		"-trace", "usb_port_attach", "-trace", "usb_port_detach",
		"-D", vm.path("qemu-trace.log"),
		// Trace lines carry the host's time ("pid@sec.usec:"): when the hub
		// really cut the power (PowerOffTimes).
		"-msg", "timestamp=on",
	)
	if vm.arch.foreign() {
		// The virt machine has one UART, the console: the carrier's line
		// is the second port of a PCI 16550 card, ttyS1 as on amd64.
		args = append(args, "-chardev", "null,id=spare", "-device", "pci-serial-2x,chardev1=spare,chardev2=isp")
	} else {
		args = append(args, "-serial", "chardev:isp")
	}
	if vm.opts.Netcard {
		// Two datagram netdevs whose sockets face each other: what the
		// stick's USB side sends comes out of the router's NIC, and back.
		usb, router := vm.path("nc-usb.sock"), vm.path("nc-router.sock")
		args = append(args,
			"-netdev", "dgram,id=stick,local.type=unix,local.path="+usb+",remote.type=unix,remote.path="+router,
			"-device", fmt.Sprintf("usb-net,id=stickdev,netdev=stick,bus=xhci.0,port=1.%d,mac=%s", NetcardHubPort, netcardMAC),
			"-netdev", "dgram,id=stickrouter,local.type=unix,local.path="+router+",remote.type=unix,remote.path="+usb,
			"-device", "virtio-net-pci,netdev=stickrouter,mac=52:54:00:08:00:01")
	}
	// KVM only on request: on the build machines /dev/kvm exists but a
	// nested guest spins without booting, while TCG boots in seconds.
	if os.Getenv("FAILBERRY_BENCH_KVM") == "1" && !vm.arch.foreign() {
		args = append(args, "-enable-kvm", "-cpu", "host")
	}
	qlog, err := os.Create(vm.path("qemu.log"))
	if err != nil {
		return err
	}
	vm.cmd = exec.Command(vm.arch.qemu, args...)
	vm.cmd.Stdout, vm.cmd.Stderr = qlog, qlog
	if err := vm.cmd.Start(); err != nil {
		qlog.Close()
		return fmt.Errorf("starting qemu: %w", err)
	}
	vm.wg.Add(1)
	go func() {
		defer vm.wg.Done()
		err := vm.cmd.Wait()
		qlog.Close()
		vm.log.Debug("qemu exited", "err", err)
		vm.cancel()
	}()
	return nil
}

// connect attaches the simulator and the agent to qemu's sockets.
func (vm *VM) connect(ctx context.Context) error {
	dte, err := dialRetry(ctx, vm.path("modem.sock"))
	if err != nil {
		return fmt.Errorf("modem socket: %w", err)
	}
	carrier, err := dialRetry(ctx, vm.path("isp.sock"))
	if err != nil {
		return fmt.Errorf("carrier socket: %w", err)
	}
	vm.wg.Add(2)
	go func() {
		defer vm.wg.Done()
		if err := vm.Modem.Run(ctx, dte, carrier); err != nil && ctx.Err() == nil {
			vm.log.Warn("modem simulator stopped", "err", err)
		}
	}()
	go func() {
		defer vm.wg.Done()
		err := sim.FollowQemuTrace(ctx, vm.path("qemu-trace.log"), ModemHubPort, vm.Modem)
		if err != nil && ctx.Err() == nil {
			vm.log.Warn("trace follower stopped", "err", err)
		}
	}()
	go func() { <-ctx.Done(); dte.Close(); carrier.Close() }()
	if vm.qmp, err = dialQMP(ctx, vm.path("qmp.sock")); err != nil {
		return fmt.Errorf("qmp: %w", err)
	}
	ac, err := dialRetry(ctx, vm.path("agent.sock"))
	if err != nil {
		return fmt.Errorf("agent socket: %w", err)
	}
	vm.agent = newAgentConn(ac)
	bootCtx, cancel := context.WithTimeout(ctx, vm.arch.boot)
	defer cancel()
	if err := vm.agent.waitReady(bootCtx); err != nil {
		return fmt.Errorf("guest did not come up: %w", err)
	}
	return nil
}

func dialRetry(ctx context.Context, path string) (net.Conn, error) {
	for {
		c, err := net.Dial("unix", path)
		if err == nil {
			return c, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: %w (last: %v)", path, ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Close stops the VM and everything attached to it.
func (vm *VM) Close() {
	vm.mu.Lock()
	if vm.closed {
		vm.mu.Unlock()
		return
	}
	vm.closed = true
	vm.mu.Unlock()
	if vm.qmp != nil {
		_, _ = vm.qmp.exec("quit", nil)
		vm.qmp.Close()
	}
	if vm.cmd != nil && vm.cmd.Process != nil {
		done := make(chan struct{})
		go func() { vm.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = vm.cmd.Process.Kill()
		}
	}
	vm.cancel()
	if vm.agent != nil {
		vm.agent.Close()
	}
	vm.wg.Wait()
}

// Report writes what a failing scenario needs: the guest console, the modem
// transcript, pppd's and the daemon's logs, and the qemu trace tail.
func (vm *VM) Report(w io.Writer) {
	section := func(title, body string) {
		fmt.Fprintf(w, "\n===== %s =====\n%s\n", title, strings.TrimRight(body, "\n"))
	}
	section("guest console", tail(readFile(vm.path("console.log")), 150))
	if vm.Modem != nil {
		section("modem transcript", tail(vm.Modem.Transcript(), 150))
	}
	logs, _ := filepath.Glob(vm.path("*.log"))
	sort.Strings(logs)
	for _, l := range logs {
		base := filepath.Base(l)
		if base == "console.log" {
			continue
		}
		section(base, tail(readFile(l), 80))
	}
}

func readFile(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	return string(b)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("... (%d earlier lines)", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// errNotReady is returned while the guest's agent has not said it is ready.
var errNotReady = errors.New("agent not ready")

// WorkDir is the directory shared with the guest as /mnt.
func (vm *VM) WorkDir() string { return vm.Work }

// PlugDecoy attaches a second USB serial adapter (hub port 3): it takes the
// lowest free ttyUSB name, as another device plugged in on a Pi would.
//
// Nothing is wired to its far end, and like a real adapter's line it drops
// what it is sent: the socket is read and the bytes discarded. qemu writes
// a USB serial device's output to its chardev with a blocking write, so an
// unread socket froze the whole VM once its buffer filled (about 280 small
// writes: the AT probes of modem discovery, which tries the decoy's port
// too; the 200-fault soak froze at step 42, twice).
func (vm *VM) PlugDecoy(ctx context.Context) error {
	c, err := dialRetry(ctx, vm.path("decoy.sock"))
	if err != nil {
		return err
	}
	go func() { <-ctx.Done(); c.Close() }()
	go func() { _, _ = io.Copy(io.Discard, c) }()
	vm.mu.Lock()
	vm.decoy = decoyIn
	vm.mu.Unlock()
	return nil
}

// decoyState is where the decoy adapter (PlugDecoy) is.
type decoyState int

const (
	decoyNever decoyState = iota // its socket was never connected: not enumerated
	decoyIn                      // on hub port 3, holding a ttyUSB name
	decoyOut                     // unplugged by SwapDecoy
)

// SwapDecoy plugs the decoy adapter in when it is out and pulls it out when
// it is in. Done while the modem is off, it makes the modem come back under
// another tty name, whichever name it had.
func (vm *VM) SwapDecoy(ctx context.Context) error {
	vm.mu.Lock()
	state := vm.decoy
	vm.mu.Unlock()
	var err error
	next := decoyIn
	switch state {
	case decoyNever:
		return vm.PlugDecoy(ctx)
	case decoyIn:
		_, err = vm.qmp.exec("device_del", map[string]any{"id": "decoydev"})
		next = decoyOut
	case decoyOut:
		_, err = vm.qmp.exec("device_add", map[string]any{
			"driver": "usb-serial", "id": "decoydev", "chardev": "decoy", "bus": "xhci.0", "port": "1.3",
		})
	}
	if err != nil {
		return fmt.Errorf("swapping the decoy adapter: %w", err)
	}
	vm.mu.Lock()
	vm.decoy = next
	vm.mu.Unlock()
	return nil
}

// copyGuestScripts puts bench/guest/*.sh into <work>/guest, the guest's
// /mnt/guest.
func copyGuestScripts(work string) error {
	src := filepath.Join(SourceDir(), "bench", "guest")
	names, err := filepath.Glob(filepath.Join(src, "*.sh"))
	if err != nil || len(names) == 0 {
		return fmt.Errorf("bench guest scripts in %s: %v", src, err)
	}
	if err := os.MkdirAll(filepath.Join(work, "guest"), 0o755); err != nil {
		return err
	}
	for _, n := range names {
		if err := copyFile(n, filepath.Join(work, "guest", filepath.Base(n))); err != nil {
			return err
		}
	}
	return nil
}
