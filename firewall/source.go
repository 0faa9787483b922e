package firewall

import (
	"fmt"
	"net/netip"

	"go.yaml.in/yaml/v3"
)

// Source is a host or network allowed to fail over, as the config writes it:
// "192.168.1.20" (one host, /32 or /128) or "192.168.1.0/24" (the network,
// without host bits).
type Source struct{ netip.Prefix }

// UnmarshalYAML reads a host or a network and refuses host bits.
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

// MarshalYAML prints the form UnmarshalYAML reads.
func (s Source) MarshalYAML() (any, error) { return s.String(), nil }
