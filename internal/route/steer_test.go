package route

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netns"
)

func TestSteerValidate(t *testing.T) {
	for name, s := range map[string]Steer{
		"wildcard":     {Forward: []string{"eth+"}, Cellular: "ppp0"},
		"twice":        {Forward: []string{"eth0", "eth0"}, Cellular: "ppp0"},
		"empty name":   {Forward: []string{""}, Cellular: "ppp0"},
		"no cellular":  {Forward: []string{"eth0"}},
		"own, no cell": {Own: true},
	} {
		if err := (Policy{Steer: s}).validate(); !errors.Is(err, ErrPolicy) {
			t.Errorf("%s: validate = %v, want ErrPolicy", name, err)
		}
	}
	if err := (Policy{Steer: Steer{Forward: []string{"eth0", "wlan0"}, Cellular: "ppp0", Own: true}}).validate(); err != nil {
		t.Errorf("valid steering: %v", err)
	}
}

// routeVia asks the kernel how it routes a packet described by the `ip
// route get` arguments, as "dev D table T".
func routeVia(t *testing.T, ns netns.NsHandle, args ...string) string {
	t.Helper()
	f := strings.Fields(lines(sh(t, ns, append([]string{"ip", "route", "get"}, args...)...))[0])
	val := func(key, none string) string {
		for i := range len(f) - 1 {
			if f[i] == key {
				return f[i+1]
			}
		}
		return none
	}
	return fmt.Sprintf("dev %s table %s", val("dev", "-"), val("table", "main"))
}

// TestSteerSplitsOwnFromForwarded: with steering, what the Pi forwards for
// its LAN leaves over ppp0 while its own traffic keeps eth0's default; with
// Own the Pi's traffic follows, except sockets bound to eth0 (the wired
// watch's probes); without it again, the Own rules go and nothing else
// changes; Remove leaves the kernel as it was.
func TestSteerSplitsOwnFromForwarded(t *testing.T) {
	ns, h := hostWithTwoLinks(t)
	sysctl(t, ns, "net/ipv4/ip_forward", "1")
	sysctl(t, ns, "net/ipv6/conf/all/forwarding", "1")
	before := kernelState(t, ns)
	r := NewReplyRoutes(h, nil)
	split := twoLinkPolicy()
	split.Steer = Steer{Forward: []string{"eth0"}, Cellular: "ppp0"}
	mustNoErr(t, r.Apply(split))

	wantRules := `10330:	from all iif eth0 lookup main suppress_prefixlength 0
10331:	from all iif eth0 lookup 10302
10332:	from all oif ppp0 lookup 10302
`
	ours := func(family string) string {
		var b strings.Builder
		for _, l := range lines(sh(t, ns, "ip", family, "rule")) {
			if strings.HasPrefix(l, "1033") {
				b.WriteString(l + "\n")
			}
		}
		return b.String()
	}
	diffState(t, "ip -4 rule (steering)", wantRules, ours("-4"))
	diffState(t, "ip -6 rule (steering)", wantRules, ours("-6"))

	cases := func(own bool) []struct{ args, want string } {
		mine := "dev eth0 table main"
		if own {
			mine = "dev ppp0 table 10302"
		}
		return []struct{ args, want string }{
			{"203.0.113.10", mine},                                                             // the Pi's own
			{"203.0.113.10 oif eth0", "dev eth0 table main"},                                   // the wired watch's probe
			{"203.0.113.10 oif ppp0", "dev ppp0 table 10302"},                                  // a cellular probe
			{"203.0.113.10 from 192.168.1.20 iif eth0", "dev ppp0 table 10302"},                // forwarded
			{"192.168.1.30 from 192.168.1.20 iif eth0", "dev eth0 table main"},                 // LAN to LAN
			{"2001:db8:2::10 from 2001:db8:1::20 iif eth0", "dev ppp0 table 10302"},            // forwarded, IPv6
			{"2001:db8:1::30 from 2001:db8:1::20 iif eth0", "dev eth0 table main"},             // LAN to LAN, IPv6
			{"203.0.113.10 from 192.168.1.20 iif eth0 mark 0x1000000", "dev eth0 table 10301"}, // a reply to the wired side
		}
	}
	check := func(what string, own bool) {
		t.Helper()
		for _, c := range cases(own) {
			if got := routeVia(t, ns, strings.Fields(c.args)...); got != c.want {
				t.Errorf("%s: ip route get %s: %q, want %q", what, c.args, got, c.want)
			}
		}
	}
	check("wired up", false)

	split.Steer.Own = true
	mustNoErr(t, r.Apply(split))
	check("wired down", true)
	applied := kernelState(t, ns)
	counting := &countingNetlink{replyNetlink: h, calls: map[string]int{}}
	r.nl = counting
	mustNoErr(t, r.Apply(split))
	diffState(t, "second Apply", applied, kernelState(t, ns))
	if counting.calls["write"] != 0 {
		t.Errorf("a converged Apply wrote %d times", counting.calls["write"])
	}
	r.nl = h

	split.Steer.Own = false
	mustNoErr(t, r.Apply(split))
	check("wired back", false)
	diffState(t, "ip -4 rule (wired back)", wantRules, ours("-4"))

	mustNoErr(t, r.Remove())
	if diff := cmp.Diff(lines(before), lines(kernelState(t, ns))); diff != "" {
		t.Errorf("after Remove (-want +got):\n%s", diff)
	}
}

