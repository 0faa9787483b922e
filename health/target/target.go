// Package target parses the probe targets failberry's prober runs. It is
// its own small package so the config (which checks the file) and the
// prober (which runs the targets) share one parser without importing each
// other.
package target

import (
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Target is one end-to-end check the prober runs. Parse is the one place
// that says which targets it can run: the config check and the prober both
// use it, so a target `failberry check` accepts is one the prober runs.
type Target struct {
	Kind string // "icmp", "tcp" or "http"
	// Addr is an IPv4 address for icmp, host:port for tcp, the URL for http.
	Addr string
}

// String gives the form Parse reads.
func (t Target) String() string {
	if t.Kind == "http" {
		return t.Addr
	}
	return t.Kind + ":" + t.Addr
}

// Parse reads "icmp:1.1.1.1", "tcp:9.9.9.9:53",
// "tcp:[2606:4700::1111]:443" or "http://example.com/". It accepts exactly
// what the prober can run: ICMP echo to an IPv4 literal (no name lookup, no
// IPv6 echo yet) and plain HTTP (the prober speaks no TLS).
func Parse(s string) (Target, error) {
	bad := func(why string) (Target, error) {
		return Target{}, fmt.Errorf("%q %s; use \"icmp:1.1.1.1\", \"tcp:9.9.9.9:53\" or \"http://example.com/\"", s, why)
	}
	kind, rest, _ := strings.Cut(s, ":")
	switch kind {
	case "icmp":
		if a, err := netip.ParseAddr(rest); err != nil || !a.Is4() {
			return bad("has no IPv4 address after icmp: (the prober pings IPv4 addresses, not names)")
		}
		return Target{Kind: "icmp", Addr: rest}, nil
	case "tcp":
		host, port, err := net.SplitHostPort(rest)
		if err != nil || host == "" || !ValidHost(host) {
			return bad("is not tcp:host:port")
		}
		if !ValidPort(port) {
			return bad("has a port outside 1..65535")
		}
		return Target{Kind: "tcp", Addr: rest}, nil
	case "https":
		return bad("is an https URL; the prober speaks plain http only")
	case "http":
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || !strings.HasPrefix(rest, "//") || !ValidHost(u.Hostname()) {
			return bad("is not an http:// URL with a host")
		}
		if p := u.Port(); p != "" && !ValidPort(p) {
			return bad("has a port outside 1..65535")
		}
		return Target{Kind: "http", Addr: s}, nil
	}
	return bad("is not a probe target")
}

func (t *Target) UnmarshalYAML(n *yaml.Node) (err error) {
	*t, err = Parse(n.Value)
	return err
}

func (t Target) MarshalYAML() (any, error) { return t.String(), nil }

var hostRe = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$`)

// ValidHost reports whether h is an IP address or a host name.
func ValidHost(h string) bool {
	_, err := netip.ParseAddr(h)
	return err == nil || len(h) <= 253 && hostRe.MatchString(h)
}

// ValidPort reports whether p is a port number from 1 to 65535.
func ValidPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n >= 1 && n <= 65535
}
