// Package ddnstest holds dynamic DNS services as their public APIs document
// them, for tests: a dyndns2 server (No-IP's /nic/update) and Route 53's
// ChangeResourceRecordSets with a SigV4 check. They are http.Handlers, so the
// unit tests serve them with httptest and the bench serves them on a real
// address inside its VM (bench/ddnsd). Each keeps the requests it accepted
// and counts the ones it refused.
package ddnstest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Answer is a scripted answer: the next accepted request gets this status
// code and body instead of the service's normal one.
type Answer struct {
	Code int
	Body string
}

// Request is one update a server accepted (authenticated, well formed).
type Request struct {
	Service string     // "dyndns2" or "route53"
	Name    string     // the record's name
	Type    string     // "A" or "AAAA"
	Addr    netip.Addr // the address published
	V6      bool       // dyndns2: sent as myipv6
	At      time.Time  // when it arrived
	Answer  string     // what the server answered (first line)
}

// Refusal is a request a server refused before it counted as an update:
// bad credentials or signature, an unknown name or zone, a malformed query.
type Refusal struct {
	Service string
	Reason  string
	At      time.Time
}

// recorder is the bookkeeping both servers share.
type recorder struct {
	mu       sync.Mutex
	answers  []Answer
	got      []Request
	refused  []Refusal
	arrived  chan Request
	observer func(any)
}

func newRecorder() recorder { return recorder{arrived: make(chan Request, 100)} }

// Script queues answers, used one per accepted request.
func (r *recorder) Script(a ...Answer) {
	r.mu.Lock()
	r.answers = append(r.answers, a...)
	r.mu.Unlock()
}

// Requests returns the accepted requests, oldest first.
func (r *recorder) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Request(nil), r.got...)
}

// Refusals returns the refused requests, oldest first.
func (r *recorder) Refusals() []Refusal {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Refusal(nil), r.refused...)
}

// Arrived delivers each accepted request as it comes (buffered; a reader
// that falls more than 100 behind loses the oldest deliveries, never the
// record in Requests).
func (r *recorder) Arrived() <-chan Request { return r.arrived }

// Observe calls f with each Request and Refusal as it happens (for a log).
func (r *recorder) Observe(f func(any)) {
	r.mu.Lock()
	r.observer = f
	r.mu.Unlock()
}

func (r *recorder) refuse(service, reason string) {
	ref := Refusal{Service: service, Reason: reason, At: time.Now()}
	r.mu.Lock()
	r.refused = append(r.refused, ref)
	obs := r.observer
	r.mu.Unlock()
	if obs != nil {
		obs(ref)
	}
}

// accept records req and returns the scripted answer, if one is queued.
func (r *recorder) accept(req Request, normal func(prev []Request) string) (Answer, Request) {
	r.mu.Lock()
	ans := Answer{Code: http.StatusOK, Body: normal(r.got)}
	if len(r.answers) > 0 {
		ans = r.answers[0]
		r.answers = r.answers[1:]
	}
	req.Answer, _, _ = strings.Cut(ans.Body, "\n")
	r.got = append(r.got, req)
	obs := r.observer
	r.mu.Unlock()
	select {
	case r.arrived <- req:
	default:
	}
	if obs != nil {
		obs(req)
	}
	return ans, req
}

// DynDNS2 is a dyndns2 service as No-IP documents it: GET /nic/update,
// basic auth, hostname and myip (or myipv6) in the query, a one-line
// answer. Wrong credentials get "badauth", a client without a User-Agent of
// its own "badagent" and an unknown host "nohost", as No-IP answers them;
// otherwise "good ADDR", or "nochg ADDR" when ADDR is what the host already
// has, or the next scripted answer.
type DynDNS2 struct {
	recorder
	User, Pass string
	// AgentPrefix, when set, is the User-Agent prefix a client must send
	// (No-IP asks clients to name themselves); other agents get "badagent".
	AgentPrefix string
	host        string
}

// NewDynDNS2 returns a dyndns2 service for one host name.
func NewDynDNS2(user, pass, host string) *DynDNS2 {
	return &DynDNS2{recorder: newRecorder(), User: user, Pass: pass, host: host}
}

// Host is the host name the account owns.
func (s *DynDNS2) Host() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.host
}

// SetHost changes the host name the account owns.
func (s *DynDNS2) SetHost(h string) {
	s.mu.Lock()
	s.host = h
	s.mu.Unlock()
}

