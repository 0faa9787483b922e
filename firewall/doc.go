// Package firewall keeps the iptables/ip6tables rules failberry needs: NAT of
// the home LAN out of the cellular link, forwarding limited to what the LAN
// starts (optionally only from an allowlist, because the data plan is
// metered), and a WAN side that answers only on the health port.
//
// The inbound path (Policy.Marks, Forwards, DMZ, DMZ6, SNATForwards) adds
// what a cellular router in "DMZ" mode gives: port forwards and a DMZ host
// on the cellular address (DNAT in nat FAILBERRY-PREROUTING, accepted in
// FAILBERRY-FORWARD only with --ctstate DNAT, masqueraded to the Pi's LAN
// address so the host's answers come back through the Pi), plain accepts
// for IPv6 hosts, and connection marks by incoming interface (mangle
// FAILBERRY-PREROUTING and FAILBERRY-OUTPUT) so the route side can send
// replies back out of the interface they came in on. Anything not
// forwarded still gets no answer on the WAN.
//
// Everything lives in chains the daemon owns (prefix "FAILBERRY-"), reached by
// one jump at the top of each built-in chain, so a crash or a restart never
// piles up rules: Cleanup removes the jumps and the chains, Apply converges to
// a described Ruleset and is safe to repeat, and Keep re-applies when someone
// (a package upgrade, an admin, another daemon) changes the rules behind our
// back. Rules on other interfaces are never touched, so the LAN keeps SSH.
//
// Build is pure: `failberry check` prints Ruleset.String without touching the
// kernel. The kernel is reached through the small Tables interface, which
// *iptables.IPTables from github.com/coreos/go-iptables satisfies and which
// unit tests fake with a map. Because each iptables call is a slow fork and
// exec on a Pi, the real system also implements Batch: a pass reads a family
// with one iptables-save and, only when something differs, changes it with
// one atomic iptables-restore --noflush.
package firewall
