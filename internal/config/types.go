package config

import (
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"go.yaml.in/yaml/v3"
)

// Value types whose YAML form differs from Go's. Each reads what a user
// writes and prints the same form back, so `failberry check` output parses.

// Duration is written with a unit, "90s" or "1m"; a bare number is an error
// (the walker says so), as "90" could mean seconds or nanoseconds.
type Duration time.Duration

// String prints the duration as a user writes it: "1m", not "1m0s".
func (d Duration) String() string {
	s, _ := strings.CutSuffix(time.Duration(d).String(), "m0s")
	if s != time.Duration(d).String() {
		s += "m"
	}
	return strings.Replace(s, "h0m", "h", 1)
}

func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	*d = Duration(v)
	return err
}

func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// Bytes is a byte count: 5000000, "5MB", "512KiB", "1GB".
type Bytes int64

func (b *Bytes) UnmarshalYAML(n *yaml.Node) error {
	v, err := humanize.ParseBytes(n.Value)
	if err != nil || v > 1<<62 {
		return fmt.Errorf("%q is not a byte count; use a number such as 5000000 or \"5MB\" (0 turns the check off)", n.Value)
	}
	*b = Bytes(v)
	return nil
}

// MB prints a byte count for messages.
func (b Bytes) MB() string { return fmt.Sprintf("%.1f MB", float64(b)/1e6) }

// Source is a host or network allowed to fail over: "192.168.1.20" (one
// host, /32 or /128) or "192.168.1.0/24".
type Source struct{ netip.Prefix }

func (s *Source) UnmarshalYAML(n *yaml.Node) error {
	if a, err := netip.ParseAddr(n.Value); err == nil && a.Zone() == "" {
		s.Prefix = netip.PrefixFrom(a, a.BitLen())
		return nil
	}
	p, err := netip.ParsePrefix(n.Value)
	if err != nil {
		return fmt.Errorf("%q is not an address or network; use a host such as 192.168.1.20 or a CIDR such as 192.168.1.0/24", n.Value)
	}
	if p != p.Masked() {
		return fmt.Errorf("%q has host bits set; write the network %s, or the host without /%d", n.Value, p.Masked(), p.Bits())
	}
	s.Prefix = p
	return nil
}

func (s Source) MarshalYAML() (any, error) { return s.String(), nil }

// USBID is a USB vendor:product such as "19d2:0031", kept in lower case as
// sysfs writes it.
type USBID string

var usbIDRe = regexp.MustCompile(`^[0-9a-fA-F]{4}:[0-9a-fA-F]{4}$`)

func (u *USBID) UnmarshalYAML(n *yaml.Node) error {
	if !usbIDRe.MatchString(n.Value) {
		return fmt.Errorf("%q is not a USB vendor:product id; use four hex digits each, such as \"19d2:0031\" (see lsusb)", n.Value)
	}
	*u = USBID(strings.ToLower(n.Value))
	return nil
}