func (s *DynDNS2) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain")
	if r.Method != http.MethodGet || r.URL.Path != "/nic/update" {
		s.refuse("dyndns2", "not found: "+r.Method+" "+r.URL.Path)
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if s.AgentPrefix != "" && !strings.HasPrefix(r.UserAgent(), s.AgentPrefix) {
		s.refuse("dyndns2", "badagent")
		w.Write([]byte("badagent"))
		return
	}
	if u, p, ok := r.BasicAuth(); !ok || u != s.User || p != s.Pass {
		s.refuse("dyndns2", "badauth")
		w.Write([]byte("badauth"))
		return
	}
	q := r.URL.Query()
	host := s.Host()
	if q.Get("hostname") != host {
		s.refuse("dyndns2", "nohost "+q.Get("hostname"))
		w.Write([]byte("nohost"))
		return
	}
	req := Request{Service: "dyndns2", Name: host, At: time.Now()}
	v4, v6 := q.Get("myip"), q.Get("myipv6")
	var err error
	switch {
	case v4 != "" && v6 == "":
		req.Type = "A"
		req.Addr, err = netip.ParseAddr(v4)
		err = orErr(err, !req.Addr.Is4())
	case v6 != "" && v4 == "":
		req.Type, req.V6 = "AAAA", true
		req.Addr, err = netip.ParseAddr(v6)
		err = orErr(err, !req.Addr.Is6())
	default:
		err = errors.New("want exactly one of myip and myipv6")
	}
	if err != nil {
		s.refuse("dyndns2", err.Error())
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ans, _ := s.accept(req, func(prev []Request) string {
		for i := len(prev) - 1; i >= 0; i-- {
			if p := prev[i]; p.Name == req.Name && p.Type == req.Type && okAnswer(p.Answer) {
				if p.Addr == req.Addr {
					return "nochg " + req.Addr.String()
				}
				break
			}
		}
		return "good " + req.Addr.String()
	})
	if ans.Code != http.StatusOK {
		w.WriteHeader(ans.Code)
	}
	w.Write([]byte(ans.Body))
}

func okAnswer(a string) bool { return strings.HasPrefix(a, "good") || strings.HasPrefix(a, "nochg") }

func orErr(err error, bad bool) error {
	if err == nil && bad {
		return errors.New("address of the wrong family")
	}
	return err
}

// Route53 is Route 53's ChangeResourceRecordSets as its API reference
// describes it: POST /2013-04-01/hostedzone/{Id}/rrset/ with a
// ChangeResourceRecordSetsRequest XML body, signed with SigV4 for service
// route53 in us-east-1. It recomputes the signature with its key over the
// request as received and answers 403 SignatureDoesNotMatch when it
// differs, as Route 53 does; otherwise it parses the change batch and
// answers a PENDING ChangeInfo, or the next scripted error (Answer.Body is
// the error code).
type Route53 struct {
	recorder
	KeyID, Secret, Zone string

	mux     *http.ServeMux
	changes []Change
}

// Change is one change of a batch as Route 53 parses it.
type Change struct {
	Action string `xml:"Action"`
	Set    struct {
		Name          string   `xml:"Name"`
		Type          string   `xml:"Type"`
		TTL           int      `xml:"TTL"`
		SetIdentifier string   `xml:"SetIdentifier"`
		Failover      string   `xml:"Failover"`
		HealthCheckID string   `xml:"HealthCheckId"`
		Values        []string `xml:"ResourceRecords>ResourceRecord>Value"`
	} `xml:"ResourceRecordSet"`
}

type r53Request struct {
	XMLName     xml.Name `xml:"https://route53.amazonaws.com/doc/2013-04-01/ ChangeResourceRecordSetsRequest"`
	ChangeBatch struct {
		Comment string   `xml:"Comment"`
		Changes []Change `xml:"Changes>Change"`
	} `xml:"ChangeBatch"`
}

// NewRoute53 returns a Route 53 API holding one hosted zone, accepting
// requests signed with the given key.
func NewRoute53(keyID, secret, zone string) *Route53 {
	s := &Route53{recorder: newRecorder(), KeyID: keyID, Secret: secret, Zone: zone, mux: http.NewServeMux()}
	s.mux.HandleFunc("POST /2013-04-01/hostedzone/{zone}/{op...}", s.serve)
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.refuse("route53", "unknown operation "+r.Method+" "+r.URL.Path)
		r53Error(w, http.StatusNotFound, "UnknownOperationException", "no such operation")
	})
	return s
}

func (s *Route53) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

// Changes returns every change of the batches accepted, oldest first.
func (s *Route53) Changes() []Change {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Change(nil), s.changes...)
}

func r53Error(w http.ResponseWriter, code int, errCode, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(code)
	fmt.Fprintf(w, `<?xml version="1.0"?>
<ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>6fe1a2b5-test</RequestId></ErrorResponse>`,
		errCode, msg)
}