// TestSteerGateway: gateway mode in the kernel. While the primary works,
// the only rule is the cellular probes' (the Pi's traffic and what it
// forwards both take the main table's default, the primary); while it
// fails, both leave over ppp0 but the primary watch's bound probes; back,
// and the kernel is as it was while the primary worked.
func TestSteerGateway(t *testing.T) {
	ns, h := hostWithTwoLinks(t)
	sysctl(t, ns, "net/ipv4/ip_forward", "1")
	sysctl(t, ns, "net/ipv6/conf/all/forwarding", "1")
	r := NewReplyRoutes(h, nil)
	p := twoLinkPolicy()
	p.Steer = Steer{Cellular: "ppp0"}
	mustNoErr(t, r.Apply(p))
	up := kernelState(t, ns)
	if got := sh(t, ns, "ip", "-4", "rule", "show", "priority", "10332"); !strings.Contains(got, "oif ppp0 lookup 10302") {
		t.Errorf("primary up: the cellular probes' rule is missing: %q", got)
	}
	for _, prio := range []string{"10330", "10331", "10333", "10334"} {
		if got := sh(t, ns, "ip", "-4", "rule", "show", "priority", prio); strings.TrimSpace(got) != "" {
			t.Errorf("primary up: rule %q, want none at %s", got, prio)
		}
	}
	check := func(what, via string) {
		t.Helper()
		for _, c := range []struct{ args, want string }{
			{"203.0.113.10", via},                                              // the Pi's own
			{"203.0.113.10 from 192.168.1.20 iif eth0", via},                   // a listed host's, forwarded
			{"2001:db8:2::10 from 2001:db8:1::20 iif eth0", via},               // the same, IPv6
			{"203.0.113.10 oif eth0", "dev eth0 table main"},                   // the primary watch's probe
			{"203.0.113.10 oif ppp0", "dev ppp0 table 10302"},                  // a cellular probe
			{"192.168.1.30 from 192.168.1.20 iif eth0", "dev eth0 table main"}, // LAN to LAN
		} {
			if got := routeVia(t, ns, strings.Fields(c.args)...); got != c.want {
				t.Errorf("%s: ip route get %s: %q, want %q", what, c.args, got, c.want)
			}
		}
	}
	check("primary up", "dev eth0 table main")
	p.Steer = Steer{Forward: []string{"eth0"}, Cellular: "ppp0", Own: true}
	mustNoErr(t, r.Apply(p))
	check("primary down", "dev ppp0 table 10302")
	p.Steer = Steer{Cellular: "ppp0"}
	mustNoErr(t, r.Apply(p))
	check("primary back", "dev eth0 table main")
	diffState(t, "primary back", up, kernelState(t, ns))
	mustNoErr(t, r.Remove())
}
