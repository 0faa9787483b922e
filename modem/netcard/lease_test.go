package netcard

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

func ack(t *testing.T, yiaddr string, mods ...dhcpv4.Modifier) *dhcpv4.DHCPv4 {
	t.Helper()
	m, err := dhcpv4.New(append([]dhcpv4.Modifier{dhcpv4.WithYourIP(net.ParseIP(yiaddr))}, mods...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// What a stick's DHCP server sends is garbage until proven otherwise.
func TestParseLease(t *testing.T) {
	router := func(s string) dhcpv4.Modifier { return dhcpv4.WithRouter(net.ParseIP(s)) }
	mask := dhcpv4.WithNetmask(net.CIDRMask(24, 32))
	lt := func(d time.Duration) dhcpv4.Modifier { return dhcpv4.WithLeaseTime(uint32(d / time.Second)) }
	now := time.Unix(1e9, 0)
	good, err := parseLease(ack(t, "192.168.8.100", mask, router("192.168.8.1"), lt(time.Hour)), now)
	if err != nil {
		t.Fatal(err)
	}
	if good.Addr != netip.MustParsePrefix("192.168.8.100/24") || good.Router != netip.MustParseAddr("192.168.8.1") ||
		good.T1 != 30*time.Minute || good.T2 != 52*time.Minute+30*time.Second || good.Lifetime != time.Hour {
		t.Errorf("lease = %+v", good)
	}
	for name, tc := range map[string]struct {
		m    *dhcpv4.DHCPv4
		want string
	}{
		"no address":        {ack(t, "0.0.0.0", mask, router("192.168.8.1")), "no usable address"},
		"no router":         {ack(t, "192.168.8.100", mask), "no router"},
		"router elsewhere":  {ack(t, "192.168.8.100", mask, router("10.0.0.1")), "no router on its subnet"},
		"router is us":      {ack(t, "192.168.8.100", mask, router("192.168.8.100")), "no router"},
		"multicast address": {ack(t, "224.0.0.1", mask, router("192.168.8.1")), "no usable address"},
	} {
		if _, err := parseLease(tc.m, now); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, tc.want)
		}
	}
	// A lease of 1 s would renew twice a second: floored.
	short, err := parseLease(ack(t, "192.168.8.100", mask, router("192.168.8.1"), lt(time.Second)), now)
	if err != nil || short.Lifetime != 10*time.Second || short.T1 != 5*time.Second {
		t.Errorf("a 1 s lease = %+v, %v", short, err)
	}
}
