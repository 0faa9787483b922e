package route

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"

	"github.com/failberry/failberry/internal/testenv"
)

func TestPolicyValidate(t *testing.T) {
	gw4, gw6 := Hop{Gateway: netip.MustParseAddr("192.168.1.1")}, Hop{Gateway: netip.MustParseAddr("fe80::1%eth0")}
	good := Policy{Uplinks: []Uplink{
		{Name: "eth0", Mark: MarkWired, V4: gw4, V6: gw6},
		{Name: "ppp0", Mark: MarkCellular, V4: Hop{Direct: true}, V6: Hop{Direct: true}},
		{Name: "eth1", Mark: 0x0f000000, V6: Hop{Gateway: netip.MustParseAddr("fe80::2")}},
	}}
	if err := good.validate(); err != nil {
		t.Errorf("valid policy: %v", err)
	}
	if err := (Policy{}).validate(); err != nil {
		t.Errorf("empty policy: %v", err)
	}
	for name, u := range map[string][]Uplink{
		"no name":             {{Mark: MarkWired, V4: gw4}},
		"zero mark":           {{Name: "eth0", V4: gw4}},
		"mark outside mask":   {{Name: "eth0", Mark: 0x00010000, V4: gw4}},
		"mark partly outside": {{Name: "eth0", Mark: MarkWired | 1, V4: gw4}},
		"same mark twice":     {{Name: "eth0", Mark: MarkWired, V4: gw4}, {Name: "eth1", Mark: MarkWired, V4: gw4}},
		"same link twice":     {{Name: "eth0", Mark: MarkWired, V4: gw4}, {Name: "eth0", Mark: MarkCellular, V4: gw4}},
		"v6 gateway as v4":    {{Name: "eth0", Mark: MarkWired, V4: gw6}},
		"v4 gateway as v6":    {{Name: "eth0", Mark: MarkWired, V6: gw4}},
		"gateway and direct":  {{Name: "eth0", Mark: MarkWired, V4: Hop{Gateway: gw4.Gateway, Direct: true}}},
		"zone of another":     {{Name: "eth0", Mark: MarkWired, V6: Hop{Gateway: netip.MustParseAddr("fe80::1%wlan0")}}},
		"unspecified gateway": {{Name: "eth0", Mark: MarkWired, V4: Hop{Gateway: netip.IPv4Unspecified()}}},
	} {
		if err := (Policy{Uplinks: u}).validate(); !errors.Is(err, ErrPolicy) {
			t.Errorf("%s: validate = %v, want ErrPolicy", name, err)
		}
	}
	// Apply refuses before it touches the kernel (a nil handle would panic).
	if err := (&ReplyRoutes{}).Apply(Policy{Uplinks: []Uplink{{Name: "eth0", V4: gw4}}}); !errors.Is(err, ErrPolicy) {
		t.Errorf("Apply(invalid) = %v", err)
	}
}

// The numbers are a contract with the firewall and with other users of the
// mark, priorities and tables: they must stay inside the documented ranges.
func TestNumbering(t *testing.T) {
	if PriorityFirst <= 0 || PriorityLast >= 32766 || TableFirst <= 255 || TableLast >= 51820 {
		t.Errorf("priorities %d-%d, tables %d-%d", PriorityFirst, PriorityLast, TableFirst, TableLast)
	}
	seenPrio, seenTable := map[int]bool{}, map[int]bool{}
	for s := 1; s <= maxSlot; s++ {
		mark := uint32(s) << 24
		if mark&^MarkMask != 0 {
			t.Fatalf("slot %d: mark %#x outside the mask", s, mark)
		}
		p, tb := priorityOf(mark), tableOf(mark)
		if p < PriorityFirst || p+1 > PriorityLast || tb < TableFirst || tb > TableLast || seenPrio[p] || seenTable[tb] {
			t.Errorf("slot %d: priorities %d,%d table %d", s, p, p+1, tb)
		}
		seenPrio[p], seenTable[tb] = true, true
	}
}

// inNS runs fn on a thread in ns: sockets and child processes made there
// belong to ns. If the thread cannot be put back, it is not reused.
func inNS(t *testing.T, ns netns.NsHandle, fn func()) {
	t.Helper()
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		t.Fatal(err)
	}
	defer orig.Close()
	defer func() {
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
	}()
	mustNoErr(t, netns.Set(ns))
	fn()
}

