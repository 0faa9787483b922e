package config

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// ProbeTarget is one end-to-end check.
type ProbeTarget struct {
	// Kind is "icmp", "tcp" or "http" (http also covers https URLs).
	Kind string
	// Addr is a host for icmp, host:port for tcp, the full URL for http.
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
// "tcp:[2606:4700::1111]:443" or "http://example.com/" (or https).
func ParseProbeTarget(s string) (ProbeTarget, error) {
	bad := func(why string) (ProbeTarget, error) {
		return ProbeTarget{}, fmt.Errorf("%q %s; use \"icmp:1.1.1.1\", \"tcp:9.9.9.9:53\" or \"http://example.com/\"", s, why)
	}
	kind, rest, _ := strings.Cut(s, ":")
	switch kind {
	case "icmp":
		if msg := checkHost(rest); rest == "" || msg != "" {
			return bad("has no valid host after icmp:")
		}
		return ProbeTarget{Kind: "icmp", Addr: rest}, nil
	case "tcp":
		host, port, err := net.SplitHostPort(rest)
		if err != nil || checkHost(host) != "" || host == "" {
			return bad("is not tcp:host:port")
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return bad("has a port outside 1..65535")
		}
		return ProbeTarget{Kind: "tcp", Addr: rest}, nil
	case "http", "https":
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || !strings.HasPrefix(rest, "//") || checkHost(u.Hostname()) != "" {
			return bad("is not an http(s) URL with a host")
		}
		if p := u.Port(); p != "" {
			if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
				return bad("has a port outside 1..65535")
			}
		}
		return ProbeTarget{Kind: "http", Addr: s}, nil
	}
	return bad("is not a probe target")
}

// Approximate IP bytes (both directions) of one probe of each kind, used
// to check the daily budget. ICMP: echo with 56 data bytes, request and
// reply. TCP: handshake and close, about seven 52-60 byte segments. HTTP: a
// TCP exchange plus a small request and response headers.
const (
	icmpProbeBytes = 2 * (20 + 8 + 56)
	tcpProbeBytes  = 400
	httpProbeBytes = 1600
)

// BytesPerRound estimates the traffic of one round over all targets.
func (p Probes) BytesPerRound() int64 {
	var n int64
	for _, t := range p.Targets {
		switch t.Kind {
		case "icmp":
			n += icmpProbeBytes
		case "tcp":
			n += tcpProbeBytes
		default:
			n += httpProbeBytes
		}
	}
	return n
}

// EstimatedBytesPerDay is the probe traffic of a day at Interval (the
// healthy rate, which is the steady state).
func (p Probes) EstimatedBytesPerDay() int64 {
	if p.Interval <= 0 {
		return 0
	}
	rounds := int64(24 * time.Hour / p.Interval)
	return rounds * p.BytesPerRound()
}

// parseBytes reads a byte count: 5000000, "5MB", "512KiB", "1GB".
func parseBytes(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v >= 0) || v*float64(mult) > 1<<62 {
		return 0, false
	}
	return int64(v * float64(mult)), true
}

// formatMB prints a byte count for messages.
func formatMB(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

// isWildcard reports whether a listen host means "every address".
func isWildcard(host string) bool {
	a, err := netip.ParseAddr(host)
	return host == "" || (err == nil && a.IsUnspecified())
}
