package daemon

import (
	"github.com/failberry/failberry/internal/route"
)

// Reply routing (issue 12): connections that came in on a link are answered
// through it, so a health check that reached eth0 through the main router is
// not answered through ppp0 while the cellular link holds the default route.
// The firewall marks the connections by incoming interface (route.MarkWired,
// route.MarkCellular); the routes seam converges the rules and tables that
// route the marked replies.

// replyPolicy is the reply routing for the links as they are: the wired
// uplink through its own gateways, and the cellular link while cell is
// ready (a point-to-point link: direct routes, IPv6 only with a global
// address; a network card: via the stick's router).
func (d *Daemon) replyPolicy(cell route.Link) (route.Policy, error) {
	p := route.Policy{Steer: steerFor(d.cfg, d.cellKind(), d.viaCellular.Load())}
	var err error
	if wired := d.cfg.Route.WiredInterface; wired != "" {
		var v4, v6 route.Hop
		if v4, v6, err = d.routes.Gateways(wired); err == nil {
			p.Uplinks = append(p.Uplinks, route.Uplink{Name: wired, Mark: route.MarkWired, V4: v4, V6: v6})
		}
	}
	if cell.Ready() {
		u := route.Uplink{Name: cell.Name, Mark: route.MarkCellular, V4: route.Hop{Direct: true}}
		if cell.Gateway.IsValid() { // a network card: via the stick's router; IPv6 follows its RAs
			u.V4 = route.Hop{Gateway: cell.Gateway}
		} else if len(cell.Local6) > 0 {
			u.V6 = route.Hop{Direct: true}
		}
		p.Uplinks = append(p.Uplinks, u)
	}
	return p, err
}

// applyReplies converges reply routing onto the links as they are. It runs
// on every change of the cellular link and on the status tick (putting back
// what was deleted behind the daemon's back), so a failure is logged only
// when it differs from the last one. Only the main loop calls it.
func (d *Daemon) applyReplies(cell route.Link) {
	p, err := d.replyPolicy(cell)
	if aerr := d.routes.ApplyReplies(p); aerr != nil {
		err = aerr
	} else if !p.Steer.Own {
		d.forgetCellularConnections() // failback's, once the routes have moved
	}
	d.replyErrChanged(err, "reply routing")
}

// removeReplies removes reply routing at stop.
func (d *Daemon) removeReplies() {
	d.replyErrChanged(d.routes.RemoveReplies(), "removing reply routing")
}

func (d *Daemon) replyErrChanged(err error, what string) {
	text := ""
	if err != nil {
		text = err.Error()
	}
	switch {
	case text == d.replyErr:
	case err != nil:
		d.log.Warn(what, "err", err)
	default:
		d.log.Info("reply routing recovered")
	}
	d.replyErr = text
}
