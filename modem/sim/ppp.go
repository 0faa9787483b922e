package sim

// PPP in HDLC-like framing (RFC 1662) as far as the simulator needs it: to
// find frame boundaries, the protocol field, and the LCP code.

const (
	pppFlag   = 0x7e
	pppEscape = 0x7d

	protoIPv4 = 0x0021
	protoIPv6 = 0x0057
	protoLCP  = 0xc021

	lcpTermReq = 5
	lcpTermAck = 6

	// maxFrame bounds the bytes held per frame; longer "frames" are not PPP
	// (MRU 1500, at most doubled by escaping) and pass through untouched.
	maxFrame = 8192
)

// frameInfo describes one complete frame seen in the stream.
type frameInfo struct {
	proto uint16
	code  byte // first payload byte (the LCP code for LCP)
}

// pppScanner splits one direction of a byte stream into PPP frames. Without
// filtering it forwards bytes at once and only observes; with filtering it
// holds each frame until its closing flag and drops IPv4 and IPv6 frames,
// forwarding everything else (flags included) byte for byte.
type pppScanner struct {
	raw         []byte // bytes of the frame in progress, as received
	passthrough bool   // part of this frame was already forwarded
}

// scan feeds b and returns the bytes to forward and the frames completed.
// While passthrough is false, s.raw holds bytes not forwarded yet.
func (s *pppScanner) scan(b []byte, filter bool) (out []byte, frames []frameInfo) {
	if !filter && !s.passthrough && len(s.raw) > 0 {
		// Filtering just stopped mid-frame: release what was held.
		out = append(out, s.raw...)
		s.passthrough = true
	}
	start := 0 // with passthrough, b[start:] is not forwarded yet
	for i, c := range b {
		if c != pppFlag {
			if !filter {
				s.passthrough = true
			}
			if len(s.raw) < maxFrame {
				s.raw = append(s.raw, c)
			} else if !s.passthrough {
				// Too long for PPP: stop holding it.
				out = append(out, s.raw...)
				s.passthrough, start = true, i
			}
			continue
		}
		keep := true
		if info, ok := decodeFrame(s.raw); ok {
			frames = append(frames, info)
			keep = info.proto != protoIPv4 && info.proto != protoIPv6
		}
		switch {
		case s.passthrough:
			out = append(out, b[start:i+1]...)
		case keep:
			out = append(out, s.raw...)
			out = append(out, pppFlag)
		default: // drop the frame, keep its closing flag
			out = append(out, pppFlag)
		}
		start = i + 1
		s.raw = s.raw[:0]
		s.passthrough = false
	}
	if s.passthrough {
		out = append(out, b[start:]...)
	}
	return out, frames
}

// decodeFrame undoes the escaping of a frame between flags and reads its
// address/control (optional, ACFC), protocol (1 or 2 bytes, PFC) and first
// payload byte. ok is false for fragments too short to be a frame.
func decodeFrame(raw []byte) (frameInfo, bool) {
	var d [8]byte
	n := 0
	for i := 0; i < len(raw) && n < len(d); i++ {
		c := raw[i]
		if c == pppEscape {
			i++
			if i >= len(raw) {
				break
			}
			c = raw[i] ^ 0x20
		}
		d[n] = c
		n++
	}
	p := d[:n]
	if len(p) >= 2 && p[0] == 0xff && p[1] == 0x03 {
		p = p[2:]
	}
	var info frameInfo
	switch {
	case len(p) >= 1 && p[0]&1 == 1: // compressed 1-byte protocol
		info.proto = uint16(p[0])
		p = p[1:]
	case len(p) >= 2:
		info.proto = uint16(p[0])<<8 | uint16(p[1])
		p = p[2:]
	default:
		return frameInfo{}, false
	}
	if len(p) == 0 {
		return frameInfo{}, false
	}
	info.code = p[0]
	return info, true
}

// lcpTerminateRequest and lcpTerminateAck are complete HDLC-framed LCP
// packets (codes 5 and 6, id 0xfe, no data), FCS included and bytes
// escaped.
var (
	lcpTerminateRequest = frame([]byte{0xff, 0x03, 0xc0, 0x21, 0x05, 0xfe, 0x00, 0x04})
	lcpTerminateAck     = frame([]byte{0xff, 0x03, 0xc0, 0x21, 0x06, 0xfe, 0x00, 0x04})
)

// frame wraps a PPP packet (address, control, protocol, information) in
// RFC 1662 framing: FCS-16, flags, and control-escapes for flag, escape and
// bytes below 0x20 (the default async control character map).
func frame(pkt []byte) []byte {
	fcs := uint16(0xffff)
	for _, b := range pkt {
		fcs ^= uint16(b)
		for range 8 {
			if fcs&1 != 0 {
				fcs = fcs>>1 ^ 0x8408
			} else {
				fcs >>= 1
			}
		}
	}
	fcs ^= 0xffff
	body := append(append([]byte{}, pkt...), byte(fcs), byte(fcs>>8))
	out := []byte{0x7e}
	for _, b := range body {
		if b == 0x7e || b == 0x7d || b < 0x20 {
			out = append(out, 0x7d, b^0x20)
		} else {
			out = append(out, b)
		}
	}
	return append(out, 0x7e)
}
