// Command ddnsd serves dynamic DNS provider APIs on the bench's internet
// side (inside the VM's isp namespace): a dyndns2 service (No-IP's
// /nic/update) and Route 53's ChangeResourceRecordSets with a SigV4 check,
// both from internal/ddns/ddnstest. It prints one JSON line per request it
// accepted or refused, with the guest's time of arrival, so a bench scenario
// counts updates and measures their latency at the server.
package main

import (
	"encoding/json"
	"flag"
	"log"
	"net"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/failberry/failberry/internal/ddns/ddnstest"
)

// Line is one line of ddnsd's output.
type Line struct {
	Service  string `json:"service"`
	Refused  bool   `json:"refused,omitempty"`
	Reason   string `json:"reason,omitempty"`
	Name     string `json:"name,omitempty"`
	Type     string `json:"type,omitempty"`
	Addr     string `json:"addr,omitempty"`
	Answer   string `json:"answer,omitempty"`
	UnixNano int64  `json:"unix_nano"`
}

func main() {
	dyn := flag.String("dyndns2", "", "listen address of the dyndns2 service (empty: none)")
	user := flag.String("user", "ddnskey", "dyndns2 user name")
	pass := flag.String("pass", "s3cret", "dyndns2 password")
	host := flag.String("host", "vpn.example.com", "dyndns2 host name the account owns")
	agent := flag.String("agent", "failberry ", "dyndns2: User-Agent prefix clients must send (empty: any)")
	r53 := flag.String("route53", "", "listen address of the Route 53 API (empty: none)")
	key := flag.String("key", "AKIDEXAMPLE", "Route 53 access key id")
	secret := flag.String("secret", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "Route 53 secret key")
	zone := flag.String("zone", "Z0123456789ABCDEFGHIJ", "Route 53 hosted zone id")
	flag.Parse()

	var mu sync.Mutex
	enc := json.NewEncoder(os.Stdout)
	observe := func(v any) {
		var l Line
		switch v := v.(type) {
		case ddnstest.Request:
			l = Line{Service: v.Service, Name: v.Name, Type: v.Type, Addr: v.Addr.String(), Answer: v.Answer, UnixNano: v.At.UnixNano()}
		case ddnstest.Refusal:
			l = Line{Service: v.Service, Refused: true, Reason: v.Reason, UnixNano: v.At.UnixNano()}
		default:
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if err := enc.Encode(l); err != nil {
			log.Printf("ddnsd: %v", err)
		}
	}
	errs := make(chan error, 2)
	serve := func(addr string, h http.Handler) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			log.Fatal(err)
		}
		log.Printf("ddnsd: listening on %s", ln.Addr())
		srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
		go func() { errs <- srv.Serve(ln) }()
	}
	if *dyn != "" {
		d := ddnstest.NewDynDNS2(*user, *pass, *host)
		d.AgentPrefix = *agent
		d.Observe(observe)
		serve(*dyn, d)
	}
	if *r53 != "" {
		r := ddnstest.NewRoute53(*key, *secret, *zone)
		r.Observe(observe)
		serve(*r53, r)
	}
	if *dyn == "" && *r53 == "" {
		log.Fatal("ddnsd: give -dyndns2 or -route53 (or both)")
	}
	log.Fatal(<-errs)
}
