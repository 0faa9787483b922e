package health

import (
	"time"

	"golang.org/x/sys/unix"
)

// What a probe costs on the wire. The probes count what they really send
// and receive (ICMP: the packets' sizes; TCP: the kernel's own per-socket
// counters); the sizes below are the headers around those counts, and the
// model EstimateBytesPerDay falls back on before a target was measured.
const (
	ipv4Header = 20
	icmpHeader = 8
	// pppFraming is added to every packet: RFC 1662 HDLC-like framing on
	// the serial line to the modem, as pppd sends it when address/control
	// and protocol field compression are not negotiated: flag, address,
	// control, a 2-byte protocol and a 2-byte FCS (7), plus one byte of
	// control-character escaping on average for these small binary
	// packets. The carrier bills the IP packets (the link's counters and
	// `ip -s link` count those, without this framing), so figures that
	// include it are the upper bound of what the link carried.
	pppFraming = 8
	// tcpSynLen: a Linux SYN or SYN-ACK with options (MSS, SACK, timestamps,
	// window scale): 20 IP + 20 TCP + 20 options.
	tcpSynLen = 60
	// A segment after the handshake: 20 IP + 20 TCP, plus 12 when timestamps
	// were negotiated.
	tcpSegLen, tcpTimestampLen = 40, 12
	// httpRespModel is the size of a small status page, for the model only.
	httpRespModel = 512
)

// wire returns the bytes of n packets carrying payload bytes of transport
// data in total and hdr header bytes each, PPP framing included.
func wire(n int, payload int64, hdr int) int64 {
	return payload + int64(n)*int64(hdr+pppFraming)
}

// icmpCost is one echo request or reply of msgLen ICMP bytes on the wire.
func icmpCost(msgLen int) int64 { return wire(1, int64(msgLen), ipv4Header) }

// tcpCost is what the kernel counted for one TCP socket: its segments in
// and out with their headers (the handshake's two SYNs with options) and
// the payload. The kernel keeps these counters per socket (TCP_INFO since
// Linux 4.6 for segments, 4.19 for bytes_sent), so retransmissions and
// the closing handshake count as they happened. The kernel's
// bytes_received follows rcv_nxt, which the peer's FIN advances by one: finIn
// says to take that sequence number off, it is no byte on the wire.
func tcpCost(ti *unix.TCPInfo, finIn bool) int64 {
	seg := tcpSegLen
	const tcpiOptTimestamps = 1 // TCPI_OPT_TIMESTAMPS, linux/tcp.h
	if ti.Options&tcpiOptTimestamps != 0 {
		seg += tcpTimestampLen
	}
	n := int(ti.Segs_out) + int(ti.Segs_in)
	syns := min(n, 2) // ours and the peer's, each longer than a plain segment
	payload := int64(ti.Bytes_sent) + int64(ti.Bytes_received)
	if finIn && payload > 0 {
		payload--
	}
	return wire(n, payload, seg) + int64(syns*(tcpSynLen-seg))
}

// tcpFailModel is the SYNs a connect sends before timeout gives up (Linux
// initial RTO 1 s, doubling): the socket is gone before its counters can be
// read, so this one figure is modelled.
func tcpFailModel(timeout time.Duration) int64 {
	syns, rto, elapsed := 1, time.Second, time.Second
	for elapsed <= timeout {
		syns++
		rto *= 2
		elapsed += rto
	}
	return wire(syns, 0, tcpSynLen)
}

// tcpConnectModel: SYN, SYN-ACK, ACK, then FIN, the peer's FIN-ACK and the
// last ACK, as the TCP probe closes (timestamps on).
var tcpConnectModel = wire(2, 0, tcpSynLen) + wire(4, 0, tcpSegLen+tcpTimestampLen)

// modelCost is the model of one answered probe of t, for targets not
// measured yet (the config check runs before any probe).
func modelCost(t Target) int64 {
	switch t.Kind {
	case "icmp":
		return 2 * icmpCost(icmpHeader+icmpPayloadLen)
	case "http":
		req := int64(len(httpRequest(t.Addr)))
		segs := 2 + (httpRespModel+1447)/1448 // request, its ACK, the response
		return tcpConnectModel + wire(segs, req+httpRespModel, tcpSegLen+tcpTimestampLen)
	}
	return tcpConnectModel
}

// EstimateBytesPerDay estimates the probes' data a day on a quiet, healthy
// link, which is what passive detection leaves to them: one round every
// Interval, each probing one target in turn, every target answering. cost
// gives one answered probe of a target: the measured average in the status,
// the model (nil) in the config check; one function, so both say the same.
// Rounds while the path is suspect come on top: at most DownAfter rounds of
// every target per incident. Zero fields take defaults. In bytes (the
// config and the status print MB, 10^6 bytes).
func EstimateBytesPerDay(cfg ProberConfig, cost func(Target) int64) int64 {
	cfg = cfg.withDefaults()
	if cost == nil {
		cost = modelCost
	}
	var sum int64
	for _, t := range cfg.Targets {
		sum += cost(t)
	}
	rounds := int64(24*time.Hour) / int64(cfg.Interval)
	return rounds * sum / int64(len(cfg.Targets))
}
