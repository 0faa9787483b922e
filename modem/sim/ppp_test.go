package sim

import (
	"bytes"
	"fmt"
	"testing"
)

// fcs16 is the RFC 1662 frame check sequence, so test frames are real.
func fcs16(b []byte) uint16 {
	fcs := uint16(0xffff)
	for _, c := range b {
		fcs ^= uint16(c)
		for range 8 {
			if fcs&1 == 1 {
				fcs = fcs>>1 ^ 0x8408
			} else {
				fcs >>= 1
			}
		}
	}
	return ^fcs
}

// hdlc builds the escaped body of a frame (no flags): optional 0xff 0x03,
// the protocol field as given (1 or 2 bytes), payload and FCS; control
// characters, 0x7d and 0x7e are escaped as with the default async map.
func hdlc(acfc bool, proto, payload []byte) []byte {
	var d []byte
	if !acfc {
		d = append(d, 0xff, 0x03)
	}
	d = append(append(d, proto...), payload...)
	f := fcs16(d)
	d = append(d, byte(f), byte(f>>8))
	var out []byte
	for _, c := range d {
		if c < 0x20 || c == pppFlag || c == pppEscape {
			out = append(out, pppEscape, c^0x20)
			continue
		}
		out = append(out, c)
	}
	return out
}

var (
	lcpConfReq  = hdlc(false, []byte{0xc0, 0x21}, []byte{1, 1, 0, 10, 2, 6, 0, 0, 0, 0})
	lcpEchoReq  = hdlc(false, []byte{0xc0, 0x21}, []byte{9, 7, 0, 8, 0x7e, 0x7d, 0x12, 0x34})
	lcpTermReqF = hdlc(false, []byte{0xc0, 0x21}, []byte{5, 3, 0, 4})
	lcpTermAckF = hdlc(false, []byte{0xc0, 0x21}, []byte{6, 3, 0, 4})
	ipcpConfReq = hdlc(false, []byte{0x80, 0x21}, []byte{1, 1, 0, 10, 3, 6, 10, 0, 0, 1})
	ipv6cp      = hdlc(true, []byte{0x80, 0x57}, []byte{1, 2, 0, 4})
	ipv4Full    = hdlc(false, []byte{0x00, 0x21}, []byte{0x45, 0, 0, 20, 0, 0, 0x40, 0, 64, 1, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2})
	ipv4ACPFC   = hdlc(true, []byte{0x21}, []byte{0x45, 0, 0, 20, 0x7e, 0x7d, 0, 0, 64, 17, 0, 0, 10, 0, 0, 2, 10, 0, 0, 1})
	ipv6PFC     = hdlc(false, []byte{0x57}, []byte{0x60, 0, 0, 0, 0, 0, 58, 64})
	ipv6Full    = hdlc(true, []byte{0x00, 0x57}, []byte{0x60, 0, 0, 0, 0, 0, 17, 64})
	// 0x21 sent escaped ("7d 01") is still IPv4.
	ipv4Escaped = []byte{0xff, 0x7d, 0x23, 0x7d, 0x01, 0x45, 0x00, 0x11, 0x22}
)

func TestDecodeFrame(t *testing.T) {
	tests := []struct {
		name  string
		raw   []byte
		proto uint16
		code  byte
	}{
		{"LCP Configure-Request", lcpConfReq, protoLCP, 1},
		{"LCP Echo-Request with escapes", lcpEchoReq, protoLCP, 9},
		{"LCP Terminate-Request", lcpTermReqF, protoLCP, lcpTermReq},
		{"LCP Terminate-Ack", lcpTermAckF, protoLCP, lcpTermAck},
		{"IPCP", ipcpConfReq, 0x8021, 1},
		{"IPV6CP without address/control", ipv6cp, 0x8057, 1},
		{"IPv4", ipv4Full, protoIPv4, 0x45},
		{"IPv4 ACFC+PFC", ipv4ACPFC, protoIPv4, 0x45},
		{"IPv6 PFC", ipv6PFC, protoIPv6, 0x60},
		{"IPv6 ACFC", ipv6Full, protoIPv6, 0x60},
		{"IPv4 escaped protocol", ipv4Escaped, protoIPv4, 0x45},
	}
	for _, tt := range tests {
		info, ok := decodeFrame(tt.raw)
		if !ok || info.proto != tt.proto || info.code != tt.code {
			t.Errorf("%s: got %#04x/%d ok=%v, want %#04x/%d", tt.name, info.proto, info.code, ok, tt.proto, tt.code)
		}
	}
	for _, junk := range [][]byte{nil, {0xff}, {0xff, 0x03}, {0x7d}, {0xff, 0x03, 0xc0}, {0x21}} {
		if info, ok := decodeFrame(junk); ok {
			t.Errorf("decodeFrame(% x) = %+v, want not a frame", junk, info)
		}
	}
}

