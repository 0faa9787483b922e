package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/failberry/failberry/usbpower"
)

// cmdUSB replaces hub-ctrl and uhubctl for the modem's port:
//
//	failberry usb status [--hub 1-1]
//	failberry usb off|on|cycle (--hub 1-1 --port 2 | --tty /dev/ttyUSB2)
//
// Every switch is checked against the Raspberry Pi's topology first, so the
// port that carries the Pi's Ethernet is never cut.
func cmdUSB(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return &exitError{2, errors.New("usage: failberry usb status|off|on|cycle [--hub H --port N | --tty TTY]")}
	}
	verb := args[0]
	fs := flag.NewFlagSet("usb "+verb, flag.ContinueOnError)
	fs.SetOutput(stderr)
	hub := fs.String("hub", "", "hub name as uhubctl prints it, e.g. 1-1")
	port := fs.Int("port", 0, "port number on the hub")
	tty := fs.String("tty", "", "find hub and port from the modem's tty, e.g. /dev/ttyUSB2")
	sysRoot := fs.String("sysfs", "/sys", "sysfs root")
	offTime := fs.Duration("off-time", 3*time.Second, "cycle: how long the port stays off")
	if err := fs.Parse(args[1:]); err != nil {
		return &exitError{2, err}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if verb == "status" { // port status bits come only from hub requests
		ctl, err := usbpower.NewGousb(*sysRoot, log)
		if err != nil {
			return fmt.Errorf("usb: %w", err)
		}
		if c, ok := ctl.(io.Closer); ok {
			defer c.Close()
		}
		return usbStatus(ctx, ctl, *hub, stdout)
	}
	ctl := usbpower.NewController(*sysRoot, log) // switching needs no libusb where sysfs can do it
	if c, ok := ctl.(io.Closer); ok {
		defer c.Close()
	}
	loc, err := usbTarget(*sysRoot, *hub, *port, *tty)
	if err != nil {
		return &exitError{2, err}
	}
	board := usbpower.DetectBoard(*sysRoot)
	switch verb {
	case "off", "on":
		hubs, err := ctl.Hubs(ctx)
		if err != nil {
			return err
		}
		impact, err := usbpower.Assess(board, hubs, loc.Hub, loc.Port)
		if err != nil {
			return err
		}
		for _, p := range impact.Affected {
			fmt.Fprintf(stderr, "note: port %s shares this port's power\n", p)
		}
		for _, p := range impact.Switch {
			if err := ctl.SetPortPower(ctx, p.Hub, p.Port, verb == "on"); err != nil {
				return err
			}
			fmt.Fprintf(stdout, "hub %s port %d: power %s\n", p.Hub, p.Port, verb)
		}
		return nil
	case "cycle":
		c := usbpower.Cycler{Ctl: ctl, SysRoot: *sysRoot, Board: board, OffTime: *offTime, Repeat: true, Logger: log}
		t, err := c.Cycle(ctx, loc)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "hub %s port %d: power cycled (off %v)\n", loc.Hub, loc.Port, t.Off.Round(time.Millisecond))
		return nil
	}
	return &exitError{2, fmt.Errorf("usb: unknown action %q (status, off, on, cycle)", verb)}
}

func usbTarget(sysRoot, hub string, port int, tty string) (usbpower.Location, error) {
	switch {
	case tty != "" && (hub != "" || port != 0):
		return usbpower.Location{}, errors.New("give either --tty or --hub and --port, not both")
	case tty != "":
		return usbpower.LocateTTY(sysRoot, tty)
	case hub == "" || port <= 0:
		return usbpower.Location{}, errors.New("which port? give --hub and --port, or --tty")
	}
	return usbpower.Location{Hub: hub, Port: port}, nil
}

// usbStatus prints the hubs like uhubctl. No hub at all is an error, not an
// empty listing: it means no USB, no permission to open the hubs, or a
// board with nothing to switch, and a script must be able to tell.
func usbStatus(ctx context.Context, ctl usbpower.Controller, hub string, stdout io.Writer) error {
	hubs, err := ctl.Hubs(ctx)
	if err != nil {
		return err
	}
	if len(hubs) == 0 {
		return errors.New("usb status: no USB hub found (no USB bus, or no permission to open the hubs: run as root)")
	}
	if hub != "" {
		var keep []usbpower.Hub
		for _, h := range hubs {
			if h.Name == hub || strings.HasPrefix(h.Name, hub+".") {
				keep = append(keep, h)
			}
		}
		if len(keep) == 0 {
			return fmt.Errorf("no hub %q", hub)
		}
		hubs = keep
	}
	usbpower.FormatStatus(stdout, hubs)
	return nil
}
