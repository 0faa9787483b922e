package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"
)

// webhook POSTs each event as JSON to a URL, in order, one at a time. A POST
// that fails (no answer, a 5xx, 408 or 429) is retried with a doubling
// backoff until it goes through: the events behind it wait in the queue, so
// none is lost while the receiver is down unless the queue overflows. A 4xx
// answer (a bad token, a bad URL) cannot be fixed by retrying: that event
// is logged and dropped.
//
// The body is the Event with the sender's host name:
//
//	{"time":"2026-12-01T14:02:00Z","kind":"link-down","message_id":"3d21...",
//	 "message":"...","fields":{"INTERFACE":"ppp0"},"host":"gateway"}
type webhook struct {
	cfg    WebhookConfig
	host   string
	client *http.Client
	log    *slog.Logger
	// after is the backoff's clock (time.After; tests shorten it).
	after      func(time.Duration) <-chan time.Time
	minBackoff time.Duration
	maxBackoff time.Duration
}

// The backoff between retries of one POST: 1 s doubling to 30 s, so a
// receiver back after a restart is reached within half a minute.
const (
	webhookMinBackoff = time.Second
	webhookMaxBackoff = 30 * time.Second
)

// newWebhook opens a new connection for every POST: events are minutes
// apart, and a connection kept from before a failover is bound to an
// address the gateway may no longer have, so a POST on it would hang until
// its time limit.
func newWebhook(c WebhookConfig, host string, log *slog.Logger) *webhook {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DisableKeepAlives = true
	return &webhook{cfg: c, host: host, log: log,
		client: &http.Client{Timeout: time.Duration(c.Timeout), Transport: t},
		after:  time.After, minBackoff: webhookMinBackoff, maxBackoff: webhookMaxBackoff}
}

// webhookBody is what one POST carries.
type webhookBody struct {
	Event
	Host string `json:"host"`
}

func (w *webhook) run(ctx context.Context, q *queue) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-q.ch:
			if !w.deliver(ctx, ev) {
				return
			}
		}
	}
}

// deliver POSTs ev until it goes through or is refused; false when ctx ended.
func (w *webhook) deliver(ctx context.Context, ev Event) bool {
	body, err := json.Marshal(webhookBody{Event: ev, Host: w.host})
	if err != nil {
		w.log.Warn("webhook: encoding the event", "kind", ev.Kind, "err", err)
		return true
	}
	wait := w.minBackoff
	for attempt := 1; ; attempt++ {
		retry, err := w.post(ctx, body)
		switch {
		case err == nil:
			if attempt > 1 {
				w.log.Info("webhook delivered after retries", "kind", ev.Kind, "attempts", attempt)
			}
			return true
		case ctx.Err() != nil:
			return false
		case !retry:
			w.log.Warn("webhook refused the event; dropped", "kind", ev.Kind, "err", err)
			return true
		}
		if attempt == 1 || wait == w.maxBackoff && attempt%10 == 0 { // not one line per retry
			w.log.Warn("webhook failed; retrying", "kind", ev.Kind, "attempt", attempt, "err", err, "backoff", wait)
		}
		select {
		case <-ctx.Done():
			return false
		case <-w.after(wait):
		}
		wait = min(2*wait, w.maxBackoff)
	}
}

// post sends one POST; retry says whether a failure is worth retrying.
func (w *webhook) post(ctx context.Context, body []byte) (retry bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "failberry")
	for _, h := range w.cfg.Headers {
		v := h.Value
		if h.File != "" {
			if v, err = readSecretLine(h.File); err != nil {
				return true, fmt.Errorf("header %s: %w", h.Name, err) // the file may appear
			}
		}
		req.Header.Set(h.Name, v)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return true, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch c := resp.StatusCode; {
	case c >= 200 && c < 300:
		return false, nil
	case c == http.StatusRequestTimeout || c == http.StatusTooManyRequests || c >= 500:
		return true, fmt.Errorf("POST %s: %s", w.cfg.URL, resp.Status)
	default:
		return false, fmt.Errorf("POST %s: %s", w.cfg.URL, resp.Status)
	}
}

// maxSecretBytes bounds what is read from a secret file.
const maxSecretBytes = 64 << 10

// readSecretLine reads a token or a password from a file of its own, read
// at each use so a rotated secret needs no restart; the trailing newline
// an editor leaves is dropped.
func readSecretLine(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretBytes))
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	s := strings.TrimRight(string(b), "\r\n")
	if strings.ContainsAny(s, "\r\n") {
		return "", fmt.Errorf("%s holds more than one line", path)
	}
	return s, nil
}
