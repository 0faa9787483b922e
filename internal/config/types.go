package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Value types whose YAML form differs from Go's. Each reads what a user
// writes and prints the same form back, so `failberry check` output parses.

// Duration is written with a unit, "90s" or "1m"; a bare number is an error
// (the walker says so), as "90" could mean seconds or nanoseconds.
type Duration time.Duration

// String prints the duration as a user writes it: "1m", not "1m0s".
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
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
	s := strings.TrimSpace(n.Value)
	mult := 1.0
	for _, u := range []struct {
		suffix string
		mult   float64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}} {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v >= 0) || v*mult > 1<<62 {
		return fmt.Errorf("%q is not a byte count; use a number such as 5000000 or \"5MB\" (0 turns the check off)", n.Value)
	}
	*b = Bytes(v * mult)
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

// ProbeTarget is one end-to-end check the prober (package health) runs.
// ParseProbeTarget is the one place that says which targets it can run.
type ProbeTarget struct {
	Kind string // "icmp", "tcp" or "http"
	// Addr is an IPv4 address for icmp, host:port for tcp, the URL for http.
	Addr string
}

// String gives the form ParseProbeTarget reads.
func (t ProbeTarget) String() string {
	if t.Kind == "http" {
		return t.Addr
	}
	return t.Kind + ":" + t.Addr
}

// ParseProbeTarget reads "icmp:1.1.1.1", "tcp:9.9.9.9:53",
// "tcp:[2606:4700::1111]:443" or "http://example.com/". It accepts exactly
// what the prober can run: ICMP echo to an IPv4 literal (no name lookup, no
// IPv6 echo yet) and plain HTTP (the prober speaks no TLS).
func ParseProbeTarget(s string) (ProbeTarget, error) {
	bad := func(why string) (ProbeTarget, error) {
		return ProbeTarget{}, fmt.Errorf("%q %s; use \"icmp:1.1.1.1\", \"tcp:9.9.9.9:53\" or \"http://example.com/\"", s, why)
	}
	kind, rest, _ := strings.Cut(s, ":")
	switch kind {
	case "icmp":
		if a, err := netip.ParseAddr(rest); err != nil || !a.Is4() {
			return bad("has no IPv4 address after icmp: (the prober pings IPv4 addresses, not names)")
		}
		return ProbeTarget{Kind: "icmp", Addr: rest}, nil
	case "tcp":
		host, port, err := net.SplitHostPort(rest)
		if err != nil || host == "" || checkHost(host) != "" {
			return bad("is not tcp:host:port")
		}
		if !validPort(port) {
			return bad("has a port outside 1..65535")
		}
		return ProbeTarget{Kind: "tcp", Addr: rest}, nil
	case "https":
		return bad("is an https URL; the prober speaks plain http only")
	case "http":
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || !strings.HasPrefix(rest, "//") || checkHost(u.Hostname()) != "" {
			return bad("is not an http:// URL with a host")
		}
		if p := u.Port(); p != "" && !validPort(p) {
			return bad("has a port outside 1..65535")
		}
		return ProbeTarget{Kind: "http", Addr: s}, nil
	}
	return bad("is not a probe target")
}

func (t *ProbeTarget) UnmarshalYAML(n *yaml.Node) (err error) {
	*t, err = ParseProbeTarget(n.Value)
	return err
}

func (t ProbeTarget) MarshalYAML() (any, error) { return t.String(), nil }