// TestBlackholeFilter feeds streams of real frames in chunks of every size
// and checks that IP frames vanish and everything else passes byte-exact.
func TestBlackholeFilter(t *testing.T) {
	frames := []struct {
		raw  []byte
		drop bool
	}{
		{lcpConfReq, false}, {ipv4Full, true}, {lcpEchoReq, false}, {ipv4ACPFC, true},
		{ipcpConfReq, false}, {ipv6PFC, true}, {ipv6cp, false}, {ipv6Full, true},
		{ipv4Escaped, true}, {lcpTermReqF, false},
	}
	var in, want, all []byte
	in = append(in, pppFlag)
	want = append(want, pppFlag)
	for i, f := range frames {
		in = append(append(in, f.raw...), pppFlag)
		if !f.drop {
			want = append(want, f.raw...)
		}
		want = append(want, pppFlag)
		if i == 4 { // a frame with its own opening flag, as after idle
			in = append(in, pppFlag)
			want = append(want, pppFlag)
		}
	}
	all = in
	for _, size := range []int{1, 2, 3, 7, 64, len(in)} {
		t.Run(fmt.Sprint("chunk", size), func(t *testing.T) {
			var s pppScanner
			var got []byte
			var n int
			for i := 0; i < len(in); i += size {
				out, fr := s.scan(in[i:min(i+size, len(in))], true)
				got = append(got, out...)
				n += len(fr)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("filtered\n got % x\nwant % x", got, want)
			}
			if n != len(frames) {
				t.Errorf("saw %d frames, want %d", n, len(frames))
			}
			var o pppScanner
			got = got[:0]
			for i := 0; i < len(all); i += size {
				out, _ := o.scan(all[i:min(i+size, len(all))], false)
				got = append(got, out...)
			}
			if !bytes.Equal(got, all) {
				t.Errorf("unfiltered stream changed")
			}
		})
	}
}

// TestScannerFilterToggle switches the filter on and off mid-frame: no byte
// may be lost or duplicated for frames that are kept.
func TestScannerFilterToggle(t *testing.T) {
	in := append(append([]byte{pppFlag}, lcpEchoReq...), pppFlag)
	for cut := 1; cut < len(in); cut++ {
		for _, first := range []bool{false, true} {
			var s pppScanner
			a, _ := s.scan(in[:cut], first)
			b, _ := s.scan(in[cut:], !first)
			if got := append(a, b...); !bytes.Equal(got, in) {
				t.Fatalf("cut %d filter %v->%v: got % x want % x", cut, first, !first, got, in)
			}
		}
	}
}

func TestScannerBoundsMemory(t *testing.T) {
	var s pppScanner
	big := bytes.Repeat([]byte{0x41}, 3*maxFrame)
	out, _ := s.scan(append([]byte{pppFlag}, big...), true)
	out2, _ := s.scan([]byte{pppFlag}, true)
	if len(s.raw) > maxFrame || len(out)+len(out2) != len(big)+2 {
		t.Errorf("oversized frame: held %d, forwarded %d of %d", len(s.raw), len(out)+len(out2), len(big)+2)
	}
}

// The Terminate-Request and -Ack sent to the carrier when a call ends must
// be frames a real pppd accepts: the FCS over the unescaped body plus FCS is
// the RFC 1662 "good FCS" 0xf0b8, and the scanner decodes them as LCP codes
// 5 and 6.
func TestLCPTerminateFrames(t *testing.T) {
	checkLCPFrame(t, lcpTerminateRequest, 5)
	checkLCPFrame(t, lcpTerminateAck, 6)
}

func checkLCPFrame(t *testing.T, f []byte, code byte) {
	t.Helper()
	if f[0] != 0x7e || f[len(f)-1] != 0x7e {
		t.Fatalf("not flagged: % x", f)
	}
	var body []byte
	for i := 1; i < len(f)-1; i++ {
		if f[i] == 0x7d {
			i++
			body = append(body, f[i]^0x20)
			continue
		}
		body = append(body, f[i])
	}
	fcs := uint16(0xffff)
	for _, b := range body {
		fcs ^= uint16(b)
		for range 8 {
			if fcs&1 != 0 {
				fcs = fcs>>1 ^ 0x8408
			} else {
				fcs >>= 1
			}
		}
	}
	if fcs != 0xf0b8 {
		t.Fatalf("bad FCS: residue %#04x over % x", fcs, body)
	}
	info, ok := decodeFrame(body)
	if !ok || info.proto != 0xc021 || info.code != code {
		t.Fatalf("decoded %+v ok=%v, want LCP code %d", info, ok, code)
	}
}
