package daemon

import (
	"fmt"
	"net"
	"strconv"
	"time"
)

// restAfterLadder is how long the daemon rests when every rung failed, before
// it starts over from a redial.
const restAfterLadder = 5 * time.Minute

func listenPort(addr string) (int, error) {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(p)
	if err != nil || n < 1 || n > 65535 {
		return 0, fmt.Errorf("bad port in %q", addr)
	}
	return n, nil
}