// sh runs a command in ns and returns its output.
func sh(t *testing.T, ns netns.NsHandle, argv ...string) string {
	t.Helper()
	var out []byte
	var err error
	inNS(t, ns, func() { out, err = exec.Command(argv[0], argv[1:]...).CombinedOutput() })
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

// sysctl sets /proc/sys/<key> in ns.
func sysctl(t *testing.T, ns netns.NsHandle, key, value string) {
	t.Helper()
	inNS(t, ns, func() { mustNoErr(t, os.WriteFile("/proc/sys/"+key, []byte(value), 0o644)) })
}

// quietNS is newNS with IPv6 duplicate address detection off, so addresses
// and the kernel's routes for them are final at once and `ip` output is
// stable from one look to the next.
func quietNS(t *testing.T) (netns.NsHandle, *netlink.Handle) {
	t.Helper()
	testenv.RequireTools(t, "ip")
	ns, h := newNS(t)
	sysctl(t, ns, "net/ipv6/conf/all/accept_dad", "0")
	sysctl(t, ns, "net/ipv6/conf/default/accept_dad", "0")
	return ns, h
}

func addAddr(t *testing.T, h *netlink.Handle, link, cidr string) {
	t.Helper()
	l, err := h.LinkByName(link)
	mustNoErr(t, err)
	a, err := netlink.ParseAddr(cidr)
	mustNoErr(t, err)
	if a.IP.To4() == nil {
		a.Flags = unix.IFA_F_NODAD
	}
	mustNoErr(t, h.AddrAdd(l, a))
}

func addDefault(t *testing.T, h *netlink.Handle, link, gw string) {
	t.Helper()
	l, err := h.LinkByName(link)
	mustNoErr(t, err)
	ip := net.ParseIP(gw)
	family := netlink.FAMILY_V6
	if ip.To4() != nil {
		family = netlink.FAMILY_V4
	}
	mustNoErr(t, h.RouteAdd(&netlink.Route{LinkIndex: l.Attrs().Index, Dst: zeroNet(family), Gw: ip}))
}

// hostWithTwoLinks is a Pi with eth0 (default via the main router, IPv4 and
// link-local IPv6) and a ppp0 stand-in, plus rules and a table of another
// program, which must survive everything.
func hostWithTwoLinks(t *testing.T) (netns.NsHandle, *netlink.Handle) {
	ns, h := quietNS(t)
	addLink(t, h, "eth0", "192.168.1.10/24", "")
	addAddr(t, h, "eth0", "2001:db8:1::10/64")
	addDefault(t, h, "eth0", "192.168.1.1")
	addDefault(t, h, "eth0", "fe80::1")
	addLink(t, h, "ppp0", "10.64.64.64/32", "10.64.64.1/32")
	addAddr(t, h, "ppp0", "2001:db8:c::64/64")
	for _, family := range []string{"-4", "-6"} {
		sh(t, ns, "ip", family, "rule", "add", "priority", "5270", "fwmark", "0x80000/0xff0000", "lookup", "52")
		// Inside our priority range, but not our mask: not ours.
		sh(t, ns, "ip", family, "rule", "add", "priority", "10305", "fwmark", "0x4000/0x4000", "lookup", "100")
	}
	sh(t, ns, "ip", "-4", "route", "add", "default", "via", "192.168.1.1", "dev", "eth0", "table", "100")
	sh(t, ns, "ip", "-6", "route", "add", "default", "via", "fe80::1", "dev", "eth0", "table", "100")
	return ns, h
}

func twoLinkPolicy() Policy {
	return Policy{Uplinks: []Uplink{
		{Name: "eth0", Mark: MarkWired, V4: Hop{Gateway: netip.MustParseAddr("192.168.1.1")}, V6: Hop{Gateway: netip.MustParseAddr("fe80::1%eth0")}},
		{Name: "ppp0", Mark: MarkCellular, V4: Hop{Direct: true}, V6: Hop{Direct: true}},
	}}
}

// kernelState is what `ip` shows of every rule and every routing table.
func kernelState(t *testing.T, ns netns.NsHandle) string {
	t.Helper()
	var b strings.Builder
	for _, args := range [][]string{{"-4", "rule"}, {"-6", "rule"}, {"-4", "route", "show", "table", "all"}, {"-6", "route", "show", "table", "all"}} {
		fmt.Fprintf(&b, "# ip %s\n%s", strings.Join(args, " "), sh(t, ns, append([]string{"ip"}, args...)...))
	}
	return b.String()
}

// routeGet asks the kernel how it would route a packet to dst with mark
// (none when empty), as "dev D via G table T" ("-" for no gateway).
func routeGet(t *testing.T, ns netns.NsHandle, dst, mark string) string {
	t.Helper()
	args := []string{"ip", "route", "get", dst}
	if mark != "" {
		args = append(args, "mark", mark)
	}
	f := strings.Fields(lines(sh(t, ns, args...))[0])
	val := func(key, none string) string {
		for i := range len(f) - 1 {
			if f[i] == key {
				return f[i+1]
			}
		}
		return none
	}
	return fmt.Sprintf("dev %s via %s table %s", val("dev", "-"), val("via", "-"), val("table", "main"))
}

func lines(s string) []string { return strings.Split(strings.TrimRight(s, "\n"), "\n") }

// tableRoutes lists the routes `ip route show table all` shows in our tables.
func tableRoutes(t *testing.T, ns netns.NsHandle, family string) []string {
	t.Helper()
	var out []string
	for _, l := range lines(sh(t, ns, "ip", family, "route", "show", "table", "all")) {
		for tb := TableFirst; tb <= TableLast; tb++ {
			if strings.Contains(l, fmt.Sprintf(" table %d ", tb)) {
				out = append(out, l)
			}
		}
	}
	return out
}

func diffState(t *testing.T, what string, want, got string) {
	t.Helper()
	if diff := cmp.Diff(lines(want), lines(got)); diff != "" {
		t.Errorf("%s: kernel state (-want +got):\n%s", what, diff)
	}
}

// countingNetlink counts what ReplyRoutes asks of the kernel.
type countingNetlink struct {
	replyNetlink
	calls map[string]int
}

func (c *countingNetlink) LinkByName(n string) (netlink.Link, error) {
	c.calls["LinkByName"]++
	return c.replyNetlink.LinkByName(n)
}

func (c *countingNetlink) RuleListFiltered(f int, r *netlink.Rule, m uint64) ([]netlink.Rule, error) {
	c.calls["RuleList"]++
	return c.replyNetlink.RuleListFiltered(f, r, m)
}

func (c *countingNetlink) RuleAdd(r *netlink.Rule) error {
	c.calls["write"]++
	return c.replyNetlink.RuleAdd(r)
}

func (c *countingNetlink) RuleDel(r *netlink.Rule) error {
	c.calls["write"]++
	return c.replyNetlink.RuleDel(r)
}

func (c *countingNetlink) RouteListFiltered(f int, r *netlink.Route, m uint64) ([]netlink.Route, error) {
	c.calls["RouteList"]++
	return c.replyNetlink.RouteListFiltered(f, r, m)
}

func (c *countingNetlink) RouteReplace(r *netlink.Route) error {
	c.calls["write"]++
	return c.replyNetlink.RouteReplace(r)
}

func (c *countingNetlink) RouteDel(r *netlink.Route) error {
	c.calls["write"]++
	return c.replyNetlink.RouteDel(r)
}

func TestReplyRoutesConverge(t *testing.T) {
	ns, h := hostWithTwoLinks(t)
	before := kernelState(t, ns)
	r := NewReplyRoutes(h, nil)
	mustNoErr(t, r.Apply(twoLinkPolicy()))

	// (a) exactly the rules and tables described, in both families.
	wantRules4 := `0:	from all lookup local
5270:	from all fwmark 0x80000/0xff0000 lookup 52
10300:	from all fwmark 0x1000000/0xf000000 lookup main suppress_prefixlength 0
10301:	from all fwmark 0x1000000/0xf000000 lookup 10301
10302:	from all fwmark 0x2000000/0xf000000 lookup main suppress_prefixlength 0
10303:	from all fwmark 0x2000000/0xf000000 lookup 10302
10305:	from all fwmark 0x4000/0x4000 lookup 100
32766:	from all lookup main
32767:	from all lookup default
`
	// The kernel has no "default" table rule for IPv6.
	wantRules6 := strings.Replace(wantRules4, "32767:\tfrom all lookup default\n", "", 1)
	diffState(t, "ip -4 rule", wantRules4, sh(t, ns, "ip", "-4", "rule"))
	diffState(t, "ip -6 rule", wantRules6, sh(t, ns, "ip", "-6", "rule"))
	if diff := cmp.Diff([]string{
		"default via 192.168.1.1 dev eth0 table 10301 proto static ",
		"default dev ppp0 table 10302 proto static scope link ",
	}, tableRoutes(t, ns, "-4")); diff != "" {
		t.Errorf("IPv4 routes of our tables (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{
		"default via fe80::1 dev eth0 table 10301 proto static metric 1024 pref medium",
		"default dev ppp0 table 10302 proto static metric 1024 pref medium",
	}, tableRoutes(t, ns, "-6")); diff != "" {
		t.Errorf("IPv6 routes of our tables (-want +got):\n%s", diff)
	}

	// What the kernel decides with them. Main's default is via eth0 here, so
	// the cellular mark shows its table winning over main's default, and
	// suppress_prefixlength keeps main's more specific routes for any mark.
	for _, c := range []struct{ dst, mark, want string }{
		{"203.0.113.10", "", "dev eth0 via 192.168.1.1 table main"},
		{"203.0.113.10", "0x1000000", "dev eth0 via 192.168.1.1 table 10301"},
		{"203.0.113.10", "0x1080000", "dev eth0 via 192.168.1.1 table 10301"}, // another user's bit beside ours
		{"203.0.113.10", "0x2000000", "dev ppp0 via - table 10302"},
		{"203.0.113.10", "0x3000000", "dev eth0 via 192.168.1.1 table main"}, // no link has slot 3
		{"192.168.1.20", "0x2000000", "dev eth0 via - table main"},           // a LAN host stays on the LAN
		{"10.64.64.1", "0x1000000", "dev ppp0 via - table main"},             // the ppp peer stays on ppp0
		{"2001:db8:2::10", "0x1000000", "dev eth0 via fe80::1 table 10301"},
		{"2001:db8:2::10", "0x2000000", "dev ppp0 via - table 10302"},
		{"2001:db8:1::20", "0x2000000", "dev eth0 via - table main"},
	} {
		if got := routeGet(t, ns, c.dst, c.mark); got != c.want {
			t.Errorf("ip route get %s mark %s: %q, want %q", c.dst, c.mark, got, c.want)
		}
	}

	// (b) again: nothing changes, and a converged Apply only reads.
	applied := kernelState(t, ns)
	counting := &countingNetlink{replyNetlink: h, calls: map[string]int{}}
	r.nl = counting
	mustNoErr(t, r.Apply(twoLinkPolicy()))
	diffState(t, "second Apply", applied, kernelState(t, ns))
	if diff := cmp.Diff(map[string]int{"LinkByName": 2, "RuleList": 2, "RouteList": 2}, counting.calls); diff != "" {
		t.Errorf("netlink calls of a converged Apply (-want +got):\n%s", diff)
	}

	// (c) deleted behind its back, or duplicated: the next Apply repairs it.
	sh(t, ns, "ip", "-4", "rule", "del", "priority", "10301")
	sh(t, ns, "ip", "-6", "rule", "del", "priority", "10302")
	sh(t, ns, "ip", "-4", "route", "del", "default", "table", "10302")
	sh(t, ns, "ip", "-6", "route", "flush", "table", "10301")
	// In our range with our mask, but matching on more than ours: a near
	// duplicate (the kernel refuses an exact one), to be deleted.
	sh(t, ns, "ip", "-4", "rule", "add", "priority", "10300", "fwmark", "0x1000000/0xf000000", "iif", "lo", "lookup", "main", "suppress_prefixlength", "0")
	if diffs := cmp.Diff(lines(applied), lines(kernelState(t, ns))); diffs == "" {
		t.Fatal("the damage did not show in the kernel state")
	}
	r.nl = h
	mustNoErr(t, r.Apply(twoLinkPolicy()))
	diffState(t, "after repair", applied, kernelState(t, ns))

	// (d) Remove leaves the kernel as it was; other users' rules and tables
	// were never touched. A second Remove finds nothing to do.
	mustNoErr(t, r.Remove())
	diffState(t, "after Remove", before, kernelState(t, ns))
	mustNoErr(t, r.Remove())
	diffState(t, "after second Remove", before, kernelState(t, ns))
}

// TestReplyRoutesChange covers changes of the policy and leftovers of a
// previous run.
func TestReplyRoutesChange(t *testing.T) {
	ns, h := hostWithTwoLinks(t)
	before := kernelState(t, ns)
	// A crash left a rule and a table of slot 5 (say an older version's).
	sh(t, ns, "ip", "-4", "rule", "add", "priority", "10308", "fwmark", "0x5000000/0xf000000", "lookup", "10305")
	sh(t, ns, "ip", "-4", "route", "add", "default", "via", "192.168.1.1", "dev", "eth0", "table", "10305")
	r := NewReplyRoutes(h, nil)
	mustNoErr(t, r.Apply(twoLinkPolicy()))
	if got := sh(t, ns, "ip", "-4", "rule", "show", "priority", "10308"); got != "" {
		t.Errorf("leftover rule kept: %q", got)
	}
	if got := sh(t, ns, "ip", "-4", "route", "show", "table", "10305"); got != "" {
		t.Errorf("leftover table kept: %q", got)
	}

	// The main router's address changed (a new DHCP lease): replaced in place.
	addAddr(t, h, "eth0", "192.168.2.10/24")
	p := twoLinkPolicy()
	p.Uplinks[0].V4.Gateway = netip.MustParseAddr("192.168.2.1")
	p.Uplinks[0].V6.Gateway = netip.MustParseAddr("fe80::2")
	mustNoErr(t, r.Apply(p))
	if diff := cmp.Diff([]string{
		"default via 192.168.2.1 dev eth0 table 10301 proto static ",
		"default dev ppp0 table 10302 proto static scope link ",
	}, tableRoutes(t, ns, "-4")); diff != "" {
		t.Errorf("IPv4 after a new gateway (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{
		"default via fe80::2 dev eth0 table 10301 proto static metric 1024 pref medium",
		"default dev ppp0 table 10302 proto static metric 1024 pref medium",
	}, tableRoutes(t, ns, "-6")); diff != "" {
		t.Errorf("IPv6 after a new gateway (-want +got):\n%s", diff)
	}

	// The cellular link is gone (pppd exited): a policy naming it applies the
	// rest and says why; the daemon then drops it from the policy.
	ppp, err := h.LinkByName("ppp0")
	mustNoErr(t, err)
	mustNoErr(t, h.LinkDel(ppp))
	if err := r.Apply(p); !errors.Is(err, ErrLinkNotReady) {
		t.Errorf("Apply with ppp0 gone = %v, want ErrLinkNotReady", err)
	}
	wired := Policy{Uplinks: p.Uplinks[:1]}
	mustNoErr(t, r.Apply(wired))
	if got := sh(t, ns, "ip", "-4", "rule", "show", "fwmark", "0x2000000/0xf000000"); got != "" {
		t.Errorf("cellular rules kept after the link left the policy: %q", got)
	}
	if diff := cmp.Diff([]string{"default via fe80::2 dev eth0 table 10301 proto static metric 1024 pref medium"}, tableRoutes(t, ns, "-6")); diff != "" {
		t.Errorf("IPv6 with the wired link only (-want +got):\n%s", diff)
	}
	// IPv6 no longer wanted on the wired link: its IPv6 rules and route go.
	wired.Uplinks[0].V6 = Hop{}
	mustNoErr(t, r.Apply(wired))
	if got := tableRoutes(t, ns, "-6"); len(got) != 0 {
		t.Errorf("IPv6 routes kept: %q", got)
	}
	if got := sh(t, ns, "ip", "-6", "rule", "show", "priority", "10301"); got != "" {
		t.Errorf("IPv6 rule kept: %q", got)
	}
	mustNoErr(t, r.Apply(Policy{}))
	mustNoErr(t, h.AddrDel(mustLink(t, h, "eth0"), mustAddr(t, "192.168.2.10/24")))
	// As before, but for what went with ppp0.
	gone := []string{"ppp0", "10.64.64.", "2001:db8:c:"}
	diffState(t, "empty policy", withoutLines(before, gone...), withoutLines(kernelState(t, ns), gone...))
}

func mustLink(t *testing.T, h *netlink.Handle, name string) netlink.Link {
	t.Helper()
	l, err := h.LinkByName(name)
	mustNoErr(t, err)
	return l
}

func mustAddr(t *testing.T, cidr string) *netlink.Addr {
	t.Helper()
	a, err := netlink.ParseAddr(cidr)
	mustNoErr(t, err)
	return a
}

// withoutLines drops the lines that mention any of words.
func withoutLines(s string, words ...string) string {
	var out []string
	for _, l := range lines(s) {
		keep := true
		for _, w := range words {
			keep = keep && !strings.Contains(l, w)
		}
		if keep {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
