package route

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
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

// TestSteerGatewayPrimaryUp: gateway mode while the primary works steers
// nothing but the cellular link's own bound sockets (its probes); the zero
// Steer of replace mode has no rule at all.
func TestSteerGatewayPrimaryUp(t *testing.T) {
	rs := steerRules(unix.AF_INET, Steer{Cellular: "ppp0"})
	if len(rs) != 1 || rs[0].OifName != "ppp0" || rs[0].IifName != "" || rs[0].Priority != SteerPriority+2 {
		t.Errorf("rules %+v, want the one oif ppp0 rule", rs)
	}
	if rs := steerRules(unix.AF_INET, Steer{}); len(rs) != 0 {
		t.Errorf("the zero Steer has rules %+v", rs)
	}
}
