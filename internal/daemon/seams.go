package daemon

// The daemon's seams: each operation it asks of the OS, as a small interface
// defined here, where it is used. Options leaves them nil for the real
// system; the scenario tests pass fakes that record the calls, the way
// tailscale's router tests replay desired states against a fake.

import (
	"context"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"os/exec"
	"time"

	"github.com/failberry/failberry/firewall"
	"github.com/failberry/failberry/health"
	"github.com/failberry/failberry/internal/route"
	"github.com/failberry/failberry/modem"
	"github.com/failberry/failberry/modem/netcard"
	"github.com/failberry/failberry/modem/pppd"
	"github.com/failberry/failberry/usbpower"
)

// ATPort is the modem's AT port opened for bring-up, discovery probes,
// resets and `failberry at`.
type ATPort interface {
	modem.Port
	io.Closer
}

// DialLine is the session's line: bring-up and the dial run on it, and the
// held pppd inherits its descriptor (File) from the start; once pppd is
// released the daemon closes its own copy.
type DialLine interface {
	modem.Port
	io.Closer
	File() *os.File
}

// Serial opens the modem's tty in the two ways the daemon needs.
type Serial interface {
	// OpenAT opens path through go.bug.st/serial (exclusive, 8N1 at baud).
	OpenAT(path string, baud int) (ATPort, error)
	// OpenDial opens path as a plain raw file for a session (bring-up, the
	// dial and pppd), as wvdial does.
	OpenDial(path string, baud int) (DialLine, error)
}

// PPP is a running pppd: *pppd.Process.
type PPP interface {
	// Done is closed once pppd has exited.
	Done() <-chan struct{}
	// Wait returns pppd's exit (an *pppd.ExitError for a non-zero status).
	Wait() error
	// Stop hangs up, kills after grace, and returns once pppd is reaped.
	Stop(grace time.Duration) error
	Pid() int
	// Release lets pppd go on to the line: until then it has loaded but
	// not touched the line (pppd.Start).
	Release() error
}

// StartPPP starts pppd with o on line, held until Release.
type StartPPP func(ctx context.Context, o pppd.Options, line DialLine, logger *slog.Logger) (PPP, error)

// NetLink is a network-card stick's running link with its DHCP lease:
// *netcard.Link. Like a PPP it ends (Done, Wait) when the link is lost.
type NetLink interface {
	Done() <-chan struct{}
	Wait() error
	Stop(grace time.Duration) error
	Lease() netcard.Lease
}

// Netcard runs network-card sticks' links: package netcard.
type Netcard interface {
	// Start renames the interface, sets it up and takes a DHCP lease.
	Start(ctx context.Context, cfg netcard.Config) (NetLink, error)
	// Bounce sets the named interface down and up again.
	Bounce(ctx context.Context, name string) error
}

// WatchLink calls fn with the state of interface name now and after every
// change, until ctx ends (returning ctx.Err()) or the watch fails.
type WatchLink func(ctx context.Context, name string, fn func(route.Link)) error

// Routes owns the daemon's routing: the PPP default route and reply routing.
type Routes interface {
	// Apply converges the default route onto l; safe to repeat.
	Apply(l route.Link) error
	// Withdraw removes it and puts back what it displaced.
	Withdraw() error
	// Gateways is how the named link's default routes leave (reply routing).
	Gateways(name string) (v4, v6 route.Hop, err error)
	// ApplyReplies converges reply routing onto p; safe to repeat.
	ApplyReplies(p route.Policy) error
	// RemoveReplies removes every rule and table of reply routing.
	RemoveReplies() error
}

// Firewall converges the kernel's rules: *firewall.Firewall.
type Firewall interface {
	Apply(ctx context.Context, r firewall.Ruleset) error
	// Keep re-applies r every interval until ctx ends.
	Keep(ctx context.Context, r firewall.Ruleset, every time.Duration) error
	Cleanup(ctx context.Context) error
}

// MeterCounter is a Firewall that can read the metered link's rule
// counters (*firewall.Firewall): the health port's share and the Pi's own.
// Without it the meter counts the link's bytes only.
type MeterCounter interface {
	MeterCounters(ctx context.Context) (firewall.MeterCounters, error)
}

// USBPower switches the modem's hub port off and on again.
type USBPower interface {
	Cycle(ctx context.Context, loc usbpower.Location, off time.Duration) (usbpower.Timing, error)
}

// Runner runs a command (the reboot command) and returns its combined output.
type Runner func(ctx context.Context, argv []string) ([]byte, error)

// PathProber probes the cellular path: *health.Prober.
type PathProber interface {
	Run(ctx context.Context) error
	// Changes delivers each change of the path's verdict (true: passes).
	Changes() <-chan bool
	CellularOK() bool
	Snapshot() health.ProbeStats
	// Observe takes the link's traffic since the last sample (passive
	// detection); it must not block.
	Observe(t health.Traffic)
}

// NewProber returns a prober for cfg, which has at least one target.
type NewProber func(cfg health.ProberConfig, logger *slog.Logger) PathProber

// FlushConntrack forgets the connections of addr, returning how many.
type FlushConntrack func(addr netip.Addr) (uint, error)

// ForgetMarked forgets the connections whose mark within mask is mark,
// returning how many.
type ForgetMarked func(mark, mask uint32) (uint, error)

// systemSerial opens the real ttys.
type systemSerial struct{}

func (systemSerial) OpenAT(path string, baud int) (ATPort, error) {
	return modem.OpenSerial(path, baud)
}
func (systemSerial) OpenDial(path string, baud int) (DialLine, error) {
	return modem.OpenDialFile(path, baud)
}

func startPPPD(ctx context.Context, o pppd.Options, line DialLine, logger *slog.Logger) (PPP, error) {
	return pppd.Start(ctx, o, line.File(), logger)
}

// systemRoutes is the route package over the current network namespace.
type systemRoutes struct {
	*route.Manager
	replies *route.ReplyRoutes
}

func (r systemRoutes) ApplyReplies(p route.Policy) error { return r.replies.Apply(p) }
func (r systemRoutes) RemoveReplies() error              { return r.replies.Remove() }

// systemUSB switches hub ports through sysfs, or libusb where sysfs cannot.
type systemUSB struct {
	sysRoot string
	log     *slog.Logger
}

func (u systemUSB) Cycle(ctx context.Context, loc usbpower.Location, off time.Duration) (usbpower.Timing, error) {
	ctl := usbpower.NewController(u.sysRoot, u.log) // libusb only where sysfs cannot switch
	if c, ok := ctl.(io.Closer); ok {
		defer c.Close()
	}
	c := usbpower.Cycler{Ctl: ctl, SysRoot: u.sysRoot, Logger: u.log, OffTime: off, Repeat: true}
	return c.Cycle(ctx, loc)
}

func runCommand(ctx context.Context, argv []string) ([]byte, error) {
	return exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
}

func newHealthProber(cfg health.ProberConfig, logger *slog.Logger) PathProber {
	return health.NewProber(cfg, logger)
}

// systemNetcard is package netcard in the current network namespace.
type systemNetcard struct{}

func (systemNetcard) Start(ctx context.Context, cfg netcard.Config) (NetLink, error) {
	return netcard.Start(ctx, cfg)
}

// bouncePause is how long a bounced interface stays down: long enough for
// the stick's USB network function to notice.
const bouncePause = 2 * time.Second

func (systemNetcard) Bounce(ctx context.Context, name string) error {
	return netcard.Bounce(ctx, nil, name, bouncePause)
}
