// Package health tells the world whether failberry and its cellular path work.
//
// It has three parts: a public endpoint (:9000) for Route 53 HTTP health checks
// that answers from cached state and leaks nothing; a Prober that sends small
// ICMP/TCP/HTTP probes over the cellular interface only, because a modem can
// report "connected" while passing no traffic; and a status/metrics handler for
// a second listener bound to loopback or the LAN.
package health

import (
	"net/http"
	"time"
)

// Liveness reports whether the daemon's main loop makes progress. Alive must
// return at once (read an atomic): the public endpoint calls it on every request
// and must keep answering while the daemon is busy with a slow recovery step.
type Liveness interface{ Alive() bool }

// PathState reports whether the cellular path passes its probes. Like Alive,
// CellularOK must not block. *Prober implements it.
type PathState interface{ CellularOK() bool }

// Fixed bodies: short, stable strings for Route 53's string matching, with
// nothing about the host in them.
const (
	bodyOK           = "failberry ok\n"
	bodyDown         = "failberry down\n"
	bodyCellularOK   = "cellular ok\n"
	bodyCellularDown = "cellular down\n"
	bodyNotFound     = "not found\n"
	bodyNotAllowed   = "method not allowed\n"
)

// NewPublicHandler returns the handler for the internet-facing endpoint:
//
//	GET/HEAD /          200 "failberry ok" while live is alive, else 503
//	GET/HEAD /cellular  200 "cellular ok" while path passes its probes, else 503
//	other methods       405, other paths 404
//
// It never redirects (Route 53 counts 3xx as healthy), never cleans paths
// (http.ServeMux would redirect "/../x"), and answers only from live and path.
// A nil live or path counts as down.
func NewPublicHandler(live Liveness, path PathState) http.Handler {
	return &publicHandler{live: live, path: path}
}

type publicHandler struct {
	live Liveness
	path PathState
}

func (h *publicHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	hdr.Set("Cache-Control", "no-store")
	hdr.Set("X-Content-Type-Options", "nosniff")
	var ok bool
	var up, down string
	switch r.URL.Path {
	case "/":
		ok, up, down = h.live != nil && h.live.Alive(), bodyOK, bodyDown
	case "/cellular":
		ok, up, down = h.path != nil && h.path.CellularOK(), bodyCellularOK, bodyCellularDown
	default:
		reply(w, r, http.StatusNotFound, bodyNotFound)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		reply(w, r, http.StatusMethodNotAllowed, bodyNotAllowed)
		return
	}
	if ok {
		reply(w, r, http.StatusOK, up)
		return
	}
	reply(w, r, http.StatusServiceUnavailable, down)
}

func reply(w http.ResponseWriter, r *http.Request, code int, body string) {
	w.WriteHeader(code)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(body))
	}
}

// Public server limits. Route 53 needs the headers within 2 s after connecting;
// short timeouts keep slow or idle clients from the internet cheap.
const (
	publicReadHeaderTimeout = 2 * time.Second
	publicReadTimeout       = 5 * time.Second
	publicWriteTimeout      = 5 * time.Second
	publicIdleTimeout       = 30 * time.Second
	publicMaxHeaderBytes    = 4 << 10
)

// NewPublicServer returns an http.Server for h with timeouts and a 4 KiB
// header limit suited to an internet-facing health endpoint. net/http costs one
// goroutine per connection and the handler takes no lock, so idle connections
// do not slow down answers. Go's server adds no Server header. Error logs from
// the server (bad requests from scanners) are discarded.
func NewPublicServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: publicReadHeaderTimeout,
		ReadTimeout:       publicReadTimeout,
		WriteTimeout:      publicWriteTimeout,
		IdleTimeout:       publicIdleTimeout,
		MaxHeaderBytes:    publicMaxHeaderBytes,
		ErrorLog:          discardLog,
	}
}
