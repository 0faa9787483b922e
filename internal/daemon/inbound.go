package daemon

// Inbound traffic over the cellular link (issue 12), the daemon's part:
// publishing the cellular address in DNS so a VPN into the house can follow
// it, and saying plainly when the carrier's NAT makes inbound impossible.
// Reply routing is in replies.go; forwards and the DMZ are firewall rules
// (firewall.go builds the policy).

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"

	"github.com/failberry/failberry/health"
	"github.com/failberry/failberry/internal/ddns"
	"github.com/failberry/failberry/internal/route"
	"github.com/failberry/failberry/systemd"
)

// newDNS returns the DNS updater the config asks for; nil without a provider.
func (d *Daemon) newDNS() (*ddns.Updater, error) {
	if !d.cfg.DNS.Enabled() {
		return nil, nil
	}
	u, err := ddns.New(d.cfg.DNS, ddns.Options{
		StateFile: filepath.Join(d.cfg.StateDir, "ddns.json"),
		Logger:    d.log.With("component", "dns"),
		OnResult:  d.dnsResult,
	})
	if err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	return u, nil
}

// dnsResult turns an update's outcome into its journal event.
func (d *Daemon) dnsResult(r ddns.Result) {
	name := d.cfg.DNS.Name
	fields := map[string]string{"PROVIDER": d.cfg.DNS.Provider, "NAME": name, "TYPE": r.Type, "ADDRESS": r.Address.String()}
	if r.Err == nil {
		d.events.Emit(systemd.DNSPublished, fmt.Sprintf("published %s as the %s record of %s", r.Address, r.Type, name), fields)
		return
	}
	fields["ERROR"], fields["REFUSED"] = r.Err.Error(), strconv.FormatBool(r.Refused)
	what := "failed; retrying"
	if r.Refused {
		what = "refused; not retrying until the address or the config changes"
	}
	d.events.Emit(systemd.DNSFailed, fmt.Sprintf("DNS update of %s (%s %s) %s: %v", name, r.Type, r.Address, what, r.Err), fields)
}

// publish hands the link's addresses to DNS. The online session calls it
// once the path passes its probes, and on every address change after that
// (with the route re-applied): an address is published only when traffic
// to it works, and the update itself goes out over a link that carries it.
func (d *Daemon) publish(l route.Link) {
	if d.dns == nil {
		return
	}
	var v6 netip.Addr
	if len(l.Local6) > 0 {
		v6 = l.Local6[0]
	}
	d.dns.Set(l.Local, v6)
}

// warnUnreachable warns, once per address, when the carrier's NAT (or a
// network-card stick's own) hides the link's address from the internet:
// when the link comes up and on every address change.
func (d *Daemon) warnUnreachable(l route.Link) {
	if !l.Local.IsValid() || ddns.PublicV4(l.Local) || !d.st.noteUnreachable(l.Local) {
		return
	}
	if l.Gateway.IsValid() { // a network card: the stick's own NAT first
		d.events.Emit(systemd.CarrierNAT, fmt.Sprintf("the cellular address %s is behind the stick's NAT: %s", l.Local, health.StickNATAdvice),
			map[string]string{"INTERFACE": l.Name, "LOCAL": l.Local.String(), "NAT": "stick"})
		return
	}
	d.events.Emit(systemd.CarrierNAT, fmt.Sprintf("the cellular address %s is behind the carrier's NAT: %s", l.Local, health.CarrierNATAdvice),
		map[string]string{"INTERFACE": l.Name, "LOCAL": l.Local.String()})
}

// inboundStatus is the status page's inbound section.
func (d *Daemon) inboundStatus(link route.Link) health.InboundStatus {
	var s health.InboundStatus
	if link.Ready() {
		s.Address = link.Local.String()
		s.CarrierNAT = !ddns.PublicV4(link.Local)
		s.StickNAT = s.CarrierNAT && link.Gateway.IsValid()
	}
	if d.dns != nil {
		dns := d.dns.Status()
		s.DNS = &dns
	}
	return s
}