func (s *Route53) serve(w http.ResponseWriter, r *http.Request) {
	if op := r.PathValue("op"); op != "rrset" && op != "rrset/" {
		s.refuse("route53", "unknown operation "+op)
		r53Error(w, http.StatusNotFound, "NotFound", "no such operation")
		return
	}
	body, _ := io.ReadAll(r.Body)
	if err := CheckSigV4(r, body, s.KeyID, s.Secret); err != nil {
		s.refuse("route53", "SignatureDoesNotMatch: "+err.Error())
		r53Error(w, http.StatusForbidden, "SignatureDoesNotMatch", err.Error())
		return
	}
	if r.PathValue("zone") != s.Zone {
		s.refuse("route53", "NoSuchHostedZone "+r.PathValue("zone"))
		r53Error(w, http.StatusNotFound, "NoSuchHostedZone", "No hosted zone found with ID: "+r.PathValue("zone"))
		return
	}
	var req r53Request
	if err := xml.Unmarshal(body, &req); err != nil || len(req.ChangeBatch.Changes) == 0 {
		s.refuse("route53", fmt.Sprintf("InvalidInput: %v", err))
		r53Error(w, http.StatusBadRequest, "InvalidInput", fmt.Sprintf("bad change batch: %v", err))
		return
	}
	s.mu.Lock()
	s.changes = append(s.changes, req.ChangeBatch.Changes...)
	s.mu.Unlock()
	var ans Answer
	for _, c := range req.ChangeBatch.Changes {
		rq := Request{Service: "route53", Name: c.Set.Name, Type: c.Set.Type, At: time.Now()}
		if len(c.Set.Values) == 1 {
			rq.Addr, _ = netip.ParseAddr(c.Set.Values[0])
		}
		ans, _ = s.accept(rq, func([]Request) string { return "PENDING" })
	}
	if ans.Code != http.StatusOK {
		r53Error(w, ans.Code, ans.Body, "scripted")
		return
	}
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>
<ChangeResourceRecordSetsResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/"><ChangeInfo><Id>/change/C2682N5HXP0BZ4</Id><Status>PENDING</Status><SubmittedAt>%s</SubmittedAt><Comment>%s</Comment></ChangeInfo></ChangeResourceRecordSetsResponse>`,
		time.Now().UTC().Format(time.RFC3339), req.ChangeBatch.Comment)
}

// CheckSigV4 recomputes the request's SigV4 signature for Route 53 (service
// route53, region us-east-1) with the given key: a copy of the request
// carrying only the headers it says it signed is signed again with the
// SDK's signer, at the time of its X-Amz-Date, over the SHA-256 of the body
// as received, and the two Authorization headers must be equal.
func CheckSigV4(r *http.Request, body []byte, keyID, secret string) error {
	auth := r.Header.Get("Authorization")
	const alg = "AWS4-HMAC-SHA256 "
	if !strings.HasPrefix(auth, alg) {
		return fmt.Errorf("not a SigV4 Authorization header: %q", auth)
	}
	parts := map[string]string{}
	for _, kv := range strings.Split(strings.TrimPrefix(auth, alg), ", ") {
		k, v, _ := strings.Cut(kv, "=")
		parts[k] = v
	}
	scope := strings.Split(parts["Credential"], "/")
	if len(scope) != 5 || scope[0] != keyID || scope[2] != "us-east-1" || scope[3] != "route53" || scope[4] != "aws4_request" {
		return fmt.Errorf("credential scope %q", parts["Credential"])
	}
	at, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return fmt.Errorf("X-Amz-Date: %w", err)
	}
	if d := time.Since(at); d > 5*time.Minute || d < -5*time.Minute {
		return fmt.Errorf("signed at %v, too far from now", at)
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && h != hash {
		return fmt.Errorf("X-Amz-Content-Sha256 %s does not match the body", h)
	}
	cp, err := http.NewRequest(r.Method, "http://"+r.Host+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	cp.Host = r.Host
	cp.ContentLength = r.ContentLength
	for _, h := range strings.Split(parts["SignedHeaders"], ";") {
		if h != "host" && h != "content-length" {
			cp.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
		}
	}
	creds := aws.Credentials{AccessKeyID: keyID, SecretAccessKey: secret}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, cp, hash, "route53", "us-east-1", at); err != nil {
		return err
	}
	if want := cp.Header.Get("Authorization"); want != auth {
		return fmt.Errorf("signature does not match: got %q, want %q", auth, want)
	}
	return nil
}
