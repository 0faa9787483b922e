package ddns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// userAgent names failberry to the services. No-IP asks for
// "Company NameOfProgram/Version contact" and may block clients without one.
const userAgent = "failberry ddns/1 github.com/failberry/failberry"

// maxBodyBytes bounds a service's answer: the protocols here answer in a
// line or a few hundred bytes of JSON or XML.
const maxBodyBytes = 64 << 10

// do sends req and returns the status and up to maxBodyBytes of the body.
// A failure to reach the service is transient.
func do(ctx context.Context, client *http.Client, req *http.Request) (int, []byte, http.Header, error) {
	req = req.WithContext(ctx)
	req.Header.Set("User-Agent", userAgent)
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, nil, &TransientError{Reason: "unreachable", Err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
	if err != nil {
		return 0, nil, nil, &TransientError{Reason: "reading the answer", Err: err}
	}
	return resp.StatusCode, body, resp.Header, nil
}

// statusError classifies an HTTP status that is not 2xx: the service's
// outage (5xx) and rate limits (429, 408) pass, with the wait it asked for;
// any other 4xx means the request is wrong (bad credentials, unknown record)
// and would be refused again.
func statusError(code int, h http.Header, detail string) error {
	reason := fmt.Sprintf("HTTP %d", code)
	var err error
	if detail != "" {
		err = errors.New(detail)
	}
	if code >= 500 || code == http.StatusTooManyRequests || code == http.StatusRequestTimeout {
		return &TransientError{Reason: reason, RetryAfter: retryAfter(h), Err: err}
	}
	return &PermanentError{Reason: reason, Err: err}
}

// retryAfter parses a Retry-After header, in seconds or as an HTTP date.
func retryAfter(h http.Header) time.Duration {
	v := h.Get("Retry-After")
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}
